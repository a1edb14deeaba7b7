"""Money is an int of euro cents; these helpers only format it."""

from __future__ import annotations


def format_cents(amount_cents: int, locale: str = "nl") -> str:
    """Format cents as `€ 7,50` (nl) or `€7.50` (en)."""
    sign = "-" if amount_cents < 0 else ""
    euros, cents = divmod(abs(amount_cents), 100)
    if locale.startswith("en"):
        return f"{sign}€{euros:,}.{cents:02d}"
    grouped = f"{euros:,}".replace(",", ".")
    return f"{sign}€ {grouped},{cents:02d}"
