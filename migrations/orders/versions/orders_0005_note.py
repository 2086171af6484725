"""Orders: an optional ``note`` from the customer (up to 500 characters).

Revision ID: orders_0005_note
Revises: orders_0004_payment_status
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "orders_0005_note"
down_revision = "orders_0004_payment_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("orders", sa.Column("note", sa.String(500), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "note")
