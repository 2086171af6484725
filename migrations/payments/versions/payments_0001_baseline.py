"""Baseline of the payments database: its tables arrive with the payments service.

Revision ID: payments_0001_baseline
Revises:
Create Date: 2026-11-25
"""

revision = "payments_0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
