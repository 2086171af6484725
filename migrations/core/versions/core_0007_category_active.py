"""Catalog: a category can be deactivated (``categories.active``, true for every existing one).

Expand only: the column has a server default, so older code that never writes it keeps
inserting active categories, and older readers ignore it.

Revision ID: core_0007_category_active
Revises: core_0006_address_fields
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "core_0007_category_active"
down_revision = "core_0006_address_fields"
branch_labels = None
depends_on = None
compatible_with_previous = True


def upgrade() -> None:
    op.add_column("categories", sa.Column("active", sa.Boolean(), server_default="true",
                                          nullable=False))


def downgrade() -> None:
    op.drop_column("categories", "active")
