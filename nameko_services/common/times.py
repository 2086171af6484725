"""Times on the wire: ISO 8601 in UTC, whatever time zone the database session uses."""
from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    """``2026-12-01T12:00:00+00:00`` for any aware datetime."""
    return moment.astimezone(UTC).isoformat()
