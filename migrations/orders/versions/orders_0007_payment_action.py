"""Orders: ``payment_action``, the customer's step while a card needs them (3-D Secure):
``{"type": "redirect", "url"}`` or null.

Expand only: a nullable column older code never writes.

Revision ID: orders_0007_payment_action
Revises: orders_0006_address_fields
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "orders_0007_payment_action"
down_revision = "orders_0006_address_fields"
branch_labels = None
depends_on = None
compatible_with_previous = True


def upgrade() -> None:
    op.add_column("orders", sa.Column("payment_action", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "payment_action")
