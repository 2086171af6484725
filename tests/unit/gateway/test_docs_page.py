"""/api/v1/docs: Swagger UI, vendored, from this origin only (issue 13)."""
from __future__ import annotations

import re

import pytest

from gateway.routes.docs import ASSETS_DIR


async def test_the_docs_page_loads_only_files_the_gateway_itself_serves(client):
    page = await client.get("/api/v1/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    references = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert references and all(ref.startswith("/") and not ref.startswith("//") for ref in references)
    for ref in references:
        answer = await client.get(ref)
        assert answer.status_code == 200, ref
    document = await client.get("/api/v1/openapi.json")
    assert "/api/v1/docs" in document.json()["paths"]


async def test_the_docs_page_policy_allows_this_origin_only(client):
    policy = (await client.get("/api/v1/docs")).headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'", name
    assert "http" not in policy and "unsafe" not in policy and "*" not in policy
    asset = await client.get("/api/v1/docs/swagger-ui-bundle.js")
    assert asset.headers["content-security-policy"] == policy
    assert asset.headers["content-type"].startswith("text/javascript")


async def test_the_vendored_swagger_ui_comes_with_its_licence(client):
    licence = await client.get("/api/v1/docs/LICENSE")
    assert "Apache License" in licence.text
    assert (ASSETS_DIR / "VENDORED.md").read_text().count("swagger-ui-dist") >= 1


async def test_the_start_script_points_at_our_document_and_no_validator(client):
    script = (await client.get("/api/v1/docs/docs.js")).text
    assert '"/api/v1/openapi.json"' in script and "validatorUrl: null" in script


@pytest.mark.parametrize("name", ["..%2Fdocs.py", "index.html", "swagger-ui.js.map", "VENDORED.md", "%2e%2e"])
async def test_only_the_listed_files_are_served(client, name):
    answer = await client.get(f"/api/v1/docs/{name}")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
