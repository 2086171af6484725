"""What a lost broker connection looks like to kombu/amqp code, in one place."""
from __future__ import annotations

import amqp.exceptions
from kombu.exceptions import OperationalError

# Raised by publish/ack/requeue when RabbitMQ restarts or the connection drops: kombu wraps some
# (OperationalError), amqp raises its own ConnectionError, and a reset socket is an OSError.
BROKER_GONE: tuple[type[BaseException], ...] = (OperationalError, amqp.exceptions.ConnectionError, OSError)
