"""RelayLoop: hand-offs published as they come, sweeps on schedule with their grace, failures survived."""
import pytest

from nameko_services.common.outbox import OutboxMessage
from nameko_services.common.relay import RelayLoop


def message(seq):
    return OutboxMessage(f"event-{seq}", "thing_happened", {"n": seq}, {}, seq)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeHanded:
    """Hands off one prepared batch per take; each take moves the clock by what it waited."""

    def __init__(self, clock, batches, takes):
        self.clock = clock
        self.batches = list(batches)
        self.takes = takes
        self.timeouts = []

    def take(self, timeout):
        self.timeouts.append(timeout)
        self.takes -= 1
        batch = self.batches.pop(0) if self.batches else []
        if not batch:
            self.clock.now += timeout  # waited the whole timeout for nothing
        return batch


class FakeRelay:
    batch_size = 10

    def __init__(self, sweeps=(), publishes=()):
        self.sweeps = list(sweeps)  # rows each relay_batch sends, or an exception
        self.publishes = list(publishes)  # None, or an exception per publish_committed
        self.swept = []  # the grace of each relay_batch call
        self.published = []

    def relay_batch(self, grace=0.0):
        self.swept.append(grace)
        result = self.sweeps.pop(0) if self.sweeps else 0
        if isinstance(result, Exception):
            raise result
        return result

    def publish_committed(self, messages):
        outcome = self.publishes.pop(0) if self.publishes else None
        if isinstance(outcome, Exception):
            raise outcome
        self.published.append([m.seq for m in messages])


def _run(relay, batches, takes, interval=1.0, grace=5.0):
    clock = Clock()
    handed = FakeHanded(clock, batches, takes)
    RelayLoop(relay, handed, sweep_interval=interval, sweep_grace=grace, error_pause=0,
              clock=clock).run(lambda: handed.takes > 0)
    return handed


def test_a_sweep_runs_on_starting_and_full_batches_are_followed_by_another():
    relay = FakeRelay(sweeps=[10, 10, 3])
    _run(relay, batches=[], takes=2, interval=30.0)
    assert relay.swept == [5.0, 5.0, 5.0, 5.0]  # at once: three batches; 30 s later: one


def test_handed_off_messages_are_published_as_they_come_without_a_sweep():
    relay = FakeRelay()
    handed = _run(relay, batches=[[message(1)], [message(2), message(3)]], takes=2, interval=30.0)
    assert relay.published == [[1], [2, 3]]
    assert relay.swept == [5.0]  # the start's sweep only: 30 s have not passed
    assert handed.timeouts == [30.0, 30.0, 0.0]  # the last: stopping, whatever is left


def test_a_sweep_runs_every_interval_and_leaves_young_rows_to_their_own_process():
    relay = FakeRelay()
    handed = _run(relay, batches=[], takes=3, interval=2.0, grace=5.0)
    assert relay.swept == [5.0, 5.0, 5.0]  # at 0, 2 and 4 s; at 6 s the loop was stopping
    assert handed.timeouts == [2.0, 2.0, 2.0, 0.0]


def test_a_failed_publish_is_logged_and_its_rows_are_left_to_the_next_sweep(caplog):
    relay = FakeRelay(publishes=[ConnectionError("broker down")])
    _run(relay, batches=[[message(1)], [message(2)]], takes=2, interval=30.0)
    assert relay.published == [[2]]
    assert "a sweep will publish them" in caplog.text


def test_a_failing_sweep_is_logged_and_the_next_one_tries_again(caplog):
    relay = FakeRelay(sweeps=[ConnectionError("database down"), 4])
    _run(relay, batches=[], takes=2, interval=1.0)
    assert relay.swept == [5.0, 5.0]
    assert "outbox sweep failed" in caplog.text


def test_stopping_publishes_what_was_still_handed_off():
    relay = FakeRelay()

    class Draining(FakeHanded):
        def take(self, timeout):
            if self.takes <= 0 and timeout == 0.0:  # the drain after the loop
                return [message(7)] if not relay.published else []
            return super().take(timeout)

    clock = Clock()
    RelayLoop(relay, Draining(clock, [], 1), sweep_interval=30.0, clock=clock).run(lambda: clock.now < 30.0)
    assert relay.published == [[7]]


def test_the_publisher_is_closed_even_when_the_loop_is_killed():
    class Killed(BaseException):
        pass

    class Publisher:
        closed = False

        def close(self):
            self.closed = True

    class Dying(FakeHanded):
        def take(self, timeout):
            raise Killed()

    relay = FakeRelay()
    relay.publish = Publisher()
    with pytest.raises(Killed):  # as eventlet's GreenletExit when the container kills the thread
        RelayLoop(relay, Dying(Clock(), [], 1)).run(lambda: True)
    assert relay.publish.closed
