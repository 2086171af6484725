"""The OpenAPI document is a contract a client can be generated from (issue 13).

Typed answers for every operation, checked against what the services really dump and against
each example; the error bodies; Idempotency-Key as a required header; the OAuth 2.0 flows with
the platform's own URLs and scopes.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from gateway.app import ENDPOINTS
from gateway.openapi import build_openapi
from nameko_services.catalog.commands import ProductView
from nameko_services.catalog.domain import Category, Product, StockLevel
from nameko_services.catalog.schemas import dump_category, dump_product, dump_stock
from nameko_services.common.auth import MACHINE_SCOPES
from nameko_services.orders.projection import document as order_document
from nameko_services.payments import domain as payments
from nameko_services.payments.schemas import dump_payment
from nameko_services.users.domain import USER_SCOPES, User
from nameko_services.users.schemas import dump_user
from tests.unit.orders import builders

DOCUMENT = build_openapi(ENDPOINTS)
ROOT = "urn:nameko-shop:openapi"
REGISTRY = Registry().with_resource(ROOT, DRAFT202012.create_resource(DOCUMENT))
JSON_ENDPOINTS = [e for e in ENDPOINTS if e.media == "application/json"]
NOW = datetime(2026, 12, 2, 10, 15, tzinfo=UTC)


def validator(schema):
    return Draft202012Validator(schema, registry=REGISTRY, format_checker=FormatChecker())


def component(name):
    return validator({"$ref": f"{ROOT}#/components/schemas/{name}"})


def problems(schema_name, value):
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in component(schema_name).iter_errors(value)]


def operations():
    for path, methods in DOCUMENT["paths"].items():
        for method, op in methods.items():
            yield f"{method.upper()} {path}", op


def _resolved(schema):
    """A media type's schema with its local refs pointed at the whole document."""
    if isinstance(schema, dict):
        return {key: (f"{ROOT}{value}" if key == "$ref" and value.startswith("#") else _resolved(value))
                for key, value in schema.items()}
    if isinstance(schema, list):
        return [_resolved(item) for item in schema]
    return schema


@pytest.mark.parametrize("endpoint", [e for e in JSON_ENDPOINTS if e.answer is not None],
                         ids=lambda e: f"{e.method} {e.path}")
def test_every_success_answer_is_a_named_schema_not_any_object(endpoint):
    op = DOCUMENT["paths"][endpoint.path][endpoint.method.lower()]
    schema = op["responses"][str(endpoint.status)]["content"]["application/json"]["schema"]
    ref = schema["items"]["$ref"] if endpoint.many else schema["$ref"]
    assert ref.startswith("#/components/schemas/")
    assert ref.rsplit("/", 1)[1] in DOCUMENT["components"]["schemas"]


def test_the_routes_of_this_contract_all_declare_their_answer():
    mine = [e for e in JSON_ENDPOINTS if e.tag in ("users", "catalog", "payments", "auth", "operations")
            or e.handler.__module__ == "gateway.routes.orders" and e.path in {
                "/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/orders/{order_id}/events",
                "/api/v1/orders/{order_id}/cancel", "/api/v1/orders/{order_id}/ship",
                "/api/v1/orders/{order_id}/deliver"}]
    assert len(mine) > 30
    assert [f"{e.method} {e.path}" for e in mine if e.answer is None and e.status != 204] == []


@pytest.mark.parametrize(("name", "op"), list(operations()), ids=[name for name, _ in operations()])
def test_every_example_matches_its_schema_and_every_operation_has_one(name, op):
    found = 0
    for status, answer in op["responses"].items():
        for media_type, media in answer.get("content", {}).items():
            if "example" in media and media_type == "application/json":
                errors = list(validator(_resolved(media["schema"])).iter_errors(media["example"]))
                assert errors == [], (status, [e.message for e in errors])
            found += "example" in media
    body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
    if "example" in body:
        errors = list(validator(_resolved(body["schema"])).iter_errors(body["example"]))
        assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]
        found += 1
    typed = any("$ref" in str(answer.get("content")) or "text/" in str(answer.get("content"))
                for status, answer in op["responses"].items() if status.startswith("2"))
    assert found or name.startswith("DELETE ") or not typed, f"{name} has no example"


@pytest.mark.parametrize("status", ["400", "401", "404", "422", "503"])
def test_errors_are_the_one_error_body(status):
    answers = DOCUMENT["paths"]["/api/v1/orders/{order_id}"]["patch"]["responses"]
    if status in answers:
        schema = answers[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}
    error = {"error": {"code": "not_found", "message": "No such order.", "details": {}}}
    assert problems("Error", error) == []
    assert problems("Error", {"error": "not_found"}) != []


def test_the_oauth_endpoints_document_rfc_6749_errors():
    answers = DOCUMENT["paths"]["/api/v1/oauth/token"]["post"]["responses"]
    either = answers["400"]["content"]["application/json"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/OAuthError"} in either
    assert problems("Token", {"access_token": "a.b.c", "token_type": "Bearer", "expires_in": 900,
                              "scope": "catalog:write"}) == []


def test_idempotency_key_is_a_required_header_of_placing_an_order():
    params = DOCUMENT["paths"]["/api/v1/orders"]["post"]["parameters"]
    [key] = [p for p in params if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and key["required"] is True and key["schema"]["maxLength"] == 255
    others = [name for name, op in operations()
              if any(p["name"] == "Idempotency-Key" for p in op["parameters"])]
    assert others == ["POST /api/v1/orders"]


def test_the_oauth2_scheme_has_the_code_and_client_credentials_flows_of_this_platform():
    scheme = DOCUMENT["components"]["securitySchemes"]["oauth2"]
    flows = scheme["flows"]
    code, machine = flows["authorizationCode"], flows["clientCredentials"]
    mounted = {e.path for e in ENDPOINTS}
    assert {code["authorizationUrl"], code["tokenUrl"], code["refreshUrl"], machine["tokenUrl"]} <= mounted
    assert set(code["scopes"]) == set(USER_SCOPES) and set(machine["scopes"]) == set(MACHINE_SCOPES)
    assert "PKCE" in scheme["description"]
    assert DOCUMENT["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    stock = DOCUMENT["paths"]["/api/v1/products/{product_id}/stock"]["put"]["security"]
    assert {"oauth2": ["catalog:write"]} in stock and {"oauth2": ["shop"]} in stock


def test_what_the_services_dump_matches_the_answer_schemas():
    product = Product("0b8f4a52-3c1d-4e6f-8a9b-7c6d5e4f3a2b", "MUG-1", "Mug", 1250, "EUR", created_at=NOW,
                      updated_at=NOW)
    assert problems("Product", dump_product(ProductView(product, StockLevel(product.id, 5, 1)))) == []
    assert problems("Category", dump_category(Category("c2d4e6f8-1a3b-4c5d-8e7f-9a0b1c2d3e4f", "Kitchen",
                                                       "kitchen"))) == []
    assert problems("Stock", dump_stock(StockLevel(product.id, 5, 1))) == []
    user = User("6f1c2a4e-8b7d-4c3a-9e2f-1a2b3c4d5e6f", "ada@example.com", "Ada", "hash", created_at=NOW)
    assert problems("User", dump_user(user)) == []
    payment = payments.initiate("9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", builders.ORDER, 1, builders.USER,
                                2500, "EUR", "tok_visa", "sandbox")
    payment.created_at = payment.updated_at = NOW
    assert problems("Payment", dump_payment(payment)) == []
    for order in (builders.placed(), builders.confirmed(), builders.cancelled()):
        assert problems("Order", order_document(order)) == []


def test_an_answer_missing_a_field_or_of_the_wrong_type_is_off_schema():
    order = order_document(builders.placed())
    assert problems("Order", {k: v for k, v in order.items() if k != "status"}) != []
    assert problems("Order", {**order, "total": "25.00"}) != []
    assert problems("Order", {**order, "status": "lost"}) != []
