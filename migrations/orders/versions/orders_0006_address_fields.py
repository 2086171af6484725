"""Orders: addresses gain ``name`` (recipient), ``region`` and ``phone``; old orders keep theirs.

The events are never rewritten: the aggregate reads an old address with the new keys as null
(``common.address.normalized``). This brings the projection's stored documents to that shape too,
so a listing and a rebuild agree. Data only, and older code ignores the keys.

Revision ID: orders_0006_address_fields
Revises: orders_0005_note
Create Date: 2026-12-02
"""
from alembic import op

revision = "orders_0006_address_fields"
down_revision = "orders_0005_note"
branch_labels = None
depends_on = None
compatible_with_previous = True

NEW_KEYS = "jsonb_build_object('name', null, 'line2', null, 'region', null, 'phone', null)"


def upgrade() -> None:
    op.execute(f"UPDATE orders SET shipping_address = {NEW_KEYS} || shipping_address "
               "WHERE NOT shipping_address ? 'name'")


def downgrade() -> None:
    pass  # the added keys are null; older code ignores them
