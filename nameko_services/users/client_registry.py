"""Registering, listing and disabling OAuth clients (behind ``shopctl``)."""
from __future__ import annotations

import secrets
from datetime import UTC, datetime

from nameko_services.common.errors import ClientNotFound
from nameko_services.users import clients
from nameko_services.users.clients import Client
from nameko_services.users.passwords import hash_password
from nameko_services.users.ports import UnitOfWork


def register_client(uow: UnitOfWork, name: str, type_: str, redirect_uris: list[str],
                    grant_types: list[str], scopes: list[str]) -> tuple[Client, str | None]:
    """Register a client; a confidential one gets a secret, returned here once and stored hashed."""
    secret = secrets.token_urlsafe(32) if type_ == "confidential" else None
    # Hex: safe in Basic credentials, URLs and on a command line (never starts with "-").
    client = clients.new_client(secrets.token_hex(16), name, type_,
                                hash_password(secret) if secret else None,
                                redirect_uris, grant_types, scopes)
    with uow:
        uow.clients.add(client)
        uow.commit()
        return uow.clients.get(client.client_id) or client, secret


def list_clients(uow: UnitOfWork) -> list[Client]:
    """Every registered client, oldest first; the first-party one is made sure of first."""
    with uow:
        uow.clients.ensure(clients.first_party())
        uow.commit()
        return uow.clients.all()


def disable_client(uow: UnitOfWork, client_id: str) -> None:
    """A disabled client authenticates no more, so its codes and refresh tokens are useless too."""
    with uow:
        if not uow.clients.disable(client_id, datetime.now(UTC)):
            raise ClientNotFound(details={"client_id": client_id})
        uow.commit()
