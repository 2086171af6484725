"""A service with a DSN reports its workers' failures to Sentry, under eventlet, with its tags."""
import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from nameko_services.common.errors import OrderNotFound
from nameko_services.common.rpc import rpc
from nameko_services.common.sentry import SentryReporter


class Recorder(Transport):
    """Keeps the events instead of sending them."""

    events = []

    def capture_envelope(self, envelope):
        Recorder.events += [item.payload.json for item in envelope.items if item.type == "event"]


class Failing:
    name = "failing"
    sentry = SentryReporter(transport=Recorder())

    @rpc
    def explode(self):
        raise RuntimeError("boom")

    @rpc
    def missing(self):
        raise OrderNotFound()


@pytest.fixture
def failing(container_factory, rabbit_config):
    Recorder.events = []
    container = container_factory(Failing, dict(rabbit_config, SENTRY_DSN="https://public@sentry.example.com/1"))
    container.start()
    yield container
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(None)


def test_a_failing_call_is_reported_once_with_its_ids_and_an_answer_is_not(failing, call):
    with pytest.raises(Exception, match="boom"):
        call("failing", "explode", as_user=("00000000-0000-4000-8000-0000000000c1", ["customer"]))
    with pytest.raises(OrderNotFound):
        call("failing", "missing")
    [event] = Recorder.events
    assert event["exception"]["values"][-1]["value"] == "boom"
    tags = event["tags"]
    assert (tags["service"], tags["entrypoint"]) == ("failing", "explode")
    assert tags["call_id"].startswith("failing.explode.") and len(tags["correlation_id"]) == 32
