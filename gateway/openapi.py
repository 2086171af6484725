"""The OpenAPI 3.1 document, built from the route table and its marshmallow schemas (apispec).

Request bodies and query strings are the schemas the gateway validates with (``gateway.schemas``,
``common.validation``); answers are ``gateway.responses``; errors the one error body (the OAuth
endpoints' RFC 6749 body besides). apispec's marshmallow plugin turns each schema into JSON
Schema and names the shared ones as components, so a generated client has one ``Order`` type.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec.ext.marshmallow.common import resolve_schema_cls
from marshmallow import Schema

from gateway import examples
from gateway.auth import ADMIN, ANYONE, CUSTOMER
from gateway.routing import PUBLIC, Endpoint
from nameko_services.common.auth import CATALOG_WRITE
from nameko_services.common.validation import UuidString

TITLE = "nameko-shop API"
ERROR = {"$ref": "#/components/schemas/Error"}
OAUTH_ERROR = {"$ref": "#/components/schemas/OAuthError"}
REASONS = {400: "Malformed request", 401: "Missing or invalid token", 403: "Role not allowed",
           404: "Not found", 409: "Conflict", 413: "Body too large", 422: "Validation error",
           429: "Rate limited (see Retry-After)",
           502: "Bad gateway", 503: "A service is unavailable", 504: "A service did not answer in time"}
SUCCESS = {200: "Success", 201: "Created", 202: "Accepted: the change waits for the catalog",
           204: "No content", 303: "Redirect to the client's redirect_uri",
           304: "Not modified: the copy If-None-Match names is current (no body)"}
# The public catalog reads (gateway.catalog_cache), the endpoints that may answer 304.
CACHEABLE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "Strong validator of this answer's body"},
    "Cache-Control": {"schema": {"type": "string"}, "description": "public, max-age=1"}}
IF_NONE_MATCH = {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"},
                 "description": "ETags the client holds: 304 without a body when one is current"}
# The statuses an OAuth endpoint answers in RFC 6749 shape; the rest (413, 503, ...) are ours.
OAUTH_STATUSES = {400, 401, 429}
OAUTH_SCOPES = {"shop": "Act as the signed-in user (customer or admin, by the user's roles)",
                CATALOG_WRITE: "A machine client: change categories, products and stock"}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    "description": "One key per order the customer means to place: the same key and body again "
                   "answer the first order (200); another body with it is a 422, a request still "
                   "running with it a 409 (docs/API.md)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "example": "3f2b9c8e-checkout-1"}
ERROR_SCHEMA = {
    "type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string", "description": "Stable, machine-readable"},
                       "message": {"type": "string"},
                       "details": {"type": "object", "description": "Per field for a 422"}}}},
    "example": {"error": {"code": "validation_error", "message": "The input is not valid.",
                          "details": {"shipping_address": {"region": ["Required for US addresses."]}}}}}
OAUTH_ERROR_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    "example": {"error": "invalid_grant", "error_description": "The code is invalid or expired."}}


def schema_name(schema: Any) -> str:
    """Component names: answers by their class (``Order``), nested inputs as ``AddressInput``."""
    cls = resolve_schema_cls(schema)
    name = (cls[0] if isinstance(cls, list) else cls).__name__
    return f"{name.removesuffix('Schema')}Input" if name.endswith("Schema") else name


def oauth2_scheme() -> dict[str, Any]:
    """The platform's own OAuth 2.0 server (users service behind the gateway's routes)."""
    return {
        "type": "oauth2",
        "description": "Authorization code with PKCE (S256, required) for people, through the "
                       "sign-in page; client credentials (HTTP Basic) for machine clients an "
                       "admin registered. Access tokens are EdDSA JWTs (see /.well-known/jwks.json).",
        "flows": {
            "authorizationCode": {"authorizationUrl": "/api/v1/oauth/authorize",
                                  "tokenUrl": "/api/v1/oauth/token", "refreshUrl": "/api/v1/oauth/token",
                                  "scopes": {"shop": OAUTH_SCOPES["shop"]}},
            "clientCredentials": {"tokenUrl": "/api/v1/oauth/token",
                                  "scopes": {CATALOG_WRITE: OAUTH_SCOPES[CATALOG_WRITE]}}}}


class _Builder:
    """One document: the plugin converts, the spec collects components."""

    def __init__(self, version: str) -> None:
        self.plugin = MarshmallowPlugin(schema_name_resolver=schema_name)
        self.spec = APISpec(TITLE, version, "3.1.0", plugins=[self.plugin], info={
            "description": "The HTTP gateway of nameko-shop. Money is integer minor units beside an "
                           "ISO 4217 currency; ids are UUIDs; lists are pages. docs/API.md is the prose."})
        self.plugin.map_to_openapi_type(UuidString, "string", "uuid")
        self.spec.components.schema("Error", ERROR_SCHEMA)
        self.spec.components.schema("OAuthError", OAUTH_ERROR_SCHEMA)
        self.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer",
                                                        "bearerFormat": "JWT"})
        self.spec.components.security_scheme("oauth2", oauth2_scheme())

    def inline(self, schema: type[Schema]) -> dict[str, Any]:
        """A schema written out (nested schemas as references to components)."""
        converted: dict[str, Any] = self.plugin.converter.schema2jsonschema(schema())  # type: ignore[union-attr]
        return converted

    def answer(self, endpoint: Endpoint) -> dict[str, Any]:
        schema: dict[str, Any] = ({} if endpoint.answer is None
                                  else {"$ref": f"#/components/schemas/{self.component(endpoint.answer)}"})
        if endpoint.many:
            schema = {"type": "array", "items": schema}
        media: dict[str, Any] = {"schema": schema}
        if endpoint.media != "application/json":
            media = {"schema": {"type": "string"}}
        example = examples.answer(endpoint)
        if example is not None:
            media["example"] = example
        return {endpoint.media: media}

    def component(self, schema: type[Schema]) -> str:
        name = schema_name(schema)
        if name not in self.spec.components.schemas:
            self.spec.components.schema(name, schema=schema)
        return name

    def parameters(self, endpoint: Endpoint) -> list[dict[str, Any]]:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "format": "uuid"} if name.endswith("_id") else {"type": "string"}}
            for name in re.findall(r"{(\w+)}", endpoint.path)]
        if endpoint.query is not None:
            params += [{"name": name, "in": "query", "required": False,
                        "schema": self.plugin.converter.field2property(field)}  # type: ignore[union-attr]
                       for name, field in endpoint.query().fields.items()]
        if endpoint.idempotency_key:
            params.append(IDEMPOTENCY_KEY)
        if 304 in endpoint.also:
            params.append(IF_NONE_MATCH)
        return params

    def request_body(self, endpoint: Endpoint) -> dict[str, Any] | None:
        if endpoint.form:
            schema = {"type": "object", "additionalProperties": {"type": "string"}}
            content = {"application/x-www-form-urlencoded": {"schema": schema},
                       "application/json": {"schema": schema}}
        elif endpoint.body is not None:
            content = {"application/json": {"schema": self.inline(endpoint.body)}}
        else:
            return None
        example = examples.request(endpoint)
        if example is not None:
            for media in content.values():
                media["example"] = example
        return {"required": True, "content": content}

    def responses(self, endpoint: Endpoint) -> dict[str, Any]:
        def ok(status: int) -> dict[str, Any]:
            out: dict[str, Any] = {"description": SUCCESS.get(status, "Success")}
            if status not in (204, 303, 304):
                out["content"] = self.answer(endpoint)
            if 304 in endpoint.also and status in (200, 304):
                out["headers"] = CACHEABLE_HEADERS
            if status == 303:
                out["headers"] = {"Location": {"schema": {"type": "string"},
                                               "description": "The client's redirect_uri with code or error"}}
            return out
        answers = {str(status): ok(status) for status in (endpoint.status, *endpoint.also)}
        for status in sorted(error_statuses(endpoint)):
            body = {"anyOf": [OAUTH_ERROR, ERROR]} if endpoint.form and status in OAUTH_STATUSES else ERROR
            content: dict[str, Any] = {"application/json": {"schema": body}}
            if endpoint.media == "text/html":  # a page answers its own errors as a page
                content = {"text/html": {"schema": {"type": "string"}}, **content}
            answers[str(status)] = {"description": REASONS.get(status, "Error"), "content": content}
        if "429" in answers:
            answers["429"]["headers"] = {"Retry-After": {
                "description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
        if "401" in answers and not endpoint.form:
            answers["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"},
                                                              "description": "Bearer"}}
        return answers

    def operation(self, endpoint: Endpoint) -> dict[str, Any]:
        op: dict[str, Any] = {"summary": endpoint.summary, "tags": [endpoint.tag],
                              "operationId": endpoint.handler.__name__, "x-access": endpoint.access,
                              "parameters": self.parameters(endpoint), "responses": self.responses(endpoint)}
        security = security_of(endpoint)
        if security is not None:
            op["security"] = security
        body = self.request_body(endpoint)
        if body is not None:
            op["requestBody"] = body
        return op


def error_statuses(endpoint: Endpoint) -> set[int]:
    """Every error status the endpoint may answer."""
    statuses = set(endpoint.errors)
    if endpoint.access in (CUSTOMER, ADMIN):
        statuses |= {401}
    if endpoint.access == ADMIN or endpoint.scope is not None:
        statuses |= {403}
    if endpoint.body or endpoint.query:
        statuses |= {400, 422}
    if endpoint.idempotency_key:
        statuses |= {400}
    if endpoint.access != PUBLIC or endpoint.form:
        statuses |= {503, 504}
    if endpoint.rate is not None:
        statuses |= {429}
    return statuses


def security_of(endpoint: Endpoint) -> list[dict[str, list[str]]] | None:
    """A bearer token (from either OAuth flow); ``[{}]`` first where it is optional."""
    if endpoint.access not in (CUSTOMER, ADMIN, ANYONE):
        return None
    schemes: list[dict[str, list[str]]] = [{"bearer": []}, {"oauth2": ["shop"]}]
    if endpoint.scope is not None:
        schemes.append({"oauth2": [endpoint.scope]})
    return [{}, *schemes] if endpoint.access == ANYONE else schemes


def build_openapi(endpoints: Iterable[Endpoint], version: str = "1.0.0") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    builder = _Builder(version)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = builder.operation(endpoint)
    for path, operations in paths.items():
        builder.spec.path(path=path, operations=operations)
    document: dict[str, Any] = builder.spec.to_dict()
    return document
