"""Where the sandbox processor keeps its provider-side records: PostgreSQL, or a dict in unit tests.

A processor remembers its payments and the idempotency keys it has answered whatever happens
to the shop, so the sandbox keeps them in the payments database: ``sandbox_payments`` (one row
per provider payment) and ``sandbox_idempotency_keys`` (every key seen, how often, and the
answer given). Two tables, not one: some answers have no payment to live on (a declined card,
a capture of an unknown id). They are the sandbox's, not the payments model's, hence their own
``sandbox_metadata``, which the payments migrations target beside the service's.

Each sandbox call is one ``transaction()``: ``claim`` the key (which serialises calls with the
same key), read and change payments, ``remember`` the answer; all of it or none.
"""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    String,
    Table,
    bindparam,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import InterfaceError, OperationalError

from nameko_services.common.db import new_metadata
from nameko_services.common.precompiled import binds, precompile
from nameko_services.payments.gateways.base import TransientGatewayError

Answer = dict[str, Any]  # {"result": str | None} or {"error": {"kind", "code", "message"}}

sandbox_metadata = new_metadata()

sandbox_payments = Table(
    "sandbox_payments", sandbox_metadata,
    Column("id", String(64), primary_key=True),  # the provider payment id, sbx_pi_...
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("card_token", String(100), nullable=False),
    Column("status", String(20), nullable=False),
    Column("captured_amount", BigInteger, nullable=False),
    Column("refunded_amount", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("captured_amount >= 0 AND captured_amount <= amount", name="capture_within_amount"),
    CheckConstraint("refunded_amount >= 0 AND refunded_amount <= captured_amount",
                    name="refund_within_capture"),
    CheckConstraint("status IN ('requires_capture', 'succeeded', 'canceled', 'requires_action', "
                    "'challenge_failed')", name="status_known"),
)

sandbox_idempotency_keys = Table(
    "sandbox_idempotency_keys", sandbox_metadata,
    Column("key", String(255), primary_key=True),
    Column("calls", Integer, nullable=False),  # calls made with the key, transient failures included
    Column("answer", JSONB, nullable=True),  # NULL until a call ends other than transiently
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)


@dataclass
class SandboxPayment:
    """One payment held by the sandbox (its fields are the columns of ``sandbox_payments``)."""

    id: str
    amount: int
    currency: str
    card_token: str
    # requires_capture -> succeeded (captured) | canceled (voided); a 3-D Secure card starts
    # requires_action -> requires_capture (challenge passed) | challenge_failed | canceled
    status: str = "requires_capture"
    captured_amount: int = 0
    refunded_amount: int = 0


FIELDS = dataclasses.fields(SandboxPayment)

# Every sandbox call runs these; compiled once (common.precompiled).
_keys, _payments = sandbox_idempotency_keys, sandbox_payments
_claim = insert(_keys).values(key=bindparam("key"), calls=1, created_at=bindparam("now"),
                              updated_at=bindparam("now"))
CLAIM_KEY = precompile(_claim.on_conflict_do_update(
    index_elements=[_keys.c.key], set_={"calls": _keys.c.calls + 1, "updated_at": _claim.excluded.updated_at})
    .returning(_keys.c.calls, _keys.c.answer))
REMEMBER_ANSWER = precompile(update(_keys).where(_keys.c.key == bindparam("key"))
                             .values(answer=bindparam("answer"), updated_at=bindparam("now")))
LOCK_PAYMENT = precompile(select(*(_payments.c[f.name] for f in FIELDS))
                          .where(_payments.c.id == bindparam("id")).with_for_update())
_save = insert(_payments).values(**binds(*(f.name for f in FIELDS)), created_at=bindparam("now"),
                                 updated_at=bindparam("now"))
SAVE_PAYMENT = precompile(_save.on_conflict_do_update(
    index_elements=[_payments.c.id], set_={name: _save.excluded[name] for name in
                                           ("status", "captured_amount", "refunded_amount", "updated_at")}))


class SandboxBook(Protocol):
    """The ledger inside one transaction."""

    def claim(self, key: str) -> tuple[int, Answer | None]:
        """Count a call with ``key``; return how many there were and the answer kept, if any."""
    def remember(self, key: str, answer: Answer) -> None: ...
    def payment(self, payment_id: str) -> SandboxPayment | None:
        """The payment, locked until the transaction ends."""
    def save(self, payment: SandboxPayment) -> None: ...


class SandboxLedger(Protocol):
    def transaction(self) -> AbstractContextManager[SandboxBook]:
        """A unit of the sandbox's own work: committed when the block ends, rolled back on error."""


def _now() -> datetime:
    return datetime.now(UTC)


class SqlSandboxLedger:
    """The ledger in the payments database, in transactions of its own.

    Never the caller's unit of work: a provider's writes are its own. Were they part of our
    transaction, a rollback after an authorisation (a crash before its result is recorded, a
    ``StreamConflict``) would make the sandbox forget the key, and the resumed call with the same
    key (processor.py) would authorise a second time: exactly what a real provider never does.
    There is no caller's transaction to join anyway: the processor calls between its own. The
    engine is the payments service's: a worker holds none of the pool's connections during a
    processor call, so sharing the pool keeps it at one connection per worker.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def transaction(self) -> Iterator[SandboxBook]:
        try:
            with self.engine.begin() as connection:
                yield SqlSandboxBook(connection)
        except (OperationalError, InterfaceError) as exc:  # lost connection, deadlock: an outage
            raise TransientGatewayError("processing_error", "The sandbox cannot reach its records.") \
                from exc


class SqlSandboxBook:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def claim(self, key: str) -> tuple[int, Answer | None]:
        # The upsert locks the key's row: a second call with the key waits for this one to end.
        row = CLAIM_KEY.execute(self.connection, {"key": key, "now": _now()}).one()
        return row.calls, row.answer

    def remember(self, key: str, answer: Answer) -> None:
        REMEMBER_ANSWER.execute(self.connection, {"key": key, "answer": answer, "now": _now()})

    def payment(self, payment_id: str) -> SandboxPayment | None:
        row = LOCK_PAYMENT.execute(self.connection, {"id": payment_id}).mappings().one_or_none()
        return None if row is None else SandboxPayment(**{f.name: row[f.name] for f in FIELDS})

    def save(self, payment: SandboxPayment) -> None:
        SAVE_PAYMENT.execute(self.connection, {**dataclasses.asdict(payment), "now": _now()})


class MemorySandboxLedger:
    """The ledger in this process (unit tests, no database): one lock, no rollback."""

    def __init__(self) -> None:
        self.payments: dict[str, SandboxPayment] = {}
        self.keys: dict[str, tuple[int, Answer | None]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[SandboxBook]:
        with self._lock:
            yield self

    def claim(self, key: str) -> tuple[int, Answer | None]:
        calls, answer = self.keys.get(key, (0, None))
        self.keys[key] = (calls + 1, answer)
        return calls + 1, answer

    def remember(self, key: str, answer: Answer) -> None:
        self.keys[key] = (self.keys[key][0], answer)

    def payment(self, payment_id: str) -> SandboxPayment | None:
        payment = self.payments.get(payment_id)
        return None if payment is None else dataclasses.replace(payment)

    def save(self, payment: SandboxPayment) -> None:
        self.payments[payment.id] = dataclasses.replace(payment)
