"""Growing delays between attempts, shared by the LISTEN reconnections and ``shopctl up`` restarts.

No eventlet or database imports here: the process supervisor (``ops.runner``) uses it too.
"""
from __future__ import annotations


class Backoff:
    """Delays between attempts: ``initial``, doubled after each failure, capped at ``maximum``."""

    def __init__(self, initial: float = 0.5, maximum: float = 10.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._next = initial

    def failed(self) -> float:
        """The delay before the next attempt, after one more failure."""
        delay = self._next
        self._next = min(self._next * 2, self.maximum)
        return delay

    def reset(self) -> None:
        """An attempt worked: the next failure starts from ``initial`` again."""
        self._next = self.initial
