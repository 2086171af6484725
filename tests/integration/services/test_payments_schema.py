"""The payments migrations build exactly the tables the models (the service's and the sandbox's) describe."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from nameko_services.common import schema_revisions
from nameko_services.payments.gateways.sandbox_ledger import sandbox_metadata
from nameko_services.payments.models import Base


def test_the_migrated_payments_tables_match_the_models(payments_db_url):
    engine = create_engine(payments_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_name": schema_revisions.not_bookkeeping, "compare_type": True,
                "compare_server_default": True})
            assert compare_metadata(context, [Base.metadata, sandbox_metadata]) == []
    finally:
        engine.dispose()
