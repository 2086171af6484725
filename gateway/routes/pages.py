"""The storefront (``/``) and the back office (``/admin/``): static pages from ``web/``, no build step.

The pages hold no data: their scripts call the API with the signed-in user's token, and the API
checks every role (a customer who opens ``/admin/`` gets the page's 403 view and no admin data).
Their Content-Security-Policy allows only this origin: scripts and styles from files here, never
inline, nothing from elsewhere. ``/callback`` is the storefront's OAuth redirect URI
(``users.clients.STOREFRONT_CLIENT``): the same page, which finishes signing in.
"""
from __future__ import annotations

from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB = Path(__file__).resolve().parents[2] / "web"
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
               "object-src 'none'")
# Revalidated each time (ETag / Last-Modified): a deploy is seen at once, unchanged files cost a 304.
PAGE_HEADERS = {"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"}


def _page(name: str) -> Route:
    async def page(request: Request) -> Response:
        return FileResponse(WEB / name, media_type="text/html", headers=PAGE_HEADERS)
    return Route(f"/{name.removesuffix('index.html')}", page, methods=["GET"], name=f"page {name}")


async def _admin_slash(request: Request) -> Response:
    return RedirectResponse("/admin/", status_code=308)


async def _callback(request: Request) -> Response:
    return FileResponse(WEB / "index.html", media_type="text/html", headers=PAGE_HEADERS)


class Revalidated:
    """Static files with the pages' headers (the security middleware would say no-store)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


ROUTES: list[BaseRoute] = [
    _page("index.html"),
    Route("/callback", _callback, methods=["GET"], name="page callback"),
    Route("/admin", _admin_slash, methods=["GET"], name="page admin redirect"),
    _page("admin/index.html"),
    Mount("/static", app=Revalidated(StaticFiles(directory=WEB / "static")), name="static"),
]
