"""The storefront and back office pages: served with a self-only policy, written so it holds, and
calling only what the OpenAPI document describes."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gateway.routes.pages import PAGE_POLICY
from nameko_services.payments.gateways.sandbox import KNOWN_TOKENS
from nameko_services.users.clients import STOREFRONT_CLIENT

WEB = Path(__file__).resolve().parents[3] / "web"
PAGES = sorted(WEB.rglob("*.html"))
SCRIPTS = sorted(WEB.rglob("*.js"))
API = WEB / "static" / "js" / "api.js"
CALL = re.compile(r'call\("([A-Z]+)", "([^"]+)"')


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", ["/", "/callback", "/admin/", "/static/js/shop.js", "/static/css/shop.css"])
async def test_pages_and_their_files_allow_only_this_origin(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == PAGE_POLICY
    assert response.headers["cache-control"] == "no-cache" and "etag" in response.headers
    assert response.headers["x-frame-options"] == "DENY"


def test_the_policy_names_no_other_origin_and_no_inline_code():
    directives = dict(part.strip().split(" ", 1) for part in PAGE_POLICY.split(";"))
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in PAGE_POLICY and "http" not in PAGE_POLICY and "*" not in PAGE_POLICY


async def test_the_back_office_without_its_slash_is_redirected_and_the_page_holds_no_data(client):
    response = await client.get("/admin", follow_redirects=False)
    assert response.status_code == 308 and response.headers["location"] == "/admin/"
    page = (await client.get("/admin/")).text
    assert "/static/js/admin.js" in page and "Loading" in page


class _Markup(HTMLParser):
    """What a page's markup would need the policy to allow."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "style" or "style" in names:
            self.problems.append(f"inline style on <{tag}>")
        self.problems += [f"inline handler {name} on <{tag}>" for name in names if name.startswith("on")]
        if tag == "script":
            self.in_script = True
            if not (names.get("src") or "").startswith("/static/"):
                self.problems.append("a script not from /static/")
        for name in ("src", "href"):
            if re.match(r"(https?:)?//", names.get(name) or ""):
                self.problems.append(f"{name} to another origin: {names[name]}")

    def handle_endtag(self, tag: str) -> None:
        self.in_script = self.in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self.in_script and data.strip():
            self.problems.append("an inline script")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(WEB)))
def test_pages_have_no_inline_code_and_nothing_from_elsewhere(page):
    markup = _Markup()
    markup.feed(_text(page))
    assert markup.problems == []
    assert '<html lang="en">' in _text(page) and "<title>" in _text(page)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_parse_data_as_html_nor_load_from_elsewhere(script):
    code = _text(script)
    for risky in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert risky not in code, f"{script.name} uses {risky}"
    assert not re.search(r"https?://", code), f"{script.name} names another origin"
    assert script == API or "fetch(" not in code, "only api.js talks to the gateway"


async def test_every_call_the_pages_make_is_an_operation_of_the_openapi_document(client):
    paths = (await client.get("/api/v1/openapi.json")).json()["paths"]
    calls = CALL.findall(_text(API))
    assert len(calls) > 25
    missing = [f"{method} {path}" for method, path in calls if method.lower() not in paths.get(path, {})]
    assert missing == []


def test_the_pages_use_only_functions_api_js_exports():
    exported = set(re.findall(r"export (?:const|async function|function|class) (\w+)", _text(API)))
    used = {name for script in SCRIPTS if script != API
            for name in re.findall(r"\bapi\.(\w+)\(", _text(script))}
    assert used and used - exported == set()


def test_the_storefront_signs_in_as_its_registered_client_with_cards_the_sandbox_knows():
    assert f'CLIENT_ID = "{STOREFRONT_CLIENT}"' in _text(WEB / "static" / "js" / "auth.js")
    cards = re.findall(r'\["(tok_\w+)", "', _text(WEB / "static" / "js" / "shop.js"))
    assert cards and set(cards) <= KNOWN_TOKENS


def test_every_status_has_its_word():
    dom = _text(WEB / "static" / "js" / "dom.js")
    words = {"pending": "Pending", "awaiting_payment": "Awaiting payment", "confirmed": "Confirmed",
             "cancelled": "Cancelled", "shipped": "Shipped", "delivered": "Delivered"}
    for status, word in words.items():
        assert f'{status}: "{word}"' in dom


# One api.js operation per line: call("METHOD", "PATH", { path: {...}, body: ..., headers: {...} }).
OPERATION = re.compile(r'call\("([A-Z]+)", "([^"]+)"(?:, \{(.*)\})?\);')


def _keys(options: str, part: str) -> set[str]:
    """The keys of ``part: { a: x, b }`` in a call's options (names in shorthand too)."""
    found = re.search(part + r": \{([^}]*)\}", options)
    if found is None:
        return set()
    return {re.split(r"\s*:\s*", entry.strip())[0].strip('"') for entry in found.group(1).split(",")
            if entry.strip()}


def _resolve(document, schema):
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_every_call_sends_the_path_parameters_headers_and_body_its_operation_declares(client):
    """The same shape as the document: path parameters by name, declared headers (Idempotency-Key),
    a body where the operation takes one (and only there), and a literal body's fields among the
    operation's request fields."""
    document = (await client.get("/api/v1/openapi.json")).json()
    # The JSON calls; the OAuth forms, the authorize page and the stream are named in comments only.
    calls = [line for line in _text(API).splitlines() if OPERATION.search(line)]
    assert len(calls) >= 25
    problems = []
    for line in calls:
        method, path, options = OPERATION.search(line).groups()
        options = options or ""
        operation = document["paths"][path][method.lower()]
        parameters = [*document["paths"][path].get("parameters", []), *operation.get("parameters", [])]
        declared = {kind: {p["name"] for p in parameters if p["in"] == kind} for kind in ("path", "header")}
        if _keys(options, "path") != declared["path"]:
            problems.append(f"{method} {path}: path {_keys(options, 'path')} != {declared['path']}")
        if not _keys(options, "headers") <= declared["header"]:
            problems.append(f"{method} {path}: headers {_keys(options, 'headers') - declared['header']}")
        required = {p["name"] for p in parameters if p["in"] == "header" and p.get("required")}
        if not required <= _keys(options, "headers"):
            problems.append(f"{method} {path}: required headers {required} not sent")
        takes_body = "requestBody" in operation
        if ("body" in options) != takes_body:
            problems.append(f"{method} {path}: body sent={'body' in options}, declared={takes_body}")
        literal = _keys(options, "body")
        if takes_body and literal:
            schema = _resolve(document, operation["requestBody"]["content"]["application/json"]["schema"])
            if not literal <= set(schema.get("properties", {})):
                problems.append(f"{method} {path}: body fields {literal - set(schema['properties'])}")
    assert problems == []
