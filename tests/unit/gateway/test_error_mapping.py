"""Every error that crosses RPC has an HTTP status; everything else is a sealed 500 or a 502."""
from __future__ import annotations

import pytest

from gateway.errors import BadGateway, status_for
from gateway.rpc import result_of
from nameko_services.common import errors
from nameko_services.common.errors import REGISTRY, OAuthError, ServiceError

REMOTE_ERRORS = sorted((cls for cls in REGISTRY.values() if cls is not ServiceError),
                       key=lambda c: c.__name__)
EXPECTED_BY_BASE = [
    (errors.InvalidInput, 422), (errors.NotAuthenticated, 401), (errors.PermissionDenied, 403),
    (errors.NotFound, 404), (errors.Conflict, 409), (errors.ServiceUnavailable, 503),
    (errors.ServiceTimeout, 504), (errors.InvalidGrant, 400), (errors.InvalidClient, 401),
]


@pytest.mark.parametrize("cls", REMOTE_ERRORS, ids=lambda c: c.__name__)
def test_every_registered_error_class_has_a_status(cls):
    mapped = status_for(cls)
    assert mapped is not None, f"{cls.__name__} has no entry in gateway.errors.STATUS"
    assert 400 <= mapped[0] < 600 and mapped[0] != 500


@pytest.mark.parametrize(("cls", "status"), EXPECTED_BY_BASE, ids=lambda v: getattr(v, "__name__", str(v)))
def test_base_classes_map_to_the_statuses_the_api_promises(cls, status):
    assert status_for(cls)[0] == status


@pytest.mark.parametrize("cls", [c for c in REMOTE_ERRORS if not issubclass(c, OAuthError)],
                         ids=lambda c: c.__name__)
async def test_a_remote_error_is_answered_with_its_status_code_and_details(client, rpc, cls):
    rpc.fail("catalog", "list_categories", cls("It went wrong.", {"field": ["Bad."], "count": 2}))
    response = await client.get("/api/v1/categories")
    assert response.status_code == status_for(cls)[0]
    assert response.json() == {"error": {"code": cls.code, "message": "It went wrong.",
                                         "details": {"field": ["Bad."], "count": 2}}}


@pytest.mark.parametrize("cls", [c for c in REMOTE_ERRORS if issubclass(c, OAuthError)],
                         ids=lambda c: c.__name__)
async def test_an_oauth_error_is_answered_in_rfc_6749_shape(client, rpc, cls):
    rpc.fail("users", "issue_token", cls("Nope."))
    response = await client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": "a",
                                                              "password": "b"})
    assert response.status_code == cls.status
    assert response.json() == {"error": cls.code, "error_description": "Nope."}
    assert response.headers["cache-control"] == "no-store"


async def test_the_class_code_wins_over_the_base_code(client, rpc):
    rpc.fail("catalog", "list_categories", errors.DuplicateSku())
    body = (await client.get("/api/v1/categories")).json()
    assert body["error"]["code"] == "duplicate_sku"


async def test_a_bare_service_error_is_a_500_that_names_nothing_internal(client, rpc):
    rpc.fail("catalog", "list_categories", ServiceError("psycopg2 blew up in catalog.repository"))
    response = await client.get("/api/v1/categories")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert "psycopg2" not in response.text and "catalog" not in response.text


async def test_an_unexpected_exception_is_a_500_that_names_nothing_internal(client, rpc):
    rpc.fail("catalog", "list_categories", KeyError("secret_internal_name"))
    response = await client.get("/api/v1/categories")
    assert response.status_code == 500
    # Only the request id, which the logged traceback carries too.
    assert response.json() == {"error": {"code": "internal_error",
                                         "message": "Something went wrong on our side.",
                                         "details": {"request_id": response.headers["x-request-id"]}}}
    assert "secret_internal_name" not in response.text and "KeyError" not in response.text


def test_a_reply_with_a_registered_error_is_rebuilt_as_that_class():
    reply = {"result": None, "error": {"exc_type": "EmailTaken", "exc_path": "x.EmailTaken",
                                       "exc_args": ["Taken.", {"email": ["Taken."]}], "value": "Taken."}}
    with pytest.raises(errors.EmailTaken) as caught:
        result_of(reply, "users", "register")
    assert caught.value.details == {"email": ["Taken."]}


async def test_a_concurrent_change_the_orders_retry_gave_up_on_is_a_409_not_a_502(client, rpc):
    reply = {"result": None, "error": {
        "exc_type": "StreamConflict", "exc_path": "nameko_services.common.errors.StreamConflict",
        "exc_args": ["Changed meanwhile.", '{"stream_id": "o-1", "expected_version": 3}'],
        "value": "Changed meanwhile."}}
    rpc.handlers[("catalog", "list_categories")] = lambda **_: result_of(reply, "orders", "cancel_order")
    response = await client.get("/api/v1/categories")
    assert response.status_code == 409
    assert response.json() == {"error": {"code": "concurrent_modification", "message": "Changed meanwhile.",
                                         "details": {"stream_id": "o-1", "expected_version": 3}}}


@pytest.mark.parametrize("exc_type", ["MethodNotFound", "IncorrectSignature", "MalformedRequest",
                                      "KeyError", "SomethingNew"])
def test_a_reply_with_an_unknown_or_nameko_error_is_a_bad_gateway(exc_type):
    reply = {"result": None, "error": {"exc_type": exc_type, "exc_path": f"nameko.exceptions.{exc_type}",
                                       "exc_args": ["internal detail"], "value": "internal detail"}}
    with pytest.raises(BadGateway):
        result_of(reply, "users", "register")


async def test_a_bad_gateway_does_not_leak_the_remote_details(client, rpc):
    def unknown(**_):
        return result_of({"error": {"exc_type": "MethodNotFound", "exc_args": ["list_categoriez"],
                                    "value": "list_categoriez"}}, "catalog", "list_categories")
    rpc.handlers[("catalog", "list_categories")] = unknown
    response = await client.get("/api/v1/categories")
    assert response.status_code == 502 and response.json()["error"]["code"] == "bad_gateway"
    assert "list_categoriez" not in response.text


def test_a_reply_without_an_error_gives_its_result():
    assert result_of({"result": {"id": "1"}, "error": None}, "users", "get_me") == {"id": "1"}


def reply_of_a_newer_error(bases, code="gift_card_expired"):
    """The reply of a service that raised an error class this gateway was built without."""
    return {"result": None, "error": {
        "exc_type": "GiftCardExpired", "exc_path": "nameko_services.common.errors.GiftCardExpired",
        "exc_args": ["The gift card expired.", '{"card": "c-1"}'], "value": "The gift card expired.",
        "exc_bases": bases, "exc_code": code}}


@pytest.mark.parametrize(("bases", "status"), [
    (["NotFound", "ServiceError"], 404), (["Conflict", "ServiceError"], 409),
    (["InvalidInput", "ServiceError"], 422), (["BadRequest", "ServiceError"], 400),
    (["PermissionDenied", "ServiceError"], 403), (["NotAuthenticated", "ServiceError"], 401),
    (["SomethingNewer", "OutOfStock", "Conflict", "ServiceError"], 409),
    (["ServiceTimeout", "ServiceUnavailable", "ServiceError"], 504),
])
async def test_an_error_class_unknown_here_is_answered_by_its_nearest_known_base(client, rpc, bases,
                                                                                 status):
    rpc.handlers[("catalog", "list_categories")] = lambda **_: result_of(
        reply_of_a_newer_error(bases), "catalog", "list_categories")
    response = await client.get("/api/v1/categories")
    assert response.status_code == status
    assert response.json()["error"] == {"code": "gift_card_expired", "message": "The gift card expired.",
                                        "details": {"card": "c-1"}}


@pytest.mark.parametrize("bases", [["ServiceError"], ["Unheard", "ServiceError"], None])
def test_an_error_class_with_no_base_known_here_is_still_a_bad_gateway(bases):
    with pytest.raises(BadGateway):
        result_of(reply_of_a_newer_error(bases), "catalog", "list_categories")
