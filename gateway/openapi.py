"""The OpenAPI 3.1 document, built from the route table and its marshmallow schemas."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from marshmallow import Schema, fields, validate

from gateway.auth import ADMIN, ANYONE, CUSTOMER
from gateway.routing import PUBLIC, Endpoint
from nameko_services.common.validation import UuidString

ERROR = {"$ref": "#/components/schemas/Error"}
OAUTH_ERROR = {"$ref": "#/components/schemas/OAuthError"}
REASONS = {400: "Malformed request", 401: "Missing or invalid token", 403: "Role not allowed",
           404: "Not found", 409: "Conflict", 413: "Body too large", 422: "Validation error",
           429: "Rate limited (see Retry-After)",
           502: "Bad gateway", 503: "A service is unavailable", 504: "A service did not answer in time"}
_TYPES: list[tuple[type[fields.Field], dict[str, Any]]] = [
    (fields.Email, {"type": "string", "format": "email"}),
    (UuidString, {"type": "string", "format": "uuid"}),
    (fields.UUID, {"type": "string", "format": "uuid"}),
    (fields.Boolean, {"type": "boolean"}),
    (fields.Integer, {"type": "integer"}),
    (fields.Number, {"type": "number"}),
    (fields.String, {"type": "string"}),
]


def _constraints(field: fields.Field) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rule in field.validators:
        if isinstance(rule, validate.Range):
            out.update({k: v for k, v in (("minimum", rule.min), ("maximum", rule.max)) if v is not None})
        elif isinstance(rule, validate.Length):
            prefix = "Items" if isinstance(field, fields.List) else "Length"
            out.update({k: v for k, v in ((f"min{prefix}", rule.min), (f"max{prefix}", rule.max))
                        if v is not None})
        elif isinstance(rule, validate.OneOf):
            out["enum"] = list(rule.choices)
        elif isinstance(rule, validate.Regexp):
            out["pattern"] = rule.regex.pattern
    return out


def field_schema(field: fields.Field) -> dict[str, Any]:
    """JSON Schema of one marshmallow field."""
    if isinstance(field, fields.Nested):
        out = object_schema(field.schema)
    elif isinstance(field, fields.List):
        out = {"type": "array", "items": field_schema(field.inner)}
    else:
        out = next((dict(kind) for cls, kind in _TYPES if isinstance(field, cls)), {})
    out.update(_constraints(field))
    if field.allow_none:
        out = {"anyOf": [out, {"type": "null"}]}
    return out


def object_schema(schema: Schema) -> dict[str, Any]:
    """JSON Schema of a marshmallow schema (unknown properties are refused)."""
    required = [name for name, field in schema.fields.items() if field.required]
    out: dict[str, Any] = {"type": "object", "additionalProperties": False,
                           "properties": {name: field_schema(f) for name, f in schema.fields.items()}}
    if required:
        out["required"] = required
    return out


def _parameters(endpoint: Endpoint) -> list[dict[str, Any]]:
    params = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
              for name in re.findall(r"{(\w+)}", endpoint.path)]
    if endpoint.query is not None:
        params += [{"name": name, "in": "query", "required": False, "schema": field_schema(field)}
                   for name, field in endpoint.query().fields.items()]
    return params


def _request_body(endpoint: Endpoint) -> dict[str, Any] | None:
    if endpoint.form:
        schema = {"type": "object", "additionalProperties": {"type": "string"}}
        return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema},
                                              "application/json": {"schema": schema}}}
    if endpoint.body is None:
        return None
    return {"required": True, "content": {"application/json": {"schema": object_schema(endpoint.body())}}}


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    ok = {"description": "No content"} if endpoint.status == 204 else {
        # Lists (categories, histories) are JSON arrays, everything else an object.
        "description": "Success", "content": {"application/json": {"schema": {"type": ["object", "array"]}}}}
    statuses = set(endpoint.errors)
    if endpoint.access in (CUSTOMER, ADMIN):
        statuses |= {401}
    if endpoint.access == ADMIN:
        statuses |= {403}
    if endpoint.body or endpoint.query:
        statuses |= {400, 422}
    if endpoint.access != PUBLIC or endpoint.form:
        statuses |= {503, 504}
    if endpoint.rate is not None:
        statuses |= {429}
    body = OAUTH_ERROR if endpoint.form else ERROR
    errors = {str(s): {"description": REASONS.get(s, "Error"),
                       "content": {"application/json": {"schema": body}}} for s in sorted(statuses)}
    if "429" in errors:
        errors["429"]["headers"] = {"Retry-After": {
            "description": "Seconds to wait before trying again", "schema": {"type": "integer"}}}
    accepted = {str(status): ok for status in endpoint.also}
    return {str(endpoint.status): ok, **accepted, **errors}


def operation(endpoint: Endpoint) -> dict[str, Any]:
    """The OpenAPI operation object of one endpoint."""
    op: dict[str, Any] = {"summary": endpoint.summary, "tags": [endpoint.tag],
                          "operationId": endpoint.handler.__name__, "x-access": endpoint.access,
                          "parameters": _parameters(endpoint), "responses": _responses(endpoint)}
    if endpoint.access in (CUSTOMER, ADMIN):
        op["security"] = [{"bearer": []}]
    elif endpoint.access == ANYONE:
        op["security"] = [{}, {"bearer": []}]
    body = _request_body(endpoint)
    if body is not None:
        op["requestBody"] = body
    return op


def build_openapi(endpoints: Iterable[Endpoint], version: str = "1.0.0") -> dict[str, Any]:
    """The whole OpenAPI 3.1 document."""
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation(endpoint)
    error = {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["code", "message", "details"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "details": {"type": "object"}}}}}
    oauth_error = {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "error_description": {"type": "string"}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "nameko-shop API", "version": version},
        "paths": paths,
        "components": {
            "schemas": {"Error": error, "OAuthError": oauth_error},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
