"""The broker in one place: the addresses a setting names, and what a lost connection looks like
to kombu/amqp code."""
from __future__ import annotations

import re

import amqp.exceptions
from kombu.exceptions import OperationalError

# Raised by publish/ack/requeue when RabbitMQ restarts or the connection drops: kombu wraps some
# (OperationalError), amqp raises its own ConnectionError, and a reset socket is an OSError.
BROKER_GONE: tuple[type[BaseException], ...] = (OperationalError, amqp.exceptions.ConnectionError, OSError)


def broker_addresses(setting: str) -> list[str]:
    """The broker addresses of an ``AMQP_URI`` setting (``SHOP_AMQP_URI``), in the order to try.

    One URI, or several separated by ``;`` (kombu's failover form, which nameko passes on as it
    is; the gateway tries them in turn): the nodes of one cluster, each with its credentials and
    vhost. A comma is refused with the right separator named, since kombu would not split on it.
    """
    addresses = [part.strip() for part in setting.split(";") if part.strip()]
    if not addresses:
        raise ValueError("no broker address in the AMQP URI setting")
    for address in addresses:
        if address.count("://") != 1:
            raise ValueError(f"{redact_addresses(address)!r} is not one AMQP URI: separate several "
                             "broker addresses with ';'")
    return addresses


def redact_addresses(setting: str) -> str:
    """``setting`` (one broker address or several) with every password hidden, fit for logs."""
    return _PASSWORD.sub(r"\1***@", setting)


_PASSWORD = re.compile(r"(://[^:/@;,\s]*:)[^@;,\s]*@")
