"""Failed sign-ins back off through the gateway: 429 slow_down with Retry-After, known or unknown email."""
import time
import uuid

PASSWORD = "correct horse battery"
FREE_FAILURES = 5  # config/users.yaml default per account


def _grant(client, email, password):
    return client.post("/api/v1/oauth/token", data={"grant_type": "password", "username": email,
                                                    "password": password})


def test_after_five_failures_a_sign_in_waits_and_unknown_emails_look_the_same(client, register_customer):
    user, _ = register_customer()
    unknown = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
    answers = {}
    for email in (user["email"], unknown):
        failures = [_grant(client, email, "not the password") for _ in range(FREE_FAILURES)]
        assert {response.status_code for response in failures} == {400}
        throttled = _grant(client, email, PASSWORD)
        answers[email] = (throttled.status_code, throttled.headers.get("retry-after"), throttled.json())
    assert answers[user["email"]] == answers[unknown]
    status, retry_after, body = answers[unknown]
    assert status == 429 and body["error"] == "slow_down" and int(retry_after) >= 1
    time.sleep(int(retry_after))
    assert _grant(client, user["email"], PASSWORD).status_code == 200
