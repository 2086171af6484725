"""The sandbox's 3-D Secure challenge page (/sandbox/3ds/{reference}): shown, answered, escaped."""
from __future__ import annotations

from nameko_services.common.errors import PaymentNotAwaitingAction, PaymentNotFound

REFERENCE = "sbx_pi_0123456789abcdef0123456789abcdef"
PAGE = f"/sandbox/3ds/{REFERENCE}"
WAITING = {"payment_id": "p-1", "order_id": "o-1", "amount": 2500, "currency": "EUR",
           "status": "requires_action"}


async def test_the_page_shows_the_amount_and_pass_and_fail_buttons(client, rpc):
    rpc.answer("payments", "get_sandbox_challenge", WAITING)
    page = await client.get(PAGE, params={"return_to": "/orders/o-1"})
    assert page.status_code == 200 and "25.00 EUR" in page.text
    assert 'value="pass">Pass</button>' in page.text and 'value="fail">Fail</button>' in page.text
    assert 'name="return_to" value="/orders/o-1"' in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "form-action 'self'" in policy and "script-src" not in policy
    assert rpc.calls_to("payments", "get_sandbox_challenge")[0].kwargs == {"reference": REFERENCE}


async def test_passing_redirects_back_to_the_storefront_path(client, rpc):
    rpc.answer("payments", "answer_sandbox_challenge", {**WAITING, "status": "authorised"})
    answer = await client.post(PAGE, data={"decision": "pass", "return_to": "/orders/o-1"})
    assert answer.status_code == 303 and answer.headers["location"] == "/orders/o-1"
    assert rpc.calls_to("payments", "answer_sandbox_challenge")[0].kwargs == {"reference": REFERENCE,
                                                                             "passed": True}


async def test_failing_without_a_return_path_shows_the_result(client, rpc):
    rpc.answer("payments", "answer_sandbox_challenge", {**WAITING, "status": "failed"})
    answer = await client.post(PAGE, data={"decision": "fail"})
    assert answer.status_code == 200 and "declined" in answer.text
    assert rpc.calls_to("payments", "answer_sandbox_challenge")[0].kwargs["passed"] is False


async def test_return_to_elsewhere_is_never_followed(client, rpc):
    rpc.answer("payments", "answer_sandbox_challenge", {**WAITING, "status": "authorised"})
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        answer = await client.post(PAGE, data={"decision": "pass", "return_to": elsewhere})
        assert answer.status_code == 200, elsewhere


async def test_a_form_from_another_site_or_without_a_decision_is_refused(client, rpc):
    cross = await client.post(PAGE, data={"decision": "pass"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403
    assert (await client.post(PAGE, data={"decision": "maybe"})).status_code == 400
    assert rpc.calls_to("payments", "answer_sandbox_challenge") == []


async def test_unknown_and_answered_challenges_say_so(client, rpc):
    rpc.fail("payments", "get_sandbox_challenge", PaymentNotFound())
    assert (await client.get(PAGE)).status_code == 404
    rpc.fail("payments", "answer_sandbox_challenge", PaymentNotAwaitingAction())
    assert (await client.post(PAGE, data={"decision": "pass"})).status_code == 409


async def test_what_the_page_shows_is_escaped(client, rpc):
    rpc.answer("payments", "get_sandbox_challenge", {**WAITING, "currency": "<b>X</b>"})
    page = await client.get(PAGE, params={"return_to": '/a"><script>alert(1)</script>'})
    assert "<script>" not in page.text and "<b>X</b>" not in page.text
