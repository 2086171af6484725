"""Expand/contract: code at its head starts on a database migrated past it by newer code, as long
as every later revision declares itself compatible; otherwise it refuses, naming the revision."""
import os
import shutil

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from nameko_services.common import migrate
from nameko_services.common.db import Database
from nameko_services.common.dbadmin import create_database, drop_database
from nameko_services.common.migrate import SchemaOutOfDate
from nameko_services.common.rpc import rpc

LATER = '''"""A later revision, written by newer code."""
import sqlalchemy as sa
from alembic import op

revision = {revision!r}
down_revision = {down!r}
branch_labels = None
depends_on = None
{declaration}


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''
EXPAND = dict(revision="orders_9001_expand", declaration="compatible_with_previous = True",
              upgrade='op.add_column("orders", sa.Column("gift_wrap", sa.Boolean, nullable=True))',
              downgrade='op.drop_column("orders", "gift_wrap")')
CONTRACT = dict(revision="orders_9002_contract", declaration="",
                upgrade='op.drop_column("orders", "note")',
                downgrade='op.add_column("orders", sa.Column("note", sa.String(500), nullable=True))')


class OldOrders:
    """A service at today's head of the orders migrations (the "old version" of a rollout)."""
    name = "orders"
    db = Database("orders")

    @rpc
    def count_orders(self):
        return self.db.execute(text("SELECT count(*) FROM orders")).scalar()


@pytest.fixture
def scratch_url():
    url = migrate.database_url("orders").rsplit("/", 1)[0] + f"/shop_test_expand_{os.getpid()}"
    create_database(url, drop_existing=True)
    yield url
    drop_database(url)


@pytest.fixture
def newer_scripts(tmp_path):
    """A copy of the orders migrations that newer code would ship; ``add`` writes a revision."""
    location = tmp_path / "orders"
    shutil.copytree(migrate.MIGRATIONS_DIR / "orders", location,
                    ignore=shutil.ignore_patterns("__pycache__"))
    head = migrate.ScriptDirectory.from_config(migrate.alembic_config("orders")).get_current_head()
    chain = [head]

    def add(revision, declaration, upgrade, downgrade):
        source = LATER.format(revision=revision, down=chain[-1], declaration=declaration,
                              upgrade=upgrade, downgrade=downgrade)
        (location / "versions" / f"{revision}.py").write_text(source)
        chain.append(revision)

    add.location = str(location)
    return add


def migrate_with(newer_scripts, url, target="head"):
    config = migrate.alembic_config("orders", url)
    config.set_main_option("script_location", newer_scripts.location)
    command.upgrade(config, target) if target == "head" else command.downgrade(config, target)


def check(url):
    engine = create_engine(url)
    try:
        migrate.ensure_compatible_schema("orders", engine)
    finally:
        engine.dispose()


def test_an_old_service_starts_on_a_schema_expanded_by_newer_code(
        container_factory, rabbit_config, call, scratch_url, newer_scripts):
    newer_scripts(**EXPAND)
    migrate_with(newer_scripts, scratch_url)
    container_factory(OldOrders, dict(rabbit_config, DATABASE_URL=scratch_url)).start()
    assert call("orders", "count_orders") == 0


def test_a_later_revision_that_is_not_declared_compatible_is_refused_by_name(
        container_factory, rabbit_config, scratch_url, newer_scripts):
    newer_scripts(**EXPAND)
    newer_scripts(**CONTRACT)
    migrate_with(newer_scripts, scratch_url)
    container = container_factory(OldOrders, dict(rabbit_config, DATABASE_URL=scratch_url))
    with pytest.raises(SchemaOutOfDate, match="'orders_9002_contract' is not compatible"):
        container.start()


def test_reverting_the_incompatible_revision_lets_old_code_start_again(scratch_url, newer_scripts):
    newer_scripts(**EXPAND)
    newer_scripts(**CONTRACT)
    migrate_with(newer_scripts, scratch_url)
    with pytest.raises(SchemaOutOfDate, match="orders_9002_contract"):
        check(scratch_url)
    migrate_with(newer_scripts, scratch_url, target=EXPAND["revision"])
    check(scratch_url)


def test_a_later_revision_nobody_recorded_is_refused(scratch_url, newer_scripts):
    newer_scripts(**EXPAND)
    migrate_with(newer_scripts, scratch_url)
    engine = create_engine(scratch_url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM schema_revisions"))
    engine.dispose()
    with pytest.raises(SchemaOutOfDate, match="'orders_9001_expand' is unknown to this code"):
        check(scratch_url)


def test_a_database_behind_this_code_is_still_refused(scratch_url):
    migrate.upgrade("orders", scratch_url)
    config = migrate.alembic_config("orders", scratch_url)
    command.downgrade(config, "-1")
    with pytest.raises(SchemaOutOfDate, match="run `shopctl migrate`"):
        check(scratch_url)
