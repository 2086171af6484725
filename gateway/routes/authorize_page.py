"""The server-rendered sign-in and consent page of the authorization endpoint, and its error page.

Every value is HTML-escaped; the only style is inline and allowed by its hash in the page's own
Content-Security-Policy, so no script or other resource can run or load.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape
from string import Template
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

STYLE = ("body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}"
         "label,input,button{display:block;width:100%;margin:.4rem 0}"
         "input{padding:.5rem}button{padding:.6rem;margin-top:.8rem}.error{color:#a00}")
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in to nameko-shop</title><style>$style</style></head>
<body><h1>Sign in to nameko-shop</h1>
<p><strong>$client</strong> asks to act on your account with the scope <code>$scope</code>.</p>
$error<form method="post" action="/api/v1/oauth/authorize">
<input type="hidden" name="csrf_token" value="$csrf">
<label for="username">Email</label>
<input id="username" name="username" type="email" autocomplete="username" value="$username" required>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" name="decision" value="approve">Sign in and allow</button>
<button type="submit" name="decision" value="deny" formnovalidate>Deny</button>
</form></body></html>
""")

ERROR_PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorization failed</title>
<style>$style</style></head>
<body><h1>This authorization request cannot be completed</h1>
<p class="error">$message</p><p>Go back to the application and start again.</p></body></html>
""")


def _headers(form_target: str | None = None) -> dict[str, str]:
    # Chrome applies form-action to the redirect after the POST, so the client's origin is listed.
    origins = " ".join(["'self'", *([_origin(form_target)] if form_target else [])])
    return {
        "Content-Security-Policy": (f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; "
                                    f"form-action {origins}; frame-ancestors 'none'; base-uri 'none'"),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


def consent_page(client_name: str, scope: str, csrf: str, redirect_uri: str, username: str = "",
                 error: str | None = None, status: int = 200) -> HTMLResponse:
    """The sign-in form, with a message after a failed attempt."""
    body = PAGE.substitute(style=STYLE, client=escape(client_name), scope=escape(scope),
                           csrf=escape(csrf), username=escape(username),
                           error=f'<p class="error">{escape(error)}</p>\n' if error else "")
    return HTMLResponse(body, status_code=status, headers=_headers(redirect_uri))


def error_page(message: str, status: int = 400) -> HTMLResponse:
    """A request we cannot send back to the client (unknown client, unregistered redirect URI)."""
    return HTMLResponse(ERROR_PAGE.substitute(style=STYLE, message=escape(message)),
                        status_code=status, headers=_headers())
