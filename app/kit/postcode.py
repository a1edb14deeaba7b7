"""Dutch postcodes: four digits (no leading zero) and two letters, never SA, SD or SS."""

from __future__ import annotations

import re

_POSTCODE = re.compile(r"^([1-9][0-9]{3})\s?([A-Z]{2})$")
_FORBIDDEN = {"SA", "SD", "SS"}


def normalize_postcode(text: str) -> str | None:
    """`7607 ab` → `7607AB`; None when it is not a valid Dutch postcode."""
    match = _POSTCODE.match(text.strip().upper())
    if not match or match.group(2) in _FORBIDDEN:
        return None
    return match.group(1) + match.group(2)
