"""Rate-limit windows are fixed and aligned to the clock (app/kit/ratelimit.py): a test that counts
failures must not straddle a window's end, or its counts start again halfway (seen: a 404 where the 429
was due, in a run that crossed hh:10:00)."""

from __future__ import annotations

import time


def start_in_one_window(window_seconds: int = 600, need_seconds: int = 90) -> None:
    """Wait, if need be, until the current window has at least `need_seconds` left."""
    left = window_seconds - time.time() % window_seconds
    if left < need_seconds:
        time.sleep(left + 0.5)
