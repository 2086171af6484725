"""Hostile input through the running platform (issue 9): a clean 4xx, never a 5xx, nothing stored."""
import json
import uuid

from tests.e2e.saga_support import ADDRESS, bearer

LONE = "\\ud800"  # a lone UTF-16 surrogate, as the JSON escape a client sends
JSON = {"content-type": "application/json"}


def _order(product_id, **address):
    return {"items": [{"product_id": product_id, "quantity": 1}],
            "shipping_address": dict(ADDRESS, **address), "payment": {"token": "tok_visa"}}


def _with_lone_surrogate(body, marker):
    return json.dumps(body).replace(marker, LONE).encode()


def test_a_lone_surrogate_in_a_registration_a_profile_or_an_order_is_a_422(client, register_customer,
                                                                            product):
    _, token = register_customer()
    registration = {"email": f"s-{uuid.uuid4().hex[:8]}@example.com", "password": "@@", "name": "Ada"}
    answers = {
        "register": client.post("/api/v1/users", content=_with_lone_surrogate(registration, "@@"),
                                headers=JSON),
        "profile": client.patch("/api/v1/users/me", headers={**bearer(token), **JSON},
                                content=_with_lone_surrogate({"shipping_address": dict(ADDRESS, line1="@@")},
                                                             "@@")),
        "order": client.post("/api/v1/orders", headers={**bearer(token), **JSON, "Idempotency-Key": "s-1"},
                             content=_with_lone_surrogate(_order(product()["id"], city="@@"), "@@")),
    }
    assert {what: r.status_code for what, r in answers.items()} == dict.fromkeys(answers, 422)
    assert "password" in answers["register"].json()["error"]["details"]
    assert "city" in answers["order"].json()["error"]["details"]["shipping_address"]


def test_an_order_to_a_country_that_does_not_exist_is_a_422_and_not_stored(client, register_customer,
                                                                             product):
    _, token = register_customer()
    product_id = product()["id"]
    for country in ("ZZ", "XX", "US\n", "us"):
        response = client.post("/api/v1/orders", json=_order(product_id, country=country),
                               headers={**bearer(token), "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 422, (country, response.text)
        assert "country" in response.json()["error"]["details"]["shipping_address"]
    assert client.get("/api/v1/orders", headers=bearer(token)).json()["total"] == 0


def test_a_body_of_1000_nested_arrays_is_a_400_on_api_and_oauth_routes(client):
    body = b"[" * 1000 + b"]" * 1000
    api = client.post("/api/v1/users", content=body, headers=JSON)
    assert api.status_code == 400 and api.json()["error"]["code"] == "bad_request"
    oauth = client.post("/api/v1/oauth/token", content=body, headers=JSON)
    assert oauth.status_code == 400 and oauth.json()["error"] == "invalid_request"
