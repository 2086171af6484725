"""Catalog side of the order saga: versioned reservations, restocking, outbox and processed events.

Revision ID: core_0003_catalog_saga
Revises: core_0002_catalog
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "core_0003_catalog_saga"
down_revision = "core_0002_catalog"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("stock_reservations",
                  sa.Column("order_version", sa.Integer(), server_default="1", nullable=False))
    op.create_check_constraint("ck_stock_reservations_order_version_positive", "stock_reservations",
                               "order_version > 0")
    op.drop_constraint("ck_stock_reservations_status_known", "stock_reservations", type_="check")
    op.create_check_constraint("ck_stock_reservations_status_known", "stock_reservations",
                               "status IN ('reserved', 'released', 'committed', 'restocked')")

    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("event_type", sa.String(100), nullable=False),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("headers", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_outbox"),
        sa.UniqueConstraint("event_id", name="uq_outbox_event_id"),
    )
    # The relay only ever looks for unsent rows; keep that scan small.
    op.create_index("ix_outbox_unpublished", "outbox", ["seq"],
                    postgresql_where=sa.text("published_at IS NULL"))

    op.create_table(
        "processed_events",
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("handler", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", "handler", name="pk_processed_events"),
    )


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_index("ix_outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")
    op.execute("UPDATE stock_reservations SET status = 'released' WHERE status = 'restocked'")
    op.drop_constraint("ck_stock_reservations_status_known", "stock_reservations", type_="check")
    op.create_check_constraint("ck_stock_reservations_status_known", "stock_reservations",
                               "status IN ('reserved', 'released', 'committed')")
    op.drop_constraint("ck_stock_reservations_order_version_positive", "stock_reservations", type_="check")
    op.drop_column("stock_reservations", "order_version")
