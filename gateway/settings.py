"""Gateway settings, read from ``config/gateway.yaml`` (every value from the environment)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nameko_services.common.config import config_path, load_config


@dataclass(frozen=True)
class Settings:
    """Everything the gateway process is configured with."""

    amqp_uri: str = "amqp://guest:guest@127.0.0.1:5672/"
    rpc_timeout: float = 10.0
    ready_timeout: float = 2.0
    token_issuer: str = "http://127.0.0.1:8000"
    token_audience: str = "nameko-shop"
    max_body_bytes: int = 1_048_576
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    sentry_dsn: str = ""

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> Settings:
        """Build settings from the loaded YAML (keys as in ``config/gateway.yaml``)."""
        default = cls()
        return cls(
            amqp_uri=str(raw.get("AMQP_URI") or default.amqp_uri),
            rpc_timeout=float(raw.get("RPC_TIMEOUT") or default.rpc_timeout),
            ready_timeout=float(raw.get("READY_TIMEOUT") or default.ready_timeout),
            token_issuer=str(raw.get("TOKEN_ISSUER") or default.token_issuer),
            token_audience=str(raw.get("TOKEN_AUDIENCE") or default.token_audience),
            max_body_bytes=int(raw.get("MAX_BODY_BYTES") or default.max_body_bytes),
            host=str(raw.get("HOST") or default.host),
            port=int(raw.get("PORT") or default.port),
            log_level=str(raw.get("LOG_LEVEL") or default.log_level),
            sentry_dsn=str(raw.get("SENTRY_DSN") or ""),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Read ``config/gateway.yaml`` (or ``path``), substituting the environment."""
        return cls.from_mapping(load_config(path or config_path("gateway")))
