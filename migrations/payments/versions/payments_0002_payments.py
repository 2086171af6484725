"""The payments service: payment_events (event store), payments (projection), cancelled_orders,
outbox and processed_events.

Revision ID: payments_0002_payments
Revises: payments_0001_baseline
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "payments_0002_payments"
down_revision = "payments_0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("cancelled_orders",
    sa.Column("order_id", sa.Uuid(), nullable=False),
    sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("order_id", name=op.f("pk_cancelled_orders"))
    )
    op.create_table("outbox",
    sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column("event_id", sa.UUID(as_uuid=False), nullable=False),
    sa.Column("event_type", sa.String(length=100), nullable=False),
    sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
    sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id"))
    )
    op.create_index("ix_outbox_unpublished", "outbox", ["seq"], unique=False,
                    postgresql_where=sa.text("published_at IS NULL"))
    op.create_table("payment_events",
    sa.Column("seq", sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column("event_id", sa.UUID(as_uuid=False), nullable=False),
    sa.Column("stream_id", sa.UUID(as_uuid=False), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(length=100), nullable=False),
    sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("correlation_id", sa.String(length=100), nullable=True),
    sa.Column("causation_id", sa.String(length=100), nullable=True),
    sa.PrimaryKeyConstraint("seq", name=op.f("pk_payment_events")),
    sa.UniqueConstraint("event_id", name=op.f("uq_payment_events_event_id")),
    sa.UniqueConstraint("stream_id", "version", name="uq_payment_events_stream_version")
    )
    op.create_table("payments",
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("order_id", sa.Uuid(), nullable=False),
    sa.Column("order_version", sa.Integer(), nullable=False),
    sa.Column("user_id", sa.Uuid(), nullable=False),
    sa.Column("status", sa.String(length=20), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(length=3), nullable=False),
    sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
    sa.Column("provider", sa.String(length=20), nullable=False),
    sa.Column("provider_reference", sa.String(length=255), nullable=True),
    sa.Column("failure_reason", sa.String(length=40), nullable=True),
    sa.Column("needs_attention", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    sa.Column("attention_reason", sa.String(length=500), nullable=True),
    sa.Column("pending_action", sa.String(length=20), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'authorised', 'captured', 'voided', 'refunded', "
                       "'partially_refunded', 'failed')", name=op.f("ck_payments_status_known")),
    sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
    sa.CheckConstraint("refunded_amount >= 0 AND refunded_amount <= amount",
                       name=op.f("ck_payments_refund_within_amount")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    sa.UniqueConstraint("order_id", "order_version", name="uq_payments_order_id_order_version")
    )
    op.create_index("ix_payments_pending", "payments", ["updated_at"], unique=False,
                    postgresql_where=sa.text("pending_action IS NOT NULL"))
    op.create_index("ix_payments_user_id_created_at", "payments", ["user_id", "created_at"],
                    unique=False)
    op.create_table("processed_events",
    sa.Column("event_id", sa.String(length=64), nullable=False),
    sa.Column("handler", sa.String(length=200), nullable=False),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("event_id", "handler", name="pk_processed_events")
    )


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_index("ix_payments_user_id_created_at", table_name="payments")
    op.drop_index("ix_payments_pending", table_name="payments",
                  postgresql_where=sa.text("pending_action IS NOT NULL"))
    op.drop_table("payments")
    op.drop_table("payment_events")
    op.drop_index("ix_outbox_unpublished", table_name="outbox",
                  postgresql_where=sa.text("published_at IS NULL"))
    op.drop_table("outbox")
    op.drop_table("cancelled_orders")
