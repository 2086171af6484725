"""Which services the platform has and who may do what: ``config/services.yaml``, not code.

Read once per process, the first time it is asked for: ``$SHOP_CONFIG_DIR/services.yaml`` when
that variable is set, else the ``config/`` folder beside this package (the checkout's, the
image's /app/config, a pod's mounted ConfigMap). Its ``${VAR:default}`` values make each list
settable from the environment too. A name that is not a service name, or a capability held by a
service nobody trusts, stops the process at start-up instead of trusting by accident.
"""
from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nameko_services.common.config import load_config

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "config"
SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")


class ServiceMapError(ValueError):
    """config/services.yaml says something no process may run with."""


@dataclass(frozen=True)
class ServiceMap:
    trusted_services: tuple[str, ...]
    capabilities: Mapping[str, frozenset[str]]
    health_probes: Mapping[str, str]


def services_file() -> Path:
    """Where this process reads the map from."""
    folder = os.environ.get("SHOP_CONFIG_DIR")
    return (Path(folder) if folder else DEFAULT_DIR) / "services.yaml"


def _names(value: Any, what: str) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ServiceMapError(f"{what}: a list of service names, not {value!r}")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    bad = [name for name in names if not SERVICE_NAME.fullmatch(name)]
    if bad:
        raise ServiceMapError(f"{what}: not service names: {bad}")
    return names


def parse(document: Mapping[str, Any]) -> ServiceMap:
    """The map a loaded services.yaml describes (``ServiceMapError`` when it is not one)."""
    trusted = _names(document.get("trusted_services"), "trusted_services")
    capabilities = {str(capability): frozenset(_names(holders, f"capabilities.{capability}"))
                    for capability, holders in (document.get("capabilities") or {}).items()}
    for capability, holders in capabilities.items():
        if not holders <= set(trusted):
            raise ServiceMapError(f"capabilities.{capability}: {sorted(holders - set(trusted))} "
                                  "are not trusted services")
    probes = document.get("health_probes") or {}
    if not isinstance(probes, dict):
        raise ServiceMapError("health_probes: a mapping of service to RPC method")
    return ServiceMap(trusted, capabilities, {str(k): str(v) for k, v in probes.items()})


@functools.cache
def service_map() -> ServiceMap:
    """This process's map, read once."""
    return parse(load_config(services_file()))
