"""Users: a saved address gains ``name`` (recipient), ``region`` and ``phone`` (null in old ones).

Profiles keep loading and showing an address saved before; the next change must give the new
required fields (``common.validation.AddressSchema``). Data only, and older code ignores the keys.

Revision ID: core_0006_address_fields
Revises: core_0005_oauth_clients
Create Date: 2026-12-02
"""
from alembic import op

revision = "core_0006_address_fields"
down_revision = "core_0005_oauth_clients"
branch_labels = None
depends_on = None
compatible_with_previous = True

NEW_KEYS = "jsonb_build_object('name', null, 'line2', null, 'region', null, 'phone', null)"


def upgrade() -> None:
    op.execute(f"UPDATE users SET shipping_address = {NEW_KEYS} || shipping_address "
               "WHERE jsonb_typeof(shipping_address) = 'object' AND NOT shipping_address ? 'name'")


def downgrade() -> None:
    pass  # the added keys are null; older code ignores them
