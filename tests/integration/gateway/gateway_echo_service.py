"""A tiny nameko service the RPC client tests talk to (run with ``nameko run``)."""
from __future__ import annotations

import time
from typing import Any

from nameko.extensions import DependencyProvider

from nameko_services.common.errors import Conflict, EmailTaken
from nameko_services.common.rpc import Caller, rpc


class ContextData(DependencyProvider):
    """The ``nameko.*`` headers of the current call."""

    def get_dependency(self, worker_ctx: Any) -> dict[str, Any]:
        return dict(worker_ctx.context_data)


class GiftCardExpired(Conflict):
    """An error class newer than the gateway: defined only here, never registered."""

    code = "gift_card_expired"
    default_message = "The gift card has expired."


class EchoService:
    """Echoes calls back with what it learnt about the caller."""

    name = "echo"

    caller = Caller()
    context = ContextData()

    @rpc
    def echo(self, **kwargs: Any) -> dict[str, Any]:
        """Answer with the arguments, the verified caller and the call's context."""
        return {"kwargs": kwargs, "user_id": self.caller.user_id, "roles": list(self.caller.roles),
                "service": self.caller.service, "correlation_id": self.context.get("correlation_id"),
                "call_id_stack": self.context.get("call_id_stack")}

    @rpc
    def sleep(self, seconds: float) -> str:
        """Answer late (nameko run has eventlet patch ``time``)."""
        time.sleep(seconds)
        return "awake"

    @rpc
    def fail(self, kind: str) -> None:
        """Raise a registered error, or an unexpected one."""
        if kind == "email_taken":
            raise EmailTaken("Taken.", {"email": ["Already registered."], "attempts": 2})
        if kind == "gift_card_expired":
            raise GiftCardExpired(details={"card": "c-1"})
        raise KeyError("internal_table_name")


class StoppableEchoService(EchoService):
    """The same service under another name, for tests that stop it (``stoppable_service``)."""

    name = "stoppable"
