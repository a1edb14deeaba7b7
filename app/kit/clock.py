"""The municipality's calendar: dates are Europe/Amsterdam dates."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def today() -> date:
    return datetime.now(AMSTERDAM).date()


def end_of_day(day: date) -> datetime:
    """The last moment of `day` in Amsterdam, as an aware datetime."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=AMSTERDAM)
