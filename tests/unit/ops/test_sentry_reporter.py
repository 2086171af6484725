"""SentryReporter: worker exceptions of a service reach Sentry, tagged, and only with a DSN."""
import logging
from types import SimpleNamespace

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from nameko_services.common.errors import OrderNotFound, PaymentProviderError
from nameko_services.common.sentry import SentryReporter, reportable

DSN = "https://public@sentry.example.com/1"


class Recorder(Transport):
    """Keeps every envelope instead of sending it."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)

    def events(self):
        return [item.payload.json for env in self.envelopes for item in env.items if item.type == "event"]


@pytest.fixture
def recorder():
    sentry_sdk.get_global_scope().set_client(None)  # whatever an earlier test left running
    transport = Recorder()
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)  # back to no client for the other tests


class Container:
    """What the reporter needs of a nameko container."""

    service_name = "orders"

    def __init__(self, config):
        self.config = config


@pytest.fixture
def reporter(recorder):
    """``reporter(dsn)``: a SentryReporter set up in an orders container with that DSN."""
    containers = []  # the reporter holds its container weakly, as nameko's extensions do

    def make(dsn):
        containers.append(Container({"SENTRY_DSN": dsn}))
        bound = SentryReporter(transport=recorder).bind(containers[-1], "sentry")
        bound.setup()
        return bound

    return make


def worker(method="place_order", correlation_id="corr-1"):
    return SimpleNamespace(entrypoint=SimpleNamespace(method_name=method), call_id=f"orders.{method}.7",
                           context_data={"correlation_id": correlation_id})


def failure(error):
    try:
        raise error
    except Exception as exc:
        return (type(exc), exc, exc.__traceback__)


def test_an_unexpected_worker_exception_is_sent_with_service_entrypoint_and_ids(recorder, reporter):
    sentry = reporter(DSN)
    sentry.worker_result(worker(), exc_info=failure(RuntimeError("database on fire")))
    [event] = recorder.events()
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["exception"]["values"][-1]["value"] == "database on fire"
    assert event["tags"] == {"service": "orders", "entrypoint": "place_order",
                             "call_id": "orders.place_order.7", "correlation_id": "corr-1"}
    assert event["server_name"] == "orders"


def test_tags_of_one_worker_do_not_stick_to_the_next(recorder, reporter):
    sentry = reporter(DSN)
    sentry.worker_result(worker("place_order", "corr-1"), exc_info=failure(RuntimeError("a")))
    sentry.worker_result(worker("time_out_orders", None), exc_info=failure(RuntimeError("b")))
    second = recorder.events()[1]
    assert second["tags"]["entrypoint"] == "time_out_orders" and "correlation_id" not in second["tags"]


def test_answers_to_the_caller_and_successes_are_not_sent(recorder, reporter):
    sentry = reporter(DSN)
    sentry.worker_result(worker(), exc_info=failure(OrderNotFound(details={"order_id": "x"})))
    sentry.worker_result(worker(), result={"ok": True})
    assert recorder.events() == []


def test_an_unavailable_dependency_is_sent():
    assert reportable(PaymentProviderError()) and reportable(KeyError("x"))
    assert not reportable(OrderNotFound())


def test_without_a_dsn_nothing_starts_and_nothing_is_sent(recorder, reporter):
    sentry = reporter("")
    sentry.worker_result(worker(), exc_info=failure(RuntimeError("unseen")))
    assert not sentry.enabled and not sentry_sdk.get_client().is_active()
    assert recorder.envelopes == []


def test_nameko_s_own_log_of_the_failure_is_not_sent_a_second_time(recorder, reporter):
    reporter(DSN)
    try:
        raise RuntimeError("logged by nameko")
    except RuntimeError:
        logging.getLogger("nameko.containers").exception("error handling worker")
        logging.getLogger("nameko_services.orders.saga").exception("a handler's own error")
    assert [e["logentry"]["message"] for e in recorder.events()] == ["a handler's own error"]


def test_a_second_service_in_the_same_process_reuses_the_started_sdk(recorder, reporter):
    first = reporter(DSN)
    client = sentry_sdk.get_client()
    second = reporter(DSN)
    assert first.enabled and second.enabled and sentry_sdk.get_client() is client
