"""Payments that need the customer (3-D Secure): status ``requires_action`` and its
``next_action`` (``{"type": "redirect", "url"}``); the sandbox's own payments may wait for the
challenge too (``requires_action``, then ``requires_capture`` or ``challenge_failed``).

Expand only: a nullable column and wider status checks, which older code never reaches.

Revision ID: payments_0004_requires_action
Revises: payments_0003_sandbox_records
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "payments_0004_requires_action"
down_revision = "payments_0003_sandbox_records"
branch_labels = None
depends_on = None
compatible_with_previous = True

PAYMENT_STATUSES = ("'pending', 'authorised', 'captured', 'voided', 'refunded', 'partially_refunded', "
                    "'failed'")
SANDBOX_STATUSES = "'requires_capture', 'succeeded', 'canceled'"


def _checks(payments: str, sandbox: str) -> None:
    # op.f: the names are final (the metadata's naming convention made them so at creation).
    op.drop_constraint(op.f("ck_payments_status_known"), "payments", type_="check")
    op.create_check_constraint(op.f("ck_payments_status_known"), "payments", f"status IN ({payments})")
    op.drop_constraint(op.f("ck_sandbox_payments_status_known"), "sandbox_payments", type_="check")
    op.create_check_constraint(op.f("ck_sandbox_payments_status_known"), "sandbox_payments",
                               f"status IN ({sandbox})")


def upgrade() -> None:
    op.add_column("payments", sa.Column("next_action", postgresql.JSONB(), nullable=True))
    _checks(f"{PAYMENT_STATUSES}, 'requires_action'",
            f"{SANDBOX_STATUSES}, 'requires_action', 'challenge_failed'")


def downgrade() -> None:
    _checks(PAYMENT_STATUSES, SANDBOX_STATUSES)
    op.drop_column("payments", "next_action")
