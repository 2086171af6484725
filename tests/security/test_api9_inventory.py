"""OWASP API9:2023 Improper Inventory Management.

The published OpenAPI document lists exactly the routes the gateway serves; they all live
under ``/api/v1`` except a few named operational and well-known paths; other versions and
prefixes do not exist.
"""
import pytest
from starlette.routing import Mount, Route

from gateway.app import create_app
from gateway.routes import pages
from gateway.settings import Settings

OPERATIONS = {"/health", "/ready", "/health/services", "/metrics"}
# The sandbox provider's own pages (its 3-D Secure challenge), as a provider's would be: not the API.
SANDBOX = "/sandbox/"
WELL_KNOWN = "/.well-known/"
VERSION = "/api/v1/"


def _documented(client):
    document = client.get("/api/v1/openapi.json").json()
    return {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}


def _mounted():
    app = create_app(Settings(), rpc=object())  # only its routes are read; the RPC client is never used
    routes = set()
    for route in app.routes:
        if route in pages.ROUTES:  # the storefront's web pages and their files: not the API
            continue
        assert isinstance(route, Route), f"a mount or non-HTTP route escapes the route table: {route!r}"
        routes |= {(method, route.path) for method in route.methods or () if method != "HEAD"}
    return routes


def test_the_openapi_document_lists_exactly_the_mounted_routes(client):
    documented, mounted = _documented(client), _mounted()
    assert mounted - documented == set(), "served but not documented"
    assert documented - mounted == set(), "documented but not served"


def test_the_web_pages_are_get_only_and_outside_the_api():
    for route in pages.ROUTES:
        assert not route.path.startswith("/api/"), route.path
        assert isinstance(route, Mount) or route.methods <= {"GET", "HEAD"}, route


def test_the_static_files_serve_only_the_web_folder(client):
    assert client.get("/static/../../setup.cfg").status_code == 404
    assert client.get("/static/%2e%2e/%2e%2e/setup.cfg").status_code == 404


def test_every_route_is_versioned_or_a_named_operational_path(client):
    stray = sorted(path for _, path in _documented(client) if not path.startswith(VERSION)
                   and path not in OPERATIONS and not path.startswith((WELL_KNOWN, SANDBOX)))
    assert stray == []


def test_the_document_names_its_version(client):
    document = client.get("/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.") and document["info"]["version"]


@pytest.mark.parametrize("path", ["/api/v2/products", "/api/v0/products", "/api/products", "/v1/products",
                                  "/api/v1.1/products", "/api/latest/products", "/API/V1/products",
                                  "/api/v1/../v2/products", "/api/v1/internal/products"])
def test_other_versions_and_prefixes_do_not_exist(client, path):
    response = client.get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert response.json()["error"]["code"] == "not_found"


def test_every_documented_route_answers_something_other_than_404_for_an_unknown_route(client, admin_token):
    # Documented paths are really served (a 404 here would be "not found" for the id, never the route).
    for method, path in sorted(_documented(client)):
        if "{" in path or method != "GET":
            continue
        response = client.get(path, headers={"Authorization": f"Bearer {admin_token}"})
        assert response.status_code != 404, (method, path)
