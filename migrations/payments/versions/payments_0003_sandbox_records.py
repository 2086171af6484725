"""The sandbox processor's own records: sandbox_payments and sandbox_idempotency_keys, so the
sandbox remembers its payments and answers across restarts of the payments service.

Revision ID: payments_0003_sandbox_records
Revises: payments_0002_payments
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "payments_0003_sandbox_records"
down_revision = "payments_0002_payments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("sandbox_payments",
    sa.Column("id", sa.String(length=64), nullable=False),
    sa.Column("amount", sa.BigInteger(), nullable=False),
    sa.Column("currency", sa.String(length=3), nullable=False),
    sa.Column("card_token", sa.String(length=100), nullable=False),
    sa.Column("status", sa.String(length=20), nullable=False),
    sa.Column("captured_amount", sa.BigInteger(), nullable=False),
    sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("amount > 0", name=op.f("ck_sandbox_payments_amount_positive")),
    sa.CheckConstraint("captured_amount >= 0 AND captured_amount <= amount",
                       name=op.f("ck_sandbox_payments_capture_within_amount")),
    sa.CheckConstraint("refunded_amount >= 0 AND refunded_amount <= captured_amount",
                       name=op.f("ck_sandbox_payments_refund_within_capture")),
    sa.CheckConstraint("status IN ('requires_capture', 'succeeded', 'canceled')",
                       name=op.f("ck_sandbox_payments_status_known")),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_payments"))
    )
    op.create_table("sandbox_idempotency_keys",
    sa.Column("key", sa.String(length=255), nullable=False),
    sa.Column("calls", sa.Integer(), nullable=False),
    sa.Column("answer", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("key", name=op.f("pk_sandbox_idempotency_keys"))
    )


def downgrade() -> None:
    op.drop_table("sandbox_idempotency_keys")
    op.drop_table("sandbox_payments")
