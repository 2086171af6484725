"""Service-to-service calls carry the caller's own token, the end user, and a deadline."""
import eventlet
import pytest
from nameko.testing.services import dummy

from nameko_services.common.errors import Conflict, ServiceTimeout, ServiceUnavailable
from nameko_services.common.event_store import StreamConflict
from nameko_services.common.rpc import Caller, rpc
from nameko_services.common.service_rpc import ServiceRpc


class GiftCardExpired(Conflict):
    """An error class newer than the caller: never registered with nameko or common.errors."""

    code = "gift_card_expired"


# Only the platform's own services hold trusted keys, so the test services borrow two names.
class Downstream:
    name = "payments"
    caller = Caller()

    @rpc
    def whoami(self):
        return {"service": self.caller.service, "user_id": self.caller.user_id}

    @rpc
    def slow(self):
        eventlet.sleep(3)

    @rpc
    def redeem(self):
        raise GiftCardExpired("The gift card has expired.", {"card": "c-1"})

    @rpc
    def append_late(self):
        """What a use case raises when its retries on a concurrent append run out."""
        raise StreamConflict(details={"stream_id": "s-1", "expected_version": 3})


class Upstream:
    name = "orders"
    downstream = ServiceRpc("payments", timeout=1)
    nowhere = ServiceRpc("nowhere", timeout=1)

    @rpc
    def relay(self):
        return self.downstream.whoami()

    @rpc
    def relay_slow(self):
        return self.downstream.slow()

    @rpc
    def relay_nowhere(self):
        return self.nowhere.anything()

    @rpc
    def relay_redeem(self):
        try:
            self.downstream.redeem()
        except Conflict as caught:
            return {"class": type(caught).__name__, "code": caught.code, "details": caught.details}

    @rpc
    def relay_conflict(self):
        return self.downstream.append_late()

    @dummy
    def unused(self):
        pass


@pytest.fixture
def services(container_factory, rabbit_config):
    for cls in (Downstream, Upstream):
        container_factory(cls, rabbit_config).start()


def test_the_downstream_service_sees_the_calling_service_and_the_end_user(services, call):
    assert call("orders", "relay", as_user=("u-7", ["customer"])) == {
        "service": "orders", "user_id": "u-7"}


def test_a_slow_downstream_service_is_a_timeout_not_a_hang(services, call):
    with pytest.raises(ServiceTimeout):
        call("orders", "relay_slow")


def test_a_service_that_does_not_exist_is_unavailable(services, call):
    with pytest.raises(ServiceUnavailable):
        call("orders", "relay_nowhere")


@pytest.mark.parametrize("method", ["append_late", "relay_conflict"])
def test_a_stream_conflict_reaches_the_caller_as_itself_with_its_details_after_one_or_two_hops(
        services, call, method):
    service = "payments" if method == "append_late" else "orders"
    with pytest.raises(StreamConflict) as raised:
        call(service, method)
    assert isinstance(raised.value, Conflict) and raised.value.code == "concurrent_modification"
    assert raised.value.details == {"stream_id": "s-1", "expected_version": 3}


def test_an_error_class_the_caller_does_not_know_reaches_it_as_its_base_with_its_code(services, call):
    assert call("orders", "relay_redeem") == {"class": "Conflict", "code": "gift_card_expired",
                                              "details": {"card": "c-1"}}
