"""The route table: each endpoint declares its path, who may call it and what it accepts.

Routes are mounted from this table and the OpenAPI document is built from it, so the
two cannot drift apart. Authentication and role checks happen here, before a handler runs.
"""
from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway import json_body
from gateway.auth import ANYONE, authenticate, authorize
from gateway.errors import BadRequest
from gateway.ratelimit import enforce
from gateway.rpc import RpcClient
from nameko_services.common.auth import Principal
from nameko_services.common.errors import NotFound
from nameko_services.common.validation import load

PUBLIC = "public"  # no token is even looked at (operations, OAuth, JWKS)


@dataclass
class Context:
    """What a handler gets: the request, the verified caller and helpers bound to its endpoint."""

    request: Request
    principal: Principal | None
    rpc: RpcClient
    endpoint: Endpoint

    async def call(self, service: str, method: str, **kwargs: Any) -> Any:
        """Call a service method on behalf of the caller."""
        return await self.rpc.call(service, method, principal=self.principal, **kwargs)

    async def body(self) -> dict[str, Any]:
        """The JSON body, validated by the endpoint's body schema."""
        raw = await self.request.body()
        try:
            data = json_body.loads(raw) if raw.strip() else {}
        except json_body.TooComplex as exc:
            raise BadRequest(str(exc), exc.limit) from None
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
        assert self.endpoint.body is not None
        return dict(load(self.endpoint.body, data, none_is_empty=False))

    def query(self) -> dict[str, Any]:
        """The query string, validated by the endpoint's query schema."""
        assert self.endpoint.query is not None
        return dict(load(self.endpoint.query, dict(self.request.query_params)))

    def path_id(self, name: str, not_found: type[NotFound] = NotFound) -> str:
        """A UUID path parameter in canonical form; anything else is simply not found."""
        try:
            return str(uuid.UUID(self.request.path_params[name]))
        except ValueError:
            raise not_found() from None


Handler = Callable[[Context], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    """One method on one path, with what the OpenAPI document says about it."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    access: str = ANYONE
    status: int = 200
    also: tuple[int, ...] = field(default=())  # other success statuses it may answer with
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    form: bool = False
    errors: tuple[int, ...] = field(default=())
    rate: str | None = None  # gateway.ratelimit.AUTH or EXPENSIVE: limited per address and client
    scope: str | None = None  # a machine client (client credentials) with this scope may call it too
    answer: type[Schema] | None = None  # the success body (gateway.responses); a list of them if many
    many: bool = False
    media: str = "application/json"  # of the success body: text/html for pages
    idempotency_key: bool = False  # the Idempotency-Key header is required


def mount(endpoint: Endpoint) -> Route:
    """A Starlette route that authenticates, authorizes, then runs the endpoint's handler."""

    async def run(request: Request) -> Response:
        state = request.app.state
        principal = None
        if endpoint.access != PUBLIC:
            principal = await authenticate(state.verifier, request.headers.get("authorization"))
        if endpoint.rate is not None:
            # After authentication (the per-client bucket needs the subject), before any work.
            await enforce(request, endpoint.rate, f"{endpoint.method} {endpoint.path}", principal,
                          oauth=endpoint.form)
        if endpoint.access != PUBLIC:
            authorize(principal, endpoint.access, endpoint.scope)
        return await endpoint.handler(Context(request, principal, state.rpc, endpoint))

    return Route(endpoint.path, run, methods=[endpoint.method], name=f"{endpoint.method} {endpoint.path}")
