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


MAX_TYPED_EUROS = 1_000_000


def parse_euros(text: str) -> int:
    """Cents from what a person types: `7`, `7,50`, `7.5`, `€ 7,50`. ValueError when it is not an amount."""
    cleaned = text.strip().replace("€", "").replace("\u00a0", "").replace(" ", "")
    if not cleaned or len(cleaned) > 12:
        raise ValueError("empty or too long")
    if "," in cleaned and "." in cleaned:
        raise ValueError("ambiguous separators")
    whole, _, fraction = cleaned.replace(",", ".").partition(".")
    if not whole:
        whole = "0"
    if not (whole.isdigit() and whole.isascii()) or not (
        fraction == "" or (fraction.isdigit() and fraction.isascii())
    ):
        raise ValueError("not a number")
    if len(fraction) > 2:
        raise ValueError("more than two decimals")
    cents = int(whole) * 100 + int((fraction or "0").ljust(2, "0"))
    if cents > MAX_TYPED_EUROS * 100:
        raise ValueError("too large")
    return cents
