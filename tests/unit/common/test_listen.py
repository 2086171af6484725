"""ChannelListener's reconnection policy, with a fake clock and fake connections."""
import pytest

from nameko_services.common.backoff import Backoff
from nameko_services.common.listen import ChannelListener


def test_backoff_doubles_up_to_its_cap_and_starts_over_after_a_success():
    backoff = Backoff(0.5, 3.0)
    assert [backoff.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.failed() == 0.5


class FakeCursor:
    def __init__(self, log):
        self.log = log

    def execute(self, statement):
        self.log.append(statement)


class FakeConnection:
    def __init__(self):
        self.autocommit = False
        self.statements = []
        self.closed = False

    def cursor(self):
        return FakeCursor(self.statements)

    def close(self):
        self.closed = True


class Clock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def _listener(connect, clock):
    return ChannelListener(connect, "outbox_inserted", Backoff(1.0, 8.0), clock=clock, sleep=clock.sleep)


def test_a_new_connection_listens_in_autocommit_and_reports_a_wake_up():
    conn, clock = FakeConnection(), Clock()
    listener = _listener(lambda: conn, clock)
    assert listener.wait(30) is True  # rows committed before it listened must be looked at now
    assert conn.autocommit is True
    assert [repr(s) for s in conn.statements] == [
        "Composed([SQL('LISTEN '), Identifier('outbox_inserted')])"]
    assert clock.slept == []


def test_failed_connections_back_off_but_never_wait_longer_than_the_timeout():
    clock = Clock()

    def refuse():
        raise ConnectionRefusedError("database down")

    listener = _listener(refuse, clock)
    assert listener.wait(0.5) is False
    assert clock.slept == [0.5]  # backoff 1 s, but the caller wanted control back after 0.5 s
    assert listener.wait(0.3) is False  # still inside the back-off: no attempt, just waiting
    assert listener.wait(30) is False  # waits out the rest of the back-off only
    assert clock.slept == pytest.approx([0.5, 0.3, 0.2])
    assert listener.wait(30) is False  # second failure: 2 s
    assert clock.slept[-1] == 2.0


def test_a_connection_failing_to_listen_is_closed():
    conn, clock = FakeConnection(), Clock()

    def execute(statement):
        raise OSError("server closed the connection")

    conn.cursor = lambda: type("C", (), {"execute": staticmethod(execute)})()
    listener = _listener(lambda: conn, clock)
    assert listener.wait(5) is False
    assert conn.closed
    assert listener.backend_pid is None
