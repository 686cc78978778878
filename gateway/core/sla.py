"""The first-response clock: 24/7 by default."""

from __future__ import annotations

from datetime import datetime, timedelta


def first_response_due(opened_at: datetime, minutes: int) -> datetime:
    return opened_at + timedelta(minutes=minutes)
