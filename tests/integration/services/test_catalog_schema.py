"""The catalog migration builds exactly the tables the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine

from nameko_services.catalog.models import Base


def test_the_migrated_catalog_tables_match_the_models(core_db_url):
    catalog_tables = set(Base.metadata.tables)

    def only_catalog(obj, name, type_, reflected, compare_to):
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return table is None or table.name in catalog_tables

    engine = create_engine(core_db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "include_object": only_catalog, "compare_type": True, "compare_server_default": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
