"""Orders: ``payment_status`` (pending, authorised, paid, partially_refunded, refunded, voided, not_required).

Revision ID: orders_0004_payment_status
Revises: orders_0003_pending_modification
Create Date: 2026-12-01
"""
import sqlalchemy as sa
from alembic import op

revision = "orders_0004_payment_status"
down_revision = "orders_0003_pending_modification"
branch_labels = None
depends_on = None

STATUSES = "('pending', 'authorised', 'paid', 'partially_refunded', 'refunded', 'voided', 'not_required')"


def upgrade() -> None:
    op.add_column("orders", sa.Column("payment_status", sa.String(20), nullable=False,
                                      server_default="pending"))
    # What the order's own events already tell; refunds made before this revision were not
    # recorded on orders, so their orders read "paid" until the payments are refunded again.
    op.execute("UPDATE orders SET payment_status = 'paid' "
               "WHERE status IN ('confirmed', 'shipped', 'delivered')")
    op.execute("UPDATE orders SET payment_status = 'authorised' "
               "WHERE capture_requested AND status IN ('awaiting_payment', 'cancelled')")
    op.alter_column("orders", "payment_status", server_default=None)
    op.create_check_constraint(op.f("ck_orders_payment_status_known"), "orders",
                               f"payment_status IN {STATUSES}")


def downgrade() -> None:
    op.drop_constraint(op.f("ck_orders_payment_status_known"), "orders")
    op.drop_column("orders", "payment_status")
