"""OWASP API5:2023 Broken Function Level Authorization.

Every admin route of the route table (the one the gateway mounts and documents) refuses a
customer with 403 and an anonymous caller with 401, and nothing changes.
"""
import re
import uuid

import pytest

from gateway.app import ENDPOINTS
from gateway.auth import ADMIN, CUSTOMER
from tests.security.support import bearer

ADMIN_ROUTES = [(e.method, e.path) for e in ENDPOINTS if e.access == ADMIN]


def _concrete(path):
    return re.sub(r"{\w+}", lambda _: str(uuid.uuid4()), path)


def _body(method):
    return {} if method in ("POST", "PUT", "PATCH") else None


def test_the_route_table_has_admin_routes_to_check():
    # Guards against the parametrised tests below silently checking nothing.
    assert len(ADMIN_ROUTES) >= 10


def test_the_live_openapi_marks_the_same_routes_admin(client):
    document = client.get("/api/v1/openapi.json").json()
    documented = {(method.upper(), path) for path, ops in document["paths"].items()
                  for method, op in ops.items() if op.get("x-access") == ADMIN}
    assert documented == set(ADMIN_ROUTES)


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES])
def test_a_customer_is_refused_every_admin_route(client, customer, method, path):
    _, token = customer
    response = client.request(method, _concrete(path), headers=bearer(token), json=_body(method))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES, ids=[f"{m} {p}" for m, p in ADMIN_ROUTES])
def test_an_anonymous_caller_is_refused_every_admin_route(client, method, path):
    response = client.request(method, _concrete(path), json=_body(method))
    assert response.status_code == 401, response.text


def test_a_customer_cannot_make_themselves_admin(client, customer):
    user, token = customer
    response = client.put(f"/api/v1/users/{user['id']}/roles", headers=bearer(token),
                          json={"roles": ["admin", "customer"]})
    assert response.status_code == 403
    assert client.get("/api/v1/users/me", headers=bearer(token)).json()["roles"] == ["customer"]


def test_a_customer_cannot_ship_their_own_paid_order(client, victim):
    for action in ("ship", "deliver"):
        response = client.post(f"/api/v1/orders/{victim.order['id']}/{action}", headers=bearer(victim.token))
        assert response.status_code == 403, response.text
    assert client.get(f"/api/v1/orders/{victim.order['id']}",
                      headers=bearer(victim.token)).json()["status"] == "confirmed"


def test_a_customer_cannot_refund_their_own_payment(client, victim):
    response = client.post(f"/api/v1/payments/{victim.payment['id']}/refund", headers=bearer(victim.token),
                           json={"amount": 1})
    assert response.status_code == 403
    assert client.get(f"/api/v1/payments/{victim.payment['id']}",
                      headers=bearer(victim.token)).json()["status"] == "captured"


def test_inactive_products_are_for_admins_only(client, customer, admin_token):
    _, token = customer
    inactive = "/api/v1/products?include_inactive=true"
    assert client.get(inactive, headers=bearer(token)).status_code == 403
    assert client.get(inactive).status_code == 401
    assert client.get(inactive, headers=bearer(admin_token)).status_code == 200


def test_a_customer_listing_orders_sees_only_their_own(client, victim, admin_token):
    everyone = client.get("/api/v1/orders?per_page=100", headers=bearer(admin_token)).json()
    own = client.get("/api/v1/orders?per_page=100", headers=bearer(victim.token)).json()
    assert {o["user_id"] for o in own["items"]} == {victim.user["id"]}
    assert everyone["total"] >= own["total"]


# --- machine clients (client credentials): only the routes their scope names ------------------

MACHINE_SCOPE = "catalog:write"


@pytest.fixture(scope="module")
def machine_client(database_urls):
    """A confidential client registered as `shopctl register-client` does: (client_id, secret)."""
    from nameko_services.ops.clients import register_client

    described, secret = register_client("security-suite", "confidential", [], ["client_credentials"],
                                        [MACHINE_SCOPE], database_url=database_urls["core"])
    return described["client_id"], secret


@pytest.fixture(scope="module")
def machine_token(client, machine_client):
    response = client.post("/api/v1/oauth/token", auth=machine_client,
                           data={"grant_type": "client_credentials", "scope": MACHINE_SCOPE})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


SIGNED_IN_ROUTES = [(e.method, e.path, e.scope) for e in ENDPOINTS if e.access in (ADMIN, CUSTOMER)]


@pytest.mark.parametrize(("method", "path", "scope"), SIGNED_IN_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in SIGNED_IN_ROUTES])
def test_a_machine_token_reaches_only_the_routes_of_its_scope(client, machine_token, method, path, scope):
    response = client.request(method, _concrete(path), headers=bearer(machine_token), json=_body(method))
    if scope == MACHINE_SCOPE:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text


def test_a_machine_client_with_a_wrong_secret_gets_no_token(client, machine_client):
    client_id, _ = machine_client
    response = client.post("/api/v1/oauth/token", auth=(client_id, "not the secret"),
                           data={"grant_type": "client_credentials"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def test_a_machine_client_cannot_ask_for_a_scope_it_was_not_granted(client, machine_client):
    response = client.post("/api/v1/oauth/token", auth=machine_client,
                           data={"grant_type": "client_credentials", "scope": f"{MACHINE_SCOPE} admin"})
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope", response.text


def test_a_machine_client_cannot_use_the_password_grant(client, machine_client, victim):
    response = client.post("/api/v1/oauth/token", auth=machine_client, data={
        "grant_type": "password", "username": victim.user["email"], "password": "correct horse battery"})
    assert response.status_code in (400, 401) and "access_token" not in response.text, response.text
