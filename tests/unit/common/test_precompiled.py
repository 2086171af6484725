"""Precompiled statements: the SQL SQLAlchemy writes, fixed values, bind processors (no database)."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from nameko_services.common.precompiled import binds, compiled_once, precompile

things = Table("things", MetaData(),
               Column("id", UUID(as_uuid=False), primary_key=True),
               Column("name", String(50)),
               Column("doc", JSONB),
               Column("seq", BigInteger))


def test_the_sql_is_what_sqlalchemy_compiles_for_psycopg2():
    statement = insert(things).values(**binds("id", "name", "doc"))
    precompiled = precompile(statement)
    assert precompiled.sql == str(statement.compile(dialect=postgresql.psycopg2.dialect()))
    assert precompiled.sql == ("INSERT INTO things (id, name, doc) "
                               "VALUES (%(id)s::UUID, %(name)s, %(doc)s::JSONB)")
    assert precompiled.names == {"id", "name", "doc"}


def test_a_jsonb_value_goes_through_the_column_s_processor_and_others_pass_as_they_are():
    precompiled = precompile(insert(things).values(**binds("id", "name", "doc")))
    at = datetime(2026, 12, 2, tzinfo=UTC)
    assert precompiled.bind({"id": "7c0e", "name": at, "doc": {"b": [1, "é"]}}) == {
        "id": "7c0e", "name": at, "doc": '{"b": [1, "\\u00e9"]}'}


def test_literals_of_the_statement_are_fixed_values_a_run_need_not_give():
    precompiled = precompile(update(things).where(things.c.id == bindparam("id"))
                             .values(name=None).returning(func.pg_notify("things_changed", "")))
    assert sorted(precompiled.fixed.values(), key=str) == ["", None, "things_changed"]
    bound = precompiled.bind({"id": "7c0e"})
    assert bound["id"] == "7c0e" and None in bound.values() and "things_changed" in bound.values()


def test_a_missing_or_unknown_parameter_is_refused_before_the_database_sees_it():
    precompiled = precompile(select(things.c.name).where(things.c.id == bindparam("id")))
    with pytest.raises(KeyError, match=r"without a value: \['id'\]"):
        precompiled.bind({})
    with pytest.raises(KeyError, match=r"not parameters of the statement: \['nmae'\]"):
        precompiled.bind({"id": "7c0e", "nmae": "x"})


def test_an_expanding_in_cannot_be_precompiled_but_any_of_an_array_can():
    with pytest.raises(ValueError, match="ANY"):
        precompile(select(things.c.id).where(things.c.seq.in_([1, 2])))
    precompiled = precompile(select(things.c.id).where(
        things.c.seq == any_(bindparam("seqs", type_=ARRAY(BigInteger)))))
    assert "= ANY (%(seqs)s::BIGINT[])" in precompiled.sql
    assert precompiled.bind({"seqs": [1, 2]}) == {"seqs": [1, 2]}


def test_compiled_once_builds_each_statement_once_per_arguments():
    built = []

    @compiled_once
    def named(table, name):
        built.append((table.name, name))
        return select(table.c[name])

    assert named(things, "name") is named(things, "name")
    assert named(things, "doc").sql == "SELECT things.doc \nFROM things"
    assert built == [("things", "name"), ("things", "doc")]
