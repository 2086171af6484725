"""Precompiled statements against the real PostgreSQL: the same rows, errors and hooks as Core."""
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    event,
    insert,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from nameko_services.common.engine import create_engine
from nameko_services.common.precompiled import binds, precompile
from tests.integration.services.scratch_database import scratch_engine


class Base(DeclarativeBase):
    metadata = MetaData()


class Note(Base):
    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    text: Mapped[str] = mapped_column(String(50))


things = Table("things", Base.metadata,
               Column("seq", BigInteger, primary_key=True, autoincrement=True),
               Column("id", UUID(as_uuid=False), nullable=False, unique=True),
               Column("doc", JSONB, nullable=False),
               Column("at", DateTime(timezone=True), nullable=False))
ADD = precompile(insert(things).values(**binds("id", "doc", "at")))
FIND = precompile(select(things.c.id, things.c.doc, things.c.at).where(things.c.id == bindparam("id")))


@pytest.fixture(scope="module")
def engine():
    with scratch_engine("precompiled", Base.metadata) as made:
        yield made


def test_rows_written_precompiled_read_back_as_core_reads_them(engine):
    thing, at = str(uuid.uuid4()), datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    doc = {"items": [{"product_id": str(uuid.uuid4()), "quantity": 2}], "note": "ünïcode"}
    with Session(engine) as session, session.begin():
        ADD.execute(session, {"id": thing, "doc": doc, "at": at})
    with Session(engine) as session:
        core = session.execute(select(things.c.id, things.c.doc, things.c.at)
                               .where(things.c.id == thing)).one()
        precompiled = FIND.execute(session, {"id": thing}).one()
    assert tuple(core) == (thing, doc, at)
    assert (str(precompiled.id), precompiled.doc, precompiled.at) == (thing, doc, at)


def test_many_rows_go_in_one_executemany(engine):
    ids = [str(uuid.uuid4()) for _ in range(3)]
    at = datetime.now(UTC)
    with Session(engine) as session, session.begin():
        ADD.execute(session, [{"id": id_, "doc": {"n": n}, "at": at} for n, id_ in enumerate(ids)])
    with Session(engine) as session:
        found = session.execute(select(things.c.doc).where(things.c.id.in_(ids))).scalars().all()
    assert sorted(doc["n"] for doc in found) == [0, 1, 2]


def test_a_violated_constraint_is_sqlalchemy_s_integrity_error_without_its_values(engine):
    thing = str(uuid.uuid4())
    platform_engine = create_engine(engine.url.render_as_string(hide_password=False))  # hides values
    with Session(platform_engine) as session, session.begin():
        ADD.execute(session, {"id": thing, "doc": {}, "at": datetime.now(UTC)})
    with Session(platform_engine) as session, pytest.raises(IntegrityError) as raised:
        ADD.execute(session, {"id": thing, "doc": {"secret": "tok_visa"}, "at": datetime.now(UTC)})
    platform_engine.dispose()
    assert "uq_things_id" in str(raised.value) or "things_id_key" in str(raised.value)
    assert "tok_visa" not in str(raised.value)


def test_the_session_s_pending_orm_rows_are_flushed_first_and_both_commit_together(engine):
    thing = str(uuid.uuid4())
    with Session(engine) as session, session.begin():
        session.add(Note(id=1, text="pending"))
        ADD.execute(session, {"id": thing, "doc": {}, "at": datetime.now(UTC)})
        assert not session.new  # flushed before the statement, as session.execute does
        session.rollback()
    with Session(engine) as session:
        assert session.get(Note, 1) is None
        assert FIND.execute(session, {"id": thing}).first() is None


def test_cursor_hooks_see_each_statement_so_statement_spans_stay(engine):
    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        with Session(engine) as session:
            FIND.execute(session, {"id": str(uuid.uuid4())}).first()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    assert FIND.sql in seen
