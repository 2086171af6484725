"""Login throttle: failed password grants counted per account key and per client address.

Revision ID: core_0004_login_throttle
Revises: core_0003_catalog_saga
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "core_0004_login_throttle"
down_revision = "core_0003_catalog_saga"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(16), nullable=False),
        # SHA-256 of the normalised email or address: no plain emails of people without an account.
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), server_default="0", nullable=False),
        # The back-off is derived from these two, so undoing one counted attempt stays consistent.
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key_hash", name="pk_login_throttle"),
        sa.CheckConstraint("scope IN ('account', 'address')", name="ck_login_throttle_scope_known"),
        sa.CheckConstraint("failures >= 0", name="ck_login_throttle_failures_not_negative"),
    )
    # Lets a sweeper drop stale rows without a full scan.
    op.create_index("ix_login_throttle_updated_at", "login_throttle", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_login_throttle_updated_at", table_name="login_throttle")
    op.drop_table("login_throttle")
