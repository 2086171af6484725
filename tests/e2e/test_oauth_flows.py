"""OAuth clients through the running platform: the code flow with PKCE from the sign-in page to
an API call, and a machine client registered with the shopctl function using its scope."""
import base64
import hashlib
import re
import secrets
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx

from nameko_services.ops.clients import register_client
from tests.e2e.conftest import CUSTOMER_PASSWORD

CALLBACK = "http://127.0.0.1:9/callback"


def _challenge(verifier):
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def test_a_user_signs_in_on_the_page_and_the_app_calls_the_api_with_the_code_s_token(
        platform, database_urls, register_customer):
    user, _ = register_customer()
    app, _ = register_client("E2E app", "public", [CALLBACK], [], [], database_url=database_urls["core"])
    verifier = secrets.token_urlsafe(48)
    with httpx.Client(base_url=platform.base_url, timeout=30) as browser:
        page = browser.get("/api/v1/oauth/authorize", params={
            "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK,
            "scope": "shop", "state": "st-1", "code_challenge": _challenge(verifier),
            "code_challenge_method": "S256"})
        assert page.status_code == 200 and page.headers["x-frame-options"] == "DENY", page.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        approved = browser.post("/api/v1/oauth/authorize", data={
            "csrf_token": csrf, "username": user["email"], "password": CUSTOMER_PASSWORD,
            "decision": "approve"})
    assert approved.status_code == 303, approved.text
    location = urlsplit(approved.headers["location"])
    query = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK and query["state"] == ["st-1"]

    with httpx.Client(base_url=platform.base_url, timeout=30) as app_backend:
        tokens = app_backend.post("/api/v1/oauth/token", data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": CALLBACK,
            "client_id": app["client_id"], "code_verifier": verifier})
        assert tokens.status_code == 200 and tokens.headers["cache-control"] == "no-store", tokens.text
        me = app_backend.get("/api/v1/users/me",
                             headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
        assert me.status_code == 200 and me.json()["id"] == user["id"]
        reused = app_backend.post("/api/v1/oauth/token", data={
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": CALLBACK,
            "client_id": app["client_id"], "code_verifier": verifier})
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_a_machine_client_manages_the_catalog_with_its_scope_and_nothing_else(client, database_urls):
    robot, secret = register_client("E2E stock robot", "confidential", [], [], ["catalog:write"],
                                    database_url=database_urls["core"])
    tokens = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                         auth=(robot["client_id"], secret))
    assert tokens.status_code == 200 and "refresh_token" not in tokens.json(), tokens.text
    bearer = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    created = client.post("/api/v1/categories", json={"name": f"Robots {uuid.uuid4().hex[:6]}"},
                          headers=bearer)
    assert created.status_code == 201, created.text
    assert client.get("/api/v1/users/me", headers=bearer).status_code == 403
    wrong = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(robot["client_id"], "not the secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert wrong.headers["www-authenticate"].startswith("Basic")
