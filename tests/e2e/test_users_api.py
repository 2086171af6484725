"""Accounts and OAuth tokens through the HTTP gateway, as the frontend uses them."""
import base64
import json
import uuid

PASSWORD = "correct horse battery"


def _email():
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _password_grant(client, email, password=PASSWORD):
    return client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": email,
                                                    "password": password})


def test_a_customer_registers_signs_in_refreshes_and_edits_the_profile(client):
    email = _email()
    created = client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "Ada"})
    assert created.status_code == 201, created.text
    assert created.json()["roles"] == ["customer"]

    tokens = _password_grant(client, email.upper())
    assert tokens.status_code == 200 and tokens.headers["cache-control"] == "no-store"
    body = tokens.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0

    me = client.get("/api/v1/users/me", headers=_bearer(body["access_token"]))
    assert me.status_code == 200 and me.json()["email"] == email

    refreshed = client.post("/api/v1/oauth/token", data={"grant_type": "refresh_token",
                                                         "refresh_token": body["refresh_token"]})
    assert refreshed.status_code == 200
    new_access = refreshed.json()["access_token"]

    patched = client.patch("/api/v1/users/me", headers=_bearer(new_access), json={
        "name": "Ada Lovelace",
        "shipping_address": {"name": "Ada Lovelace", "line1": "1 Main St",
                             "city": "London", "postal_code": "N1 9GU", "country": "GB"}})
    assert patched.status_code == 200 and patched.json()["name"] == "Ada Lovelace"

    reused = client.post("/api/v1/oauth/token", data={"grant_type": "refresh_token",
                                                      "refresh_token": body["refresh_token"]})
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_the_same_email_in_another_case_is_a_409(client):
    email = _email()
    first = client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "A"})
    assert first.status_code == 201
    again = client.post("/api/v1/users", json={"email": email.upper(), "password": PASSWORD, "name": "A"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "email_taken"


def test_registration_errors_name_each_bad_field(client):
    response = client.post("/api/v1/users", json={"email": "nope", "password": "short", "name": "",
                                                  "is_admin": True})
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert {"email", "is_admin"} <= set(details)


def test_a_malformed_body_is_a_400_not_a_500(client):
    response = client.post("/api/v1/users", content=b"{not json",
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_request"


def test_wrong_password_and_unknown_user_look_the_same(client, register_customer):
    user, _ = register_customer()
    wrong = _password_grant(client, user["email"], "not the password")
    unknown = _password_grant(client, _email())
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()


def test_changing_the_password_revokes_refresh_tokens(client):
    email = _email()
    client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "Ada"})
    tokens = _password_grant(client, email).json()
    changed = client.post("/api/v1/users/me/password", headers=_bearer(tokens["access_token"]),
                          json={"current_password": PASSWORD, "new_password": "a brand new secret"})
    assert changed.status_code == 204
    refresh = client.post("/api/v1/oauth/token", data={"grant_type": "refresh_token",
                                                       "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 400
    assert _password_grant(client, email, "a brand new secret").status_code == 200


def test_revoking_a_refresh_token_ends_it(client, register_customer):
    email = _email()
    client.post("/api/v1/users", json={"email": email, "password": PASSWORD, "name": "Ada"})
    tokens = _password_grant(client, email).json()
    assert client.post("/api/v1/oauth/revoke", data={"token": tokens["refresh_token"]}).status_code == 200
    refresh = client.post("/api/v1/oauth/token", data={"grant_type": "refresh_token",
                                                       "refresh_token": tokens["refresh_token"]})
    assert refresh.status_code == 400


def test_no_token_is_401_and_a_customer_on_an_admin_route_is_403(client, register_customer):
    anonymous = client.get("/api/v1/users")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"].startswith("Bearer")
    _, token = register_customer()
    assert client.get("/api/v1/users", headers=_bearer(token)).status_code == 403


def test_admins_list_users_and_grant_roles(client, admin_token, register_customer):
    user, _ = register_customer()
    listing = client.get("/api/v1/users?page=1&per_page=5", headers=_bearer(admin_token))
    assert listing.status_code == 200 and listing.json()["per_page"] == 5
    granted = client.put(f"/api/v1/users/{user['id']}/roles", headers=_bearer(admin_token),
                         json={"roles": ["customer", "admin"]})
    assert granted.status_code == 200 and "admin" in granted.json()["roles"]
    assert client.get(f"/api/v1/users/{uuid.uuid4()}", headers=_bearer(admin_token)).status_code == 404
    assert client.get("/api/v1/users?per_page=1000", headers=_bearer(admin_token)).status_code == 422


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_and_unsigned_tokens_are_refused(client, register_customer):
    user, token = register_customer()
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["customer", "admin"]
    tampered = f"{header}.{_b64(claims)}.{signature}"
    unsigned = f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."
    for bad in (tampered, unsigned, "not-a-jwt"):
        response = client.get("/api/v1/users", headers=_bearer(bad))
        assert response.status_code == 401, bad
        assert response.json()["error"]["code"] == "not_authenticated"


def test_the_jwks_has_the_signing_key(client, register_customer):
    _, token = register_customer()
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))["kid"]
    jwks = client.get("/.well-known/jwks.json").json()
    assert kid in {key["kid"] for key in jwks["keys"]}
