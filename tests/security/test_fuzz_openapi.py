"""Property-based fuzzing of every operation of the gateway's own OpenAPI document.

Schemathesis generates requests from ``/api/v1/openapi.json`` (valid and invalid ones), sends
them to the running platform with an admin token, and checks properties of every answer: no
5xx (bad input is a 4xx naming the problem), the body matches the documented schema of its
status, and an operation that declares bearer auth refuses the same request without or with a
broken token (schemathesis ``ignored_auth``). Bounded: a fixed number of examples per
operation, a deterministic seed, no example database, and a time cap per operation.
"""
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
