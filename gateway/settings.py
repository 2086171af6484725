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
    # Hardening (issue 4): rate limits as "N/period" strings ("" = off), origins, proxies.
    rate_limit_enabled: bool = True
    rate_limit_storage: str = "memory://"
    rate_limit_auth_per_address: str = "20/minute"
    rate_limit_auth_per_client: str = "10/minute"
    rate_limit_expensive_per_address: str = "120/minute"
    rate_limit_expensive_per_client: str = "60/minute"
    trusted_proxies: tuple[str, ...] = ()
    cors_allow_origins: tuple[str, ...] = ()
    hsts_max_age: int = 0
    # Public catalog reads kept this long in the process (gateway.read_cache); 0 keeps nothing.
    read_cache_ttl: float = 1.0

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
            rate_limit_enabled=_flag(raw.get("RATE_LIMIT_ENABLED"), default.rate_limit_enabled),
            rate_limit_storage=str(raw.get("RATE_LIMIT_STORAGE") or default.rate_limit_storage),
            rate_limit_auth_per_address=_text(raw, "RATE_LIMIT_AUTH_PER_ADDRESS",
                                              default.rate_limit_auth_per_address),
            rate_limit_auth_per_client=_text(raw, "RATE_LIMIT_AUTH_PER_CLIENT",
                                             default.rate_limit_auth_per_client),
            rate_limit_expensive_per_address=_text(raw, "RATE_LIMIT_EXPENSIVE_PER_ADDRESS",
                                                   default.rate_limit_expensive_per_address),
            rate_limit_expensive_per_client=_text(raw, "RATE_LIMIT_EXPENSIVE_PER_CLIENT",
                                                  default.rate_limit_expensive_per_client),
            trusted_proxies=_items(raw.get("TRUSTED_PROXIES")),
            cors_allow_origins=tuple(origin.rstrip("/") for origin in _items(raw.get("CORS_ALLOW_ORIGINS"))),
            hsts_max_age=int(raw.get("HSTS_MAX_AGE") or 0),
            read_cache_ttl=_seconds(raw.get("READ_CACHE_TTL"), default.read_cache_ttl),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Settings:
        """Read ``config/gateway.yaml`` (or ``path``), substituting the environment."""
        return cls.from_mapping(load_config(path or config_path("gateway")))


def _flag(value: Any, default: bool) -> bool:
    """A YAML boolean, or the usual words for one when it arrives as text."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    words = {"true": True, "1": True, "yes": True, "on": True,
             "false": False, "0": False, "no": False, "off": False}
    try:
        return words[str(value).strip().lower()]
    except KeyError:
        raise ValueError(f"{value!r} is not true or false") from None


def _seconds(value: Any, default: float) -> float:
    """A duration in seconds where 0 is a value (off), unlike a missing key."""
    return default if value is None or value == "" else float(value)


def _text(raw: dict[str, Any], key: str, default: str) -> str:
    """A string setting where an explicit empty value means "off", unlike a missing key."""
    value = raw.get(key)
    return default if value is None else str(value)


def _items(value: Any) -> tuple[str, ...]:
    """A comma-separated list (or a YAML list) without blanks."""
    parts = value if isinstance(value, list) else str(value or "").split(",")
    return tuple(str(part).strip() for part in parts if str(part).strip())
