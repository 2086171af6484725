"""Load nameko-style YAML config (``${VAR:default}``) outside ``nameko run``."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

ENV_VAR = re.compile(r"\$\{([^}:\s]+)(?::([^}]*))?\}")


def expand(value: str) -> Any:
    """Replace ``${VAR:default}`` with the environment's value, then parse it as YAML."""
    if not ENV_VAR.search(value):
        return value
    expanded = ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(2) or ""), value)
    # nameko parses the substituted text as YAML too, so "10" becomes 10.
    return yaml.safe_load(expanded) if expanded != "" else ""


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        return {key: _walk(val) for key, val in node.items()}
    if isinstance(node, list):
        return [_walk(item) for item in node]
    if isinstance(node, str):
        return expand(node)
    return node


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file, substituting environment variables."""
    with open(path) as handle:
        return _walk(yaml.safe_load(handle) or {})


def config_path(name: str) -> Path:
    """Path of ``config/<name>.yaml`` (``SHOP_CONFIG_DIR`` moves the folder)."""
    return Path(os.environ.get("SHOP_CONFIG_DIR", "config")) / f"{name}.yaml"
