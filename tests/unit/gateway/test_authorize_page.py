"""The authorization endpoint's sign-in and consent page: validation first, CSRF, redirects."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from nameko_services.common.errors import InvalidClient, InvalidGrant, InvalidRequest, LoginThrottled
from tests.unit.gateway.gateway_fakes import ISSUER, FakeRpc

PATH = "/api/v1/oauth/authorize"
CALLBACK = "https://app.test/callback?tenant=1"
REQUEST = {"response_type": "code", "client_id": "app", "redirect_uri": CALLBACK, "scope": "shop",
           "state": "xyz", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
           "code_challenge_method": "S256"}
CHECKED = {"client_id": "app", "client_name": "<b>Pet Shop</b>", "redirect_uri": CALLBACK,
           "scope": "shop", "state": "xyz", "code_challenge": REQUEST["code_challenge"],
           "code_challenge_method": "S256"}


@pytest.fixture
async def browser(settings: Settings, rpc: FakeRpc) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies, against an app whose CSRF key is fixed (no key files)."""
    app = create_app(settings, rpc)
    app.state.csrf_key = b"k" * 32
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as http:
        yield http


def csrf_token(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


async def open_page(browser: httpx.AsyncClient, rpc: FakeRpc) -> str:
    rpc.answer("users", "check_authorization", CHECKED)
    page = await browser.get(PATH, params=REQUEST)
    assert page.status_code == 200
    return csrf_token(page)


def redirect_params(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == "https://app.test/callback"
    return parse_qs(location.query)


async def test_a_valid_request_gets_a_locked_down_page_with_the_client_name_escaped(browser, rpc):
    rpc.answer("users", "check_authorization", CHECKED)
    page = await browser.get(PATH, params=REQUEST)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;Pet Shop&lt;/b&gt;" in page.text and "<b>Pet Shop</b>" not in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self' https://app.test" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and f"path={PATH}" in cookie
    assert rpc.calls_to("users", "check_authorization")[0].kwargs == {"request": REQUEST}


async def test_an_unknown_client_or_redirect_uri_is_an_error_page_never_a_redirect(browser, rpc):
    rpc.fail("users", "check_authorization", InvalidClient("Unknown client."))
    page = await browser.get(PATH, params={**REQUEST, "redirect_uri": "https://evil.test/"})
    assert page.status_code == 400 and "location" not in page.headers
    assert "Unknown client." in page.text and "evil.test" not in page.text


async def test_a_repeated_parameter_is_an_error_page(browser, rpc):
    page = await browser.get(f"{PATH}?client_id=a&client_id=b")
    assert page.status_code == 400 and rpc.calls_to("users", "check_authorization") == []


async def test_other_problems_go_back_to_the_client_with_its_state(browser, rpc):
    rpc.answer("users", "check_authorization", {
        "error": "invalid_request", "error_description": "code_challenge_method must be S256.",
        "redirect_uri": CALLBACK, "state": "xyz"})
    params = redirect_params(await browser.get(PATH, params={**REQUEST, "code_challenge_method": "plain"}))
    assert params == {"tenant": ["1"], "error": ["invalid_request"], "state": ["xyz"], "iss": [ISSUER],
                      "error_description": ["code_challenge_method must be S256."]}


async def test_approving_with_the_right_password_redirects_with_a_code(browser, rpc):
    token = await open_page(browser, rpc)
    rpc.answer("users", "approve_authorization",
               {"redirect_uri": CALLBACK, "code": "the-code", "state": "xyz"})
    response = await browser.post(PATH, data={"csrf_token": token, "username": "ada@example.com",
                                              "password": "pw", "decision": "approve"})
    assert redirect_params(response) == {"tenant": ["1"], "code": ["the-code"], "state": ["xyz"],
                                         "iss": [ISSUER]}
    call = rpc.calls_to("users", "approve_authorization")[0].kwargs
    assert call["request"] == REQUEST and (call["username"], call["password"]) == ("ada@example.com", "pw")
    again = await browser.post(PATH, data={"csrf_token": token, "username": "ada@example.com",
                                           "password": "pw", "decision": "approve"})
    assert again.status_code == 400  # the cookie is gone: one code per page


async def test_denying_redirects_with_access_denied_and_signs_nobody_in(browser, rpc):
    token = await open_page(browser, rpc)
    response = await browser.post(PATH, data={"csrf_token": token, "decision": "deny"})
    assert redirect_params(response) == {"tenant": ["1"], "error": ["access_denied"], "state": ["xyz"],
                                         "iss": [ISSUER]}
    assert rpc.calls_to("users", "approve_authorization") == []


@pytest.mark.parametrize("tamper", ["no cookie", "forged token", "no token"])
async def test_a_form_without_its_cookie_or_with_a_forged_token_is_refused(browser, rpc, tamper):
    token = await open_page(browser, rpc)
    form = {"csrf_token": token, "username": "a@b.c", "password": "pw", "decision": "approve"}
    if tamper == "no cookie":
        browser.cookies.clear()
    elif tamper == "forged token":
        form["csrf_token"] = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    else:
        del form["csrf_token"]
    response = await browser.post(PATH, data=form)
    assert response.status_code == 400 and "start signing in again" in response.text
    assert rpc.calls_to("users", "approve_authorization") == []


async def test_a_wrong_password_shows_the_page_again_with_the_email_kept(browser, rpc):
    token = await open_page(browser, rpc)
    rpc.fail("users", "approve_authorization", InvalidGrant("Invalid username or password."))
    response = await browser.post(PATH, data={"csrf_token": token, "username": "ada@example.com",
                                              "password": "nope", "decision": "approve"})
    assert response.status_code == 400 and "Invalid username or password." in response.text
    assert 'value="ada@example.com"' in response.text and csrf_token(response) == token


async def test_a_throttled_sign_in_is_a_429_page_with_retry_after(browser, rpc):
    token = await open_page(browser, rpc)
    rpc.fail("users", "approve_authorization", LoginThrottled("Too many failed sign-ins.",
                                                              details={"retry_after": 7}))
    response = await browser.post(PATH, data={"csrf_token": token, "username": "a@b.c", "password": "x",
                                              "decision": "approve"})
    assert response.status_code == 429 and response.headers["retry-after"] == "7"


async def test_a_client_disabled_meanwhile_gets_an_error_page(browser, rpc):
    token = await open_page(browser, rpc)
    rpc.fail("users", "approve_authorization", InvalidRequest("redirect_uri is not registered."))
    response = await browser.post(PATH, data={"csrf_token": token, "username": "a@b.c", "password": "x",
                                              "decision": "approve"})
    assert response.status_code == 400 and "location" not in response.headers
