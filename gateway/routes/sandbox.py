"""The sandbox's 3-D Secure challenge: /sandbox/3ds/{reference}, the page a card that needs the
customer redirects to (``payment_action.url``), as a provider's own page would be.

``GET`` shows the amount with "Pass" and "Fail"; ``POST`` records the answer with the payments
service (the sandbox's records, then the payment: authorised, or failed and the order cancelled)
and sends the customer back to ``return_to`` (a path on this site; the storefront adds it), else
shows the result. The reference in the path is the capability, unguessable as a provider's
challenge URL is; a form posted from another site is refused. No script, no outside resource:
the page's CSP allows its own inline style (by hash) and posting to itself only.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape
from string import Template
from urllib.parse import parse_qsl, quote

from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.routing import PUBLIC, Context, Endpoint
from nameko_services.common.errors import PaymentNotAwaitingAction, PaymentNotFound

PATH = "/sandbox/3ds/{reference}"
STYLE = ("body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}"
         "button{display:block;width:100%;padding:.6rem;margin-top:.8rem}.note{color:#555}")
STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
HEADERS = {"Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{STYLE_HASH}'; "
                                      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
           "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>$title</title><style>$style</style></head>
<body><main><h1>$title</h1>
$body</main></body></html>
""")
CHALLENGE = Template("""<p>Sandbox bank: confirm the payment of <strong>$amount</strong> to nameko-shop.</p>
<p class="note">A test page standing in for the card issuer's 3-D Secure check.</p>
<form method="post" action="$action">
<input type="hidden" name="return_to" value="$return_to">
<button type="submit" name="decision" value="pass">Pass</button>
<button type="submit" name="decision" value="fail">Fail</button>
</form>""")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.substitute(title=escape(title), style=STYLE, body=body), status_code=status,
                        headers=HEADERS)


def _message(title: str, text: str, status: int) -> HTMLResponse:
    return _page(title, f'<p class="note">{escape(text)}</p>', status)


def _return_to(value: str | None) -> str:
    """A path on this site, or nothing: never an open redirect to somebody else's."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value or \
            any(ord(ch) < 0x21 or ord(ch) > 0x7e for ch in value) or len(value) > 500:
        return ""
    return value


def _amount(challenge: dict[str, object]) -> str:
    minor = int(str(challenge["amount"]))
    return f"{minor // 100}.{minor % 100:02d} {challenge['currency']}"


async def show_challenge(ctx: Context) -> Response:
    reference = ctx.request.path_params["reference"]
    try:
        challenge = await ctx.call("payments", "get_sandbox_challenge", reference=reference)
    except PaymentNotFound:
        return _message("No such payment", "This challenge does not exist.", 404)
    if challenge["status"] != "requires_action":
        return _message("Nothing to confirm", f"This payment is {challenge['status']}: no answer is "
                        "needed any more.", 409)
    form = CHALLENGE.substitute(amount=escape(_amount(challenge)), action=escape(PATH.format(
        reference=quote(reference, safe=""))), return_to=escape(_return_to(ctx.request.query_params.get(
            "return_to"))))
    return _page("Confirm your payment", form)


async def answer_challenge(ctx: Context) -> Response:
    if ctx.request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return _message("Refused", "This form can only be sent from its own page.", 403)
    try:
        form = dict(parse_qsl((await ctx.request.body()).decode(), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        form = {}
    decision = form.get("decision")
    if decision not in ("pass", "fail"):
        return _message("Choose Pass or Fail", "The form needs a decision.", 400)
    try:
        done = await ctx.call("payments", "answer_sandbox_challenge",
                              reference=ctx.request.path_params["reference"], passed=decision == "pass")
    except PaymentNotFound:
        return _message("No such payment", "This challenge does not exist.", 404)
    except PaymentNotAwaitingAction:
        return _message("Too late", "This payment is not waiting for an answer any more.", 409)
    back = _return_to(form.get("return_to"))
    if back:
        return RedirectResponse(back, status_code=303, headers=HEADERS)
    result = "passed: the payment goes on" if done["status"] == "authorised" else \
        "failed: the payment is declined"
    return _message("Challenge answered", f"The check {result}. You can return to the shop.", 200)


ENDPOINTS = [
    Endpoint("GET", PATH, show_challenge,
             "The sandbox's 3-D Secure challenge page (payment_action.url): Pass or Fail",
             "payments", PUBLIC, errors=(404, 409, 503, 504), media="text/html"),
    Endpoint("POST", PATH, answer_challenge,
             "Answer the sandbox's challenge (form: decision=pass|fail, return_to?); 303 to return_to",
             "payments", PUBLIC, also=(303,), errors=(400, 403, 404, 409, 503, 504), media="text/html"),
]
