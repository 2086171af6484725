"""OAuth clients, authorization codes, and the client each refresh token was issued to.

Revision ID: core_0005_oauth_clients
Revises: core_0004_login_throttle
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "core_0005_oauth_clients"
down_revision = "core_0004_login_throttle"
branch_labels = None
depends_on = None

FIRST_PARTY = "shop-frontend"


def upgrade() -> None:
    op.create_table(
        "oauth_clients",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=True),
        sa.Column("redirect_uris", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("grant_types", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(32)), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id", name="pk_oauth_clients"),
        sa.CheckConstraint("type IN ('public', 'confidential')", name="ck_oauth_clients_type_known"),
    )
    # The first-party frontend exists from the start (the users service also re-creates it if missing).
    op.execute(sa.text(
        "INSERT INTO oauth_clients (client_id, name, type, redirect_uris, grant_types, scopes) "
        "VALUES (:id, 'nameko-shop frontend', 'public', '{}', '{password,refresh_token}', '{shop}')"
    ).bindparams(id=FIRST_PARTY))
    op.create_table(
        "authorization_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("code_challenge", sa.String(43), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("family_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name="pk_authorization_codes"),
        sa.ForeignKeyConstraint(["client_id"], ["oauth_clients.client_id"], ondelete="CASCADE",
                                name="fk_authorization_codes_client_id_oauth_clients"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE",
                                name="fk_authorization_codes_user_id_users"),
    )
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])
    op.add_column("refresh_tokens", sa.Column("client_id", sa.String(64), nullable=False,
                                              server_default=FIRST_PARTY))


def downgrade() -> None:
    op.drop_column("refresh_tokens", "client_id")
    op.drop_index("ix_authorization_codes_expires_at", table_name="authorization_codes")
    op.drop_table("authorization_codes")
    op.drop_table("oauth_clients")
