"""The catalog service: categories, products and stock (on hand, reserved, available)."""
