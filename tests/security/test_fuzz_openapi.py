"""Property-based fuzzing of every operation of the gateway's own OpenAPI document.

Schemathesis generates requests from ``/api/v1/openapi.json`` (valid and invalid ones), sends
them to the running platform with an admin token, and checks properties of every answer: no
5xx (bad input is a 4xx naming the problem), the body matches the documented schema of its
status, and an operation that declares bearer auth refuses the same request without or with a
broken token (schemathesis ``ignored_auth``). Bounded: a fixed number of examples per
operation, a deterministic seed, no example database, and a time cap per operation.
"""
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth, response_schema_conformance

from gateway.app import ENDPOINTS
from gateway.openapi import build_openapi

MAX_EXAMPLES = 15
# Its own client address (believed: 127.0.0.1 is a trusted proxy on this platform), so the fuzzer
# spends its own rate-limit budget, not the one the other tests share.
FUZZER_ADDRESS = "198.19.255.1"
OPERATION_TIME_CAP = 90  # seconds, per operation (pytest-timeout)
REQUEST_TIMEOUT = 15  # seconds; the platform's RPC timeout is 3 s, so a hang is a failure


# The document the gateway serves is built from its route table when the app is made; building
# it here lets pytest collect one test per operation before the platform runs (the test below
# checks the live document is this one).
DOCUMENT = build_openapi(ENDPOINTS)
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                                max_examples=MAX_EXAMPLES, deterministic=True)


def test_the_fuzzed_document_is_the_one_the_gateway_serves(client):
    assert client.get("/api/v1/openapi.json").json() == DOCUMENT


@pytest.mark.timeout(OPERATION_TIME_CAP)
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_generated_request_gets_a_5xx_a_body_off_schema_or_in_without_auth(case, gateway_url, admin_token):
    # A generated (broken) Authorization header is part of the input: keep it.
    headers = {"X-Forwarded-For": FUZZER_ADDRESS}
    if "Authorization" not in (case.headers or {}):
        headers["Authorization"] = f"Bearer {admin_token}"
    case.call_and_validate(base_url=gateway_url, headers=headers, timeout=REQUEST_TIMEOUT,
                           checks=[not_a_server_error, response_schema_conformance, ignored_auth])


def _seeded_reads(client, victim, admin_token):
    """(path template, concrete path, token) of reads whose answers hold real documents: the fuzzer's
    random ids find nothing, so without these its schema checks would see only empty pages."""
    from tests.security.support import bearer, new_product, order_body, place, wait_for

    item = new_product(client, admin_token)
    waiting = place(client, victim.token, order_body(item["id"], card="tok_threeDSecure2Required")).json()
    waiting = wait_for(client, victim.token, waiting["id"], {"awaiting_payment"})
    for _ in range(50):  # payments answers within a second: the order then shows the step
        if waiting["payment_action"] is not None:
            break
        time.sleep(0.2)
        waiting = client.get(f"/api/v1/orders/{waiting['id']}", headers=bearer(victim.token)).json()
    order, payment = victim.order["id"], victim.payment["id"]
    return [("/api/v1/products", "/api/v1/products", None),
            ("/api/v1/products/{product_id}", f"/api/v1/products/{item['id']}", None),
            ("/api/v1/products/{product_id}/stock", f"/api/v1/products/{item['id']}/stock", admin_token),
            ("/api/v1/categories", "/api/v1/categories", None),
            ("/api/v1/users", "/api/v1/users", admin_token),
            ("/api/v1/users/me", "/api/v1/users/me", victim.token),
            ("/api/v1/orders", "/api/v1/orders", admin_token),
            ("/api/v1/orders/{order_id}", f"/api/v1/orders/{order}", victim.token),
            ("/api/v1/orders/{order_id}", f"/api/v1/orders/{waiting['id']}", victim.token),
            ("/api/v1/orders/{order_id}/events", f"/api/v1/orders/{order}/events", victim.token),
            ("/api/v1/payments", "/api/v1/payments", admin_token),
            ("/api/v1/payments/{payment_id}", f"/api/v1/payments/{payment}", victim.token),
            ("/api/v1/payments/{payment_id}/events", f"/api/v1/payments/{payment}/events", victim.token),
            ("/health/services", "/health/services", None),
            ("/.well-known/jwks.json", "/.well-known/jwks.json", None)]


def test_real_answers_with_documents_in_them_match_their_schemas(client, victim, admin_token):
    reads = _seeded_reads(client, victim, admin_token)
    for template, path, token in reads:
        response = client.get(path, headers={"Authorization": f"Bearer {token}"} if token else {})
        assert response.status_code == 200, (path, response.text)
        schema[template]["GET"].validate_response(response)  # raises naming what is off-schema
    shown = client.get(reads[8][1], headers={"Authorization": f"Bearer {victim.token}"}).json()
    assert shown["payment_action"]["type"] == "redirect"  # the nullable step was checked filled in
