"""A local Stripe-like HTTP server that checks every request it receives.

It keeps payment intents and idempotency keys like Stripe does (the same key replays the
first answer), and can be scripted to answer the next requests with given errors.
"""
import json
import threading
import uuid
from urllib.parse import parse_qs

from nameko_services.payments.gateways.stripe import STRIPE_VERSION
from tests.local_http import LocalHttpServer

API_KEY = "sk_test_fake"
DECLINES = {"tok_chargeDeclined": "generic_decline",
            "tok_chargeDeclinedInsufficientFunds": "insufficient_funds"}
THREE_D_SECURE = "tok_threeDSecure2Required"
REQUIRED = {"/v1/payment_intents": {"amount", "currency", "payment_method", "confirm", "capture_method"},
            "/v1/refunds": {"payment_intent", "amount"}}


class FakeStripe:
    def __init__(self):
        self.requests = []  # (method, path, form, headers)
        self.problems = []  # every check a request failed
        self.script = []  # (status, body) answered before any real handling
        self.intents = {}
        self.replays = {}
        self.lock = threading.Lock()
        self.http = LocalHttpServer(self.respond)
        self.base_url = self.http.base_url

    def respond(self, method, path, headers, body):
        if method == "GET" and path.startswith("/v1/payment_intents/"):
            return self.retrieve(path.rsplit("/", 1)[1], headers)
        if method != "POST":
            self.problems.append(f"unexpected {method} {path}")
            return 405, json.dumps({"error": {"type": "invalid_request_error"}}).encode()
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        status, answer = self.handle("POST", path, form, headers)
        return status, json.dumps(answer).encode()

    def retrieve(self, intent_id, headers):
        with self.lock:
            self.requests.append(("GET", f"/v1/payment_intents/{intent_id}", {}, headers))
            if headers.get("Authorization") != f"Bearer {API_KEY}":
                self.problems.append("GET: bad Authorization")
            intent = self.intents.get(intent_id)
        if intent is None:
            missing = {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
            return 404, json.dumps(missing).encode()
        return 200, json.dumps(intent).encode()

    def authenticate(self, intent_id, passed):
        """The customer answers the 3-D Secure challenge on Stripe's page."""
        with self.lock:
            intent = self.intents[intent_id]
            assert intent["status"] == "requires_action"
            intent.pop("next_action")
            intent["status"] = "requires_capture" if passed else "requires_payment_method"

    def close(self):
        self.http.close()

    # --- checks and answers ------------------------------------------------------------

    def handle(self, method, path, form, headers):
        with self.lock:
            self.requests.append((method, path, form, headers))
            problem = self.check(path, form, headers)
            if problem:
                self.problems.append(problem)
                return 400, {"error": {"type": "invalid_request_error", "code": "fake_check_failed",
                                       "message": problem}}
            if self.script:
                return self.script.pop(0)
            key = headers["Idempotency-Key"]
            if key in self.replays:
                return self.replays[key]
            answer = self.answer(path, form)
            if answer[0] < 500:
                self.replays[key] = answer  # Stripe replays everything but server errors
            return answer

    def check(self, path, form, headers):
        if headers.get("Authorization") != f"Bearer {API_KEY}":
            return f"{path}: bad Authorization {headers.get('Authorization')!r}"
        if not headers.get("Idempotency-Key"):
            return f"{path}: no Idempotency-Key"
        if headers.get("Stripe-Version") != STRIPE_VERSION:
            return f"{path}: Stripe-Version {headers.get('Stripe-Version')!r}"
        if not headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded") and form:
            return f"{path}: not form-encoded"
        required = REQUIRED.get(path, {"amount_to_capture"} if path.endswith("/capture") else set())
        if missing := required - set(form):
            return f"{path}: missing {sorted(missing)}"
        if path == "/v1/payment_intents":
            if form["confirm"] != "true" or form["capture_method"] != "manual":
                return f"{path}: not confirm=true & capture_method=manual: {form}"
            if form["currency"] != form["currency"].lower() or not form["amount"].isdigit():
                return f"{path}: bad amount or currency {form}"
        return None

    def answer(self, path, form):
        parts = path.strip("/").split("/")
        if path == "/v1/payment_intents":
            token = form["payment_method"]
            if token in DECLINES:
                return 402, {"error": {"type": "card_error", "code": "card_declined",
                                       "decline_code": DECLINES[token], "message": "Your card was declined."}}
            intent = {"id": f"pi_{uuid.uuid4().hex[:24]}", "object": "payment_intent",
                      "amount": int(form["amount"]), "currency": form["currency"],
                      "status": "requires_capture", "amount_received": 0}
            if token == THREE_D_SECURE:
                intent.update(status="requires_action", next_action={
                    "type": "redirect_to_url", "redirect_to_url": {
                        "url": f"https://hooks.stripe.test/3d_secure_2/{intent['id']}",
                        "return_url": form.get("return_url")}})
            self.intents[intent["id"]] = intent
            return 200, intent
        if path == "/v1/refunds":
            intent = self.intents.get(form["payment_intent"])
            if intent is None or intent["status"] != "succeeded":
                return 400, {"error": {"type": "invalid_request_error", "code": "charge_not_captured"}}
            return 200, {"id": f"re_{uuid.uuid4().hex[:24]}", "object": "refund",
                         "amount": int(form["amount"])}
        if len(parts) == 4 and parts[:2] == ["v1", "payment_intents"]:
            intent = self.intents.get(parts[2])
            if intent is None:
                return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing",
                                       "message": f"No such payment_intent: '{parts[2]}'"}}
            if intent["status"] != "requires_capture" and not (parts[3] == "cancel"
                                                                and intent["status"] == "requires_action"):
                return 400, {"error": {"type": "invalid_request_error",
                                       "code": "payment_intent_unexpected_state"}}
            if parts[3] == "capture":
                intent.update(status="succeeded", amount_received=int(form["amount_to_capture"]))
            elif parts[3] == "cancel":
                intent.update(status="canceled")
            return 200, intent
        return 404, {"error": {"type": "invalid_request_error", "code": "resource_missing"}}
