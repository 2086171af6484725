"""Rebuild or check the projection tables (``orders``, ``payments``) from their event stores.

``shopctl rebuild-projections``. Each service database gets one transaction: snapshot the
projection, let the service's own ``projection.rebuild`` recompute it (it first locks the
table in EXCLUSIVE mode), snapshot again, then commit, or roll back when only checking.

Safe while the services run: the lock conflicts with the row locks and upserts every
writer takes, so writers wait until this transaction ends; readers keep seeing the old
rows meanwhile. A writer that appended events just before the lock cannot commit them
without its projection upsert, so they stay invisible here; and since its upsert writes
the whole row from the full stream, that writer's row is right once it goes on.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, pool, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from nameko_services.common import migrate
from nameko_services.common.engine import create_engine
from nameko_services.ops.endpoints import redact

Row = dict[str, Any]
SERVICES = ("orders", "payments")


class DatabaseUnreachable(RuntimeError):
    """A service database cannot be reached (server down, wrong URL or credentials)."""


@dataclass(frozen=True)
class Projection:
    """One projection table, the events it is made of and the function that remakes it."""

    service: str
    database: str
    table: Table
    events: Table
    rebuild: Callable[[Session], int]


def projection_of(service: str) -> Projection:
    """The projection of ``service`` (``orders`` or ``payments``)."""
    # Imported here: each service's code is only needed for the projection asked for.
    if service == "orders":
        from nameko_services.orders import projection as orders
        from nameko_services.orders.models import order_events

        return Projection("orders", "orders", orders.orders, order_events, orders.rebuild)
    if service == "payments":
        from nameko_services.payments import projection as payments
        from nameko_services.payments.models import payment_events

        return Projection("payments", "payments", payments.payments, payment_events, payments.rebuild)
    raise ValueError(f"no projection for service {service!r}; choose from {', '.join(SERVICES)}")


@dataclass(frozen=True)
class Difference:
    """One projection row that is not what its events say (``None`` side: the row is missing)."""

    row_id: str
    stored: Row | None
    rebuilt: Row | None

    @property
    def columns(self) -> list[str]:
        if self.stored is None or self.rebuilt is None:
            return []
        return sorted(name for name in self.rebuilt if self.stored.get(name) != self.rebuilt[name])

    def describe(self, limit: int = 60) -> str:
        if self.stored is None:
            return f"{self.row_id}: missing (its events make a row)"
        if self.rebuilt is None:
            return f"{self.row_id}: has no events (the row would be deleted)"
        changes = ", ".join(f"{name} {_short(self.stored.get(name), limit)} -> "
                            f"{_short(self.rebuilt[name], limit)}" for name in self.columns)
        return f"{self.row_id}: {changes}"


def _short(value: Any, limit: int) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def differences(stored: Sequence[Row], rebuilt: Sequence[Row], key: str = "id") -> list[Difference]:
    """Rows of ``stored`` and ``rebuilt`` that differ, are missing or are extra, by ``key``."""
    before = {str(row[key]): row for row in stored}
    after = {str(row[key]): row for row in rebuilt}
    return [Difference(row_id, before.get(row_id), after.get(row_id))
            for row_id in sorted(before.keys() | after.keys())
            if before.get(row_id) != after.get(row_id)]


@dataclass(frozen=True)
class Report:
    """What one rebuild (or check) found and did."""

    service: str
    streams: int
    events: int
    rows_written: int
    applied: bool
    differences: list[Difference] = field(default_factory=list)

    def summary(self) -> str:
        verb = "rebuilt" if self.applied else "checked (nothing changed)"
        differing = f"{len(self.differences)} row(s) differed" + (" and were fixed" if self.applied
                                                                   and self.differences else "")
        return (f"{self.service}: {verb}: {self.streams} stream(s), {self.events} event(s), "
                f"{self.rows_written} row(s) written; {differing}")


def _rows(session: Session, table: Table) -> list[Row]:
    return [dict(row) for row in session.execute(select(table)).mappings()]


def run(session: Session, projection: Projection, *, apply: bool) -> Report:
    """Rebuild ``projection`` in ``session``'s transaction; commit if ``apply``, else roll back."""
    try:
        # Lock before the snapshot (rebuild locks again: a no-op), so live writers cannot
        # change the rows between what is compared and what is rebuilt.
        session.execute(text(f'LOCK TABLE "{projection.table.name}" IN EXCLUSIVE MODE'))
        stored = _rows(session, projection.table)
        streams = projection.rebuild(session)
        events = session.scalar(select(func.count()).select_from(projection.events)) or 0
        rebuilt = _rows(session, projection.table)
        report = Report(projection.service, streams, int(events), len(rebuilt), apply,
                        differences(stored, rebuilt))
        if apply:
            session.commit()
        return report
    finally:
        session.rollback()  # a check, or a failure: nothing stays


def rebuild_projections(services: Sequence[str], *, apply: bool,
                        urls: Mapping[str, str] | None = None) -> list[Report]:
    """Rebuild (``apply``) or check each service's projection, one transaction per database.

    Database URLs come from ``urls`` (by database name), else from the services' configuration
    (``SHOP_ORDERS_DB_URL``, ``SHOP_PAYMENTS_DB_URL``).
    """
    reports = []
    for service in services:
        projection = projection_of(service)
        url = (urls or {}).get(projection.database) or migrate.database_url(projection.database)
        engine = create_engine(url, poolclass=pool.NullPool)
        try:
            with Session(engine) as session:
                reports.append(run(session, projection, apply=apply))
        except OperationalError as exc:
            raise DatabaseUnreachable(f"cannot use the {projection.database} database at {redact(url)}: "
                                      f"{str(exc.orig).strip()}") from exc
        finally:
            engine.dispose()
    return reports
