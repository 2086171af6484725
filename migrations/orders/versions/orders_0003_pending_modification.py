"""Orders: a modification of the items waits for the catalog's answer (``pending_modification``).

Revision ID: orders_0003_pending_modification
Revises: orders_0002_orders
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "orders_0003_pending_modification"
down_revision = "orders_0002_orders"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Expand only: older services never write the column, and it is NULL for every order
    # whose items are not being changed.
    op.add_column("orders", sa.Column("pending_modification", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "pending_modification")
