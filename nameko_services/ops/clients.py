"""OAuth client registration for `shopctl` (straight in the core database, no broker needed)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from nameko_services.common import migrate
from nameko_services.common.db import make_engine
from nameko_services.users import client_registry
from nameko_services.users.clients import Client
from nameko_services.users.repository import SqlUnitOfWork

T = TypeVar("T")


@contextmanager
def _unit_of_work(database_url: str | None) -> Iterator[SqlUnitOfWork]:
    engine = make_engine(database_url or migrate.database_url("core"), pool_size=1)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield SqlUnitOfWork(session)
    finally:
        engine.dispose()


def _run(database_url: str | None, use_case: Callable[[SqlUnitOfWork], T]) -> T:
    with _unit_of_work(database_url) as uow:
        return use_case(uow)


def describe(client: Client) -> dict[str, Any]:
    """A client as shopctl shows it (never the secret hash)."""
    return {"client_id": client.client_id, "name": client.name, "type": client.type,
            "redirect_uris": list(client.redirect_uris), "grant_types": list(client.grant_types),
            "scopes": list(client.scopes),
            "created_at": client.created_at.astimezone(UTC).isoformat() if client.created_at else None,
            "disabled": not client.is_active}


def register_client(name: str, type_: str, redirect_uris: list[str], grant_types: list[str],
                    scopes: list[str], database_url: str | None = None) -> tuple[dict[str, Any], str | None]:
    """Register a client; returns it and its secret (confidential clients only; shown this once)."""
    client, secret = _run(database_url, lambda uow: client_registry.register_client(
        uow, name, type_, redirect_uris, grant_types, scopes))
    return describe(client), secret


def list_clients(database_url: str | None = None) -> list[dict[str, Any]]:
    """Every registered client, oldest first."""
    return [describe(c) for c in _run(database_url, client_registry.list_clients)]


def disable_client(client_id: str, database_url: str | None = None) -> None:
    """Disable a client: it gets no more tokens and its refresh tokens stop working."""
    _run(database_url, lambda uow: client_registry.disable_client(uow, client_id))


def table(clients: list[dict[str, Any]]) -> str:
    """One line per client for the terminal."""
    return "\n".join(
        f"{c['client_id']}  {c['type']:<12}  {'disabled' if c['disabled'] else 'active':<8}  "
        f"grants={','.join(c['grant_types'])}  scopes={','.join(c['scopes']) or '-'}  "
        f"redirect_uris={','.join(c['redirect_uris']) or '-'}  {c['name']}"
        for c in clients)
