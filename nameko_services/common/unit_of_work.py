"""The unit of work every service's use cases run in: one transaction, committed or rolled back.

- ``UnitOfWork``: what a use case may do with it (enter, commit, leave: what was not committed
  is rolled back); a service's ``ports.UnitOfWork`` adds its repositories.
- ``EventUnitOfWork``: a saga participant's, which also records the events it handles
  (``first_delivery``) and queues what it announces (``outbox``).
- ``SqlUnitOfWork`` / ``SqlEventUnitOfWork``: the same over one SQLAlchemy session; a service's
  ``repository.SqlUnitOfWork`` extends one with its repositories and, if it has any, the
  translation of its constraint violations into errors (``translate``).

Each ``with uow:`` block is a span when tracing (``transaction <database>``, with how it ended):
the time a use case holds its transaction, and its locks, shows in the trace.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import ClassVar, Protocol, Self

from opentelemetry.trace import Span
from sqlalchemy import Table
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nameko_services.common.idempotency import first_delivery
from nameko_services.common.outbox import Outbox, SessionOutbox
from nameko_services.common.spans import transaction_span

AFTER_COMMIT = "shop_after_commit"


def after_commit(session: Session, callback: Callable[[], None]) -> None:
    """Run ``callback`` once the unit of work commits this session's transaction (never if it
    rolls back): for what must only count what happened, such as metrics."""
    session.info.setdefault(AFTER_COMMIT, []).append(callback)


class UnitOfWork(Protocol):
    def __enter__(self) -> Self: ...
    def __exit__(self, exc_type: object, error: object, traceback: object) -> None:
        """Roll back whatever was not committed."""
    def commit(self) -> None: ...


class EventUnitOfWork(UnitOfWork, Protocol):
    @property
    def outbox(self) -> Outbox: ...

    def first_delivery(self, event_id: str, handler: str) -> bool:
        """Record that ``handler`` applies event ``event_id``; False if it already did."""


class SqlUnitOfWork:
    """Repositories over one session; leaving the block rolls back what was not committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._blocks: list[tuple[ExitStack, Span | None]] = []  # each open block's span, innermost last

    def __enter__(self) -> Self:
        block = ExitStack()
        self._blocks.append((block, block.enter_context(transaction_span(self.session))))
        return self

    def __exit__(self, exc_type: object, error: object, traceback: object) -> None:
        with self._blocks.pop()[0]:  # the span ends once rolled back
            self.session.rollback()
            self.session.info.pop(AFTER_COMMIT, None)
            translated = self.translate(error) if isinstance(error, IntegrityError) else None
            if translated is not None:
                raise translated from None

    def commit(self) -> None:
        try:
            self.session.commit()
        except IntegrityError as error:
            self.session.rollback()
            self.session.info.pop(AFTER_COMMIT, None)
            translated = self.translate(error)
            if translated is None:
                raise
            raise translated from None
        span = self._blocks[-1][1] if self._blocks else None
        if span is not None:
            span.set_attribute("shop.transaction", "committed")
        for callback in self.session.info.pop(AFTER_COMMIT, []):
            callback()

    def translate(self, error: IntegrityError) -> Exception | None:
        """The error a caller should see when the database, not the code, caught a violation;
        None: the ``IntegrityError`` itself (a bug)."""
        return None


class SqlEventUnitOfWork(SqlUnitOfWork):
    """A saga participant's: its ``outbox`` and ``processed_events`` tables in the same session.

    What a block queued in the outbox is handed to the process's relay once it commits
    (``after_commit``), and forgotten when it leaves uncommitted: a retried block starts with nothing.
    """

    outbox_table: ClassVar[Table]
    processed_events: ClassVar[Table]

    def __init__(self, session: Session, correlation_id: str | None = None) -> None:
        super().__init__(session)
        self.outbox = SessionOutbox(session, self.outbox_table, correlation_id,
                                    lambda callback: after_commit(session, callback))

    def first_delivery(self, event_id: str, handler: str) -> bool:
        return first_delivery(self.session, self.processed_events, event_id, handler)
