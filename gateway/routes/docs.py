"""The API for people: /api/v1/docs, Swagger UI (vendored in gateway/static/swagger-ui) on the
gateway's own OpenAPI document.

Everything the page loads comes from this origin: its Content-Security-Policy allows scripts,
styles and requests to ``'self'`` only (images also ``data:``: the stylesheet's icons are inline
SVG, no request at all). Assets are served from a fixed list, never by a path from the request.
"""
from __future__ import annotations

from pathlib import Path

from starlette.responses import HTMLResponse, Response

from gateway.routing import PUBLIC, Context, Endpoint
from nameko_services.common.errors import NotFound

SWAGGER_UI_VERSION = "5.35.0"
ASSETS_DIR = Path(__file__).resolve().parents[1] / "static" / "swagger-ui"
ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
          "swagger-ui.css": "text/css; charset=utf-8",
          "docs.js": "text/javascript; charset=utf-8",
          "LICENSE": "text/plain; charset=utf-8",
          "NOTICE": "text/plain; charset=utf-8",
          "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>nameko-shop API</title>
<link rel="stylesheet" href="/api/v1/docs/swagger-ui.css">
</head>
<body>
<main id="swagger-ui"><p>The API reference needs JavaScript; the document itself is
<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p></main>
<footer><small>Swagger UI {SWAGGER_UI_VERSION}, Apache License 2.0
(<a href="/api/v1/docs/LICENSE">licence</a>, <a href="/api/v1/docs/NOTICE">notice</a>).</small></footer>
<script src="/api/v1/docs/swagger-ui-bundle.js"></script>
<script src="/api/v1/docs/docs.js"></script>
</body>
</html>
"""
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}


async def docs_page(ctx: Context) -> Response:
    return HTMLResponse(PAGE, headers=HEADERS)


async def docs_asset(ctx: Context) -> Response:
    name = ctx.request.path_params["asset"]
    if name not in ASSETS:
        raise NotFound("No such file.", {"asset": name})
    body = (ASSETS_DIR / name).read_bytes()
    # The vendored files change only with a release of the gateway: a day in caches is fine.
    return Response(body, media_type=ASSETS[name],
                    headers={**HEADERS, "Cache-Control": "public, max-age=86400"})


ENDPOINTS = [
    Endpoint("GET", "/api/v1/docs", docs_page, "This API for people (Swagger UI)", "operations", PUBLIC,
             media="text/html"),
    Endpoint("GET", "/api/v1/docs/{asset}", docs_asset, "The docs page's scripts, styles and licence",
             "operations", PUBLIC, errors=(404,), media="application/octet-stream"),
]
