"""The users migration builds exactly the tables the models describe, constraints included."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from nameko_services.users.models import Base


def test_the_migrated_users_tables_match_the_models(core_db_url):
    users_tables = set(Base.metadata.tables)

    def only_users(obj, name, type_, reflected, compare_to):
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in users_tables

    engine = create_engine(core_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_object": only_users, "compare_type": True, "compare_server_default": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_emails_are_unique_case_insensitively_in_the_database_itself(core_db):
    insert = text("INSERT INTO users (id, email, name, password_hash, roles) "
                  "VALUES (gen_random_uuid(), :email, 'A', 'x', ARRAY['customer'])")
    with core_db.begin() as conn:
        conn.execute(insert, {"email": "ada@example.com"})
    with pytest.raises(IntegrityError, match="uq_users_email_lower"), core_db.begin() as conn:
        conn.execute(insert, {"email": "ADA@example.com"})
