"""Prepare what the processes share: databases at head, signing keys, the first admin."""
from __future__ import annotations

from collections.abc import Callable, Iterable

from nameko_services.common import migrate
from nameko_services.common.dbadmin import create_database
from nameko_services.ops.endpoints import redact

Say = Callable[[str], None]


def prepare_databases(databases: Iterable[str], say: Say) -> None:
    """Create each database if missing and migrate it to head."""
    for database in databases:
        url = migrate.database_url(database)
        created = create_database(url)
        say(f"database {database} ({redact(url)}): {'created' if created else 'exists'}, migrating")
        migrate.upgrade(database, url)


def create_admin(email: str, password: str) -> str:
    """Make sure an admin with ``email`` exists in the core database; return its id."""
    # Imported here: only this command needs the users service's code.
    from nameko_services.users.admin import ensure_admin

    return ensure_admin(migrate.database_url("core"), email, password)
