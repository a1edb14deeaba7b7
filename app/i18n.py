"""Languages: Dutch is the source language of every text; English comes from a gettext catalogue.

Texts in templates and code are written in Dutch and marked with `_()`; `app/locale/en/LC_MESSAGES/
messages.po` holds their English. The catalogue is read from its `.po` file on first use (no compile step).
The language of a render is a context variable, set by the page renderer for the request's language.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from app.kit.money import format_cents

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"
CATALOGUE_DIR = Path(__file__).parent / "locale"
_AMSTERDAM = ZoneInfo("Europe/Amsterdam")
_current: ContextVar[str] = ContextVar("locale", default=DEFAULT_LOCALE)


@cache
def translations(locale: str) -> NullTranslations:
    """The catalogue for `locale`; Dutch is the source text, so it needs none."""
    po_file = CATALOGUE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if locale == DEFAULT_LOCALE or not po_file.exists():
        return NullTranslations()
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(fp=buffer)


def current_locale() -> str:
    return _current.get()


@contextmanager
def use_locale(locale: str) -> Iterator[None]:
    token = _current.set(locale if locale in LOCALES else DEFAULT_LOCALE)
    try:
        yield
    finally:
        _current.reset(token)


def gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


_ = gettext


def money(amount_cents: int) -> str:
    """`€ 7,50` in Dutch, `€7.50` in English."""
    return format_cents(int(amount_cents), _current.get())


def long_date(day: date | datetime) -> str:
    if isinstance(day, datetime):
        day = day.astimezone(_AMSTERDAM).date()
    return format_date(day, format="long", locale=_current.get())


def date_time(moment: datetime) -> str:
    return format_datetime(moment, format="d MMMM y, HH:mm", tzinfo=_AMSTERDAM, locale=_current.get())
