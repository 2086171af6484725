"""Baseline of the orders database: its tables arrive with the orders service.

Revision ID: orders_0001_baseline
Revises:
Create Date: 2026-11-25
"""

revision = "orders_0001_baseline"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
