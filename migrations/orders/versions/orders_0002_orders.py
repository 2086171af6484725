"""Orders: the order event store, the orders projection, idempotency keys, outbox and processed events.

Revision ID: orders_0002_orders
Revises: orders_0001_baseline
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "orders_0002_orders"
down_revision = "orders_0001_baseline"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('pending', 'awaiting_payment')")


def upgrade() -> None:
    op.create_table(
        "order_events",
        sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("stream_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        sa.Column("data", postgresql.JSONB(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("correlation_id", sa.String(100), nullable=True),
        sa.Column("causation_id", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_order_events"),
        sa.UniqueConstraint("event_id", name="uq_order_events_event_id"),
        sa.UniqueConstraint("stream_id", "version", name="uq_order_events_stream_version"),
    )

    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("user_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("cancellation_reason", sa.String(40), nullable=True),
        sa.Column("items", postgresql.JSONB(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("shipping_address", postgresql.JSONB(), nullable=False),
        sa.Column("payment_id", sa.String(64), nullable=True),
        sa.Column("capture_requested", sa.Boolean(), nullable=False),
        sa.Column("needs_attention", sa.Boolean(), nullable=False),
        sa.Column("attention_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'awaiting_payment', 'confirmed', 'shipped', 'delivered', "
                           "'cancelled')", name="ck_orders_status_known"),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
    )
    op.create_index("ix_orders_user_id_created_at", "orders", ["user_id", "created_at"])
    op.create_index("ix_orders_status_created_at", "orders", ["status", "created_at"])
    # The deadline timer scans only open orders; operators list only those needing attention.
    op.create_index("ix_orders_open_deadline", "orders", ["deadline_at"], postgresql_where=OPEN)
    op.create_index("ix_orders_needs_attention", "orders", ["updated_at"],
                    postgresql_where=sa.text("needs_attention"))

    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.Uuid(as_uuid=False), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("order_id", sa.Uuid(as_uuid=False), nullable=True),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("state IN ('in_progress', 'done')", name="ck_idempotency_keys_state_known"),
        sa.PrimaryKeyConstraint("user_id", "key", name="pk_idempotency_keys"),
    )

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
    op.drop_table("idempotency_keys")
    op.drop_index("ix_orders_needs_attention", table_name="orders")
    op.drop_index("ix_orders_open_deadline", table_name="orders")
    op.drop_index("ix_orders_status_created_at", table_name="orders")
    op.drop_index("ix_orders_user_id_created_at", table_name="orders")
    op.drop_table("orders")
    op.drop_table("order_events")
