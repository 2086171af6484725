"""The one way the platform makes SQLAlchemy engines: statement parameters never reach a log.

By default a failed statement's exception carries its parameters ("[parameters: {...}]"), and
nameko logs a failed worker's exception and sends its text back to the caller, which logs it
too: password hashes, payment tokens and addresses would end up in the logs. With
``hide_parameters`` the message keeps the SQL and drops the values.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy
from sqlalchemy import Engine
from sqlalchemy.engine import URL


def create_engine(url: str | URL, **kwargs: Any) -> Engine:
    """``sqlalchemy.create_engine`` whose errors and logs never show statement parameters."""
    return sqlalchemy.create_engine(url, hide_parameters=True, **kwargs)
