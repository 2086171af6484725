"""Our errors for nameko callers: each ``common.errors`` class registered with nameko, and
replies whose error also names its base classes.

nameko rebuilds a remote error as its own class only when that class was registered with
``deserialize_to_instance`` (its supported way); anything else arrives as a ``RemoteError``.
Registering here, not in ``common.errors``, keeps that module free of nameko. ``common.rpc``
(imported by every service) and ``common.shell`` call ``register_remote_errors`` when they are
imported, so a service calling another (``ServiceRpc``) and ``nameko shell`` get ``OutOfStock``
back with its details.

A caller built before an error class was added cannot rebuild it by name, so ``common.rpc``'s
entrypoint answers through ``LineageRpcConsumer``: nameko's error fields (``exc_type``,
``exc_path``, ``exc_args``, ``value``) plus ``exc_bases`` and ``exc_code``
(``common.errors.lineage``). nameko's ``deserialize`` reads only its own keys, so every caller,
old or new, still understands the reply.
"""
from __future__ import annotations

from typing import Any

from kombu.serialization import registry as serializers
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import deserialize_to_instance, serialize
from nameko.rpc import Responder, RpcConsumer, get_rpc_exchange

from nameko_services.common.errors import REGISTRY, lineage


def register_remote_errors() -> None:
    """Register every class of ``common.errors.REGISTRY`` with nameko (again is harmless)."""
    for cls in REGISTRY.values():
        deserialize_to_instance(cls)


class LineageResponder(Responder):
    """nameko's responder; the reply of a ``ServiceError`` also carries its lineage."""

    def send_response(self, result: Any, exc_info: Any) -> Any:
        fields = lineage(exc_info[1]) if exc_info is not None else {}
        if not fields:
            return super().send_response(result, exc_info)
        # As nameko's send_response, whose result is None beside an error.
        properties = self.message.properties
        publisher = Publisher(self.amqp_uri, ssl=self.ssl, login_method=self.login_method)
        publisher.publish({"result": None, "error": {**serialize(exc_info[1]), **fields}},
                          serializer=serializers.type_to_name[properties["content_type"]],
                          exchange=self.exchange, routing_key=properties["reply_to"],
                          correlation_id=properties.get("correlation_id"))
        return None, exc_info


class LineageRpcConsumer(RpcConsumer):
    """nameko's RPC consumer (its ``handle_result``), answering through ``LineageResponder``."""

    def handle_result(self, message: Any, result: Any, exc_info: Any) -> Any:
        config = self.container.config
        responder = LineageResponder(
            config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY), login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        result, exc_info = responder.send_response(result, exc_info)
        self.queue_consumer.ack_message(message)
        return result, exc_info
