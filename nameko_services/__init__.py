"""nameko-shop: e-commerce services on nameko and RabbitMQ."""
