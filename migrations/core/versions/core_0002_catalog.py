"""Catalog tables: categories, products, stock levels and stock reservations.

Revision ID: core_0002_catalog
Revises: core_0001_users
Create Date: 2026-11-25
"""
import sqlalchemy as sa
from alembic import op

revision = "core_0002_catalog"
down_revision = "core_0001_users"
branch_labels = None
depends_on = None


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("slug", sa.String(120), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(["parent_id"], ["categories.id"], ondelete="RESTRICT",
                                name="fk_categories_parent_id_categories"),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
        sa.UniqueConstraint("slug", name="uq_categories_slug"),
    )
    op.create_index("ix_categories_parent_id", "categories", ["parent_id"])

    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("sku", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("category_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("price >= 0", name="ck_products_price_not_negative"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_products_currency_iso"),
        sa.ForeignKeyConstraint(["category_id"], ["categories.id"], ondelete="RESTRICT",
                                name="fk_products_category_id_categories"),
        sa.PrimaryKeyConstraint("id", name="pk_products"),
    )
    op.create_index("ix_products_category_id", "products", ["category_id"])
    op.create_index("ix_products_name_id", "products", ["name", "id"])
    op.create_index("uq_products_sku_lower", "products", [sa.text("lower(sku)")], unique=True)

    op.create_table(
        "stock_levels",
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("on_hand", sa.Integer(), server_default="0", nullable=False),
        sa.Column("reserved", sa.Integer(), server_default="0", nullable=False),
        _timestamp("updated_at"),
        # The last line of defence against overselling, whatever the code does.
        sa.CheckConstraint("reserved >= 0", name="ck_stock_levels_reserved_not_negative"),
        sa.CheckConstraint("reserved <= on_hand", name="ck_stock_levels_reserved_within_on_hand"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="CASCADE",
                                name="fk_stock_levels_product_id_products"),
        sa.PrimaryKeyConstraint("product_id", name="pk_stock_levels"),
    )

    op.create_table(
        "stock_reservations",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("status IN ('reserved', 'released', 'committed')",
                           name="ck_stock_reservations_status_known"),
        sa.PrimaryKeyConstraint("order_id", name="pk_stock_reservations"),
    )

    op.create_table(
        "stock_reservation_items",
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity > 0", name="ck_stock_reservation_items_quantity_positive"),
        sa.ForeignKeyConstraint(["order_id"], ["stock_reservations.order_id"], ondelete="CASCADE",
                                name="fk_stock_reservation_items_order_id_stock_reservations"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], ondelete="RESTRICT",
                                name="fk_stock_reservation_items_product_id_products"),
        sa.PrimaryKeyConstraint("order_id", "product_id", name="pk_stock_reservation_items"),
    )
    op.create_index("ix_stock_reservation_items_product_id", "stock_reservation_items", ["product_id"])


def downgrade() -> None:
    op.drop_table("stock_reservation_items")
    op.drop_table("stock_reservations")
    op.drop_table("stock_levels")
    op.drop_index("uq_products_sku_lower", table_name="products")
    op.drop_table("products")
    op.drop_table("categories")
