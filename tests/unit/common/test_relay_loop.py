"""RelayLoop: one pass per wake-up, full batches drained, failures survived, connection closed."""
import pytest

from nameko_services.common.relay import RelayLoop


class FakeListener:
    def __init__(self, wake_ups):
        self.wake_ups = wake_ups
        self.timeouts = []
        self.closed = False

    def wait(self, timeout):
        self.timeouts.append(timeout)
        self.wake_ups -= 1
        return True

    def close(self):
        self.closed = True


class FakeRelay:
    batch_size = 10

    def __init__(self, results):
        self.results = list(results)
        self.calls = 0

    def relay_batch(self):
        self.calls += 1
        result = self.results.pop(0) if self.results else 0
        if isinstance(result, Exception):
            raise result
        return result


def _run(relay, wake_ups, fallback=7.0):
    listener = FakeListener(wake_ups)
    RelayLoop(relay, listener, fallback_interval=fallback, error_pause=0).run(lambda: listener.wake_ups > 0)
    return listener


def test_full_batches_are_followed_by_another_and_a_short_one_ends_the_pass():
    relay = FakeRelay([10, 10, 3, 0])
    listener = _run(relay, wake_ups=2)
    # wake-up 1: 10, 10, 3 (short: drained); wake-up 2 made running() false before any pass
    assert relay.calls == 3
    assert listener.timeouts == [7.0, 7.0]
    assert listener.closed


def test_a_failing_pass_is_logged_and_the_next_wake_up_tries_again():
    relay = FakeRelay([ConnectionError("broker down"), 4])
    listener = _run(relay, wake_ups=3)
    assert relay.calls == 2
    assert listener.closed


def test_the_connection_is_closed_even_when_the_loop_is_killed():
    class Killed(BaseException):
        pass

    class Dying(FakeListener):
        def wait(self, timeout):
            raise Killed()

    listener = Dying(1)
    with pytest.raises(Killed):  # as eventlet's GreenletExit when the container kills the thread
        RelayLoop(FakeRelay([]), listener).run(lambda: True)
    assert listener.closed
