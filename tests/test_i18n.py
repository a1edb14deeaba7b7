"""Languages: every Dutch source text has an English translation, placeholders survive translation, and pages
render in the chosen language (text, `<html lang>` and money).

Dutch is the source language; `app/locale/en/LC_MESSAGES/messages.po` is the English catalogue. When a test
here fails on a missing text, run `scripts/i18n` and translate the new entries.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup
from fastapi.testclient import TestClient

from tests.factories import World

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "app" / "locale" / "en" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
HOW_TO_FIX = "run scripts/i18n and translate the new entries in app/locale/en/LC_MESSAGES/messages.po"


def _source_texts() -> Catalog:
    """The texts marked in app/ and templates/ now, extracted as `scripts/i18n` does (babel.cfg, `N_`)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    catalog = Catalog()
    for filename, lineno, message, comments, context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=keywords
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def _english() -> Catalog:
    with CATALOGUE.open("rb") as handle:
        return read_po(handle, locale="en")


def _names(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def _has_stray_percent(text: str) -> bool:
    return "%" in PLACEHOLDER.sub("", text).replace("%%", "")


def _pairs(message: Message) -> list[tuple[str, str]]:
    """(source, translation) pairs: msgid/msgstr, or for a plural msgid/msgstr[0] and msgid_plural/msgstr[1]."""
    if isinstance(message.id, tuple | list):
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        plurals = [message.id[0], *[message.id[1]] * (len(strings) - 1)]
        return [(source, str(string or "")) for source, string in zip(plurals, strings, strict=True)]
    return [(message.id, str(message.string or ""))]


def test_source_texts_are_found() -> None:
    texts = {message.id if isinstance(message.id, str) else message.id[0] for message in _source_texts()}
    assert "Geef uw voucher aan uw buurt" in texts, "extraction found no template texts (check babel.cfg)"
    assert "Duurzaamheid" in texts, "extraction found no N_() labels in app/"


def test_every_source_text_has_an_english_translation() -> None:
    english = _english()
    problems: list[str] = []
    for source in _source_texts():
        if not source.id:
            continue
        key = source.id[0] if source.pluralizable else source.id
        entry = english.get(key, context=source.context)
        if entry is None:
            problems.append(f"missing: {key!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {key!r}")
        elif source.pluralizable != entry.pluralizable:
            problems.append(f"singular/plural mismatch (stale entry): {key!r}")
        elif not all(translation.strip() for _, translation in _pairs(entry)):
            problems.append(f"untranslated: {key!r}")
    assert not problems, f"{len(problems)} text(s) need English; {HOW_TO_FIX}:\n" + "\n".join(problems)


def test_catalogue_has_no_empty_or_fuzzy_entries() -> None:
    english = _english()
    problems = [
        repr(message.id)
        for message in english
        if message.id
        and (message.fuzzy or not all(translation.strip() for _, translation in _pairs(message)))
    ]
    assert not problems, f"empty or fuzzy entries; {HOW_TO_FIX}:\n" + "\n".join(problems)


def test_placeholders_are_kept_in_translations() -> None:
    problems: list[str] = []
    for message in _english():
        if not message.id:
            continue
        for source, translation in _pairs(message):
            if not translation:
                continue
            if _names(source) != _names(translation):
                problems.append(
                    f"{source!r}: {sorted(_names(source))} but {translation!r}: {sorted(_names(translation))}"
                )
            # Jinja's new-style gettext formats every text with `%`: a lone percent sign would break it.
            if _has_stray_percent(translation) and not _has_stray_percent(source):
                problems.append(f"stray % in {translation!r}")
    assert not problems, "placeholders differ between Dutch and English:\n" + "\n".join(problems)


def _page(client: TestClient, path: str) -> BeautifulSoup:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return BeautifulSoup(response.text, "html.parser")


def _html_lang(page: BeautifulSoup) -> str:
    html = page.find("html")
    assert html is not None
    return str(html.get("lang"))


@pytest.mark.usefixtures("world")
def test_home_page_in_dutch_and_english(client: TestClient) -> None:
    dutch = _page(client, "/")
    assert _html_lang(dutch) == "nl"
    assert "Geef uw voucher aan uw buurt" in dutch.get_text()
    assert "€ 7,50" in dutch.get_text()

    switched = client.get("/lang/en?next=/")
    assert switched.status_code == 200
    assert switched.url.path == "/"
    english = _page(client, "/")
    assert _html_lang(english) == "en"
    text = english.get_text()
    assert "Give your voucher to your neighbourhood" in text
    assert "Geef uw voucher aan uw buurt" not in text
    assert "€7.50" in text

    client.get("/lang/nl?next=/")
    assert _html_lang(_page(client, "/")) == "nl"


def test_a_fresh_browser_gets_dutch(client: TestClient, world: World) -> None:
    client.cookies.clear()
    page = _page(client, f"/initiatives/{world.initiative_id}")
    assert _html_lang(page) == "nl"


def test_money_is_formatted_per_language(client: TestClient, world: World) -> None:
    pledged = client.post(
        "/api/v1/pledges", json={"code": world.codes[0], "initiative_id": world.initiative_id}
    )
    assert pledged.status_code == 201, pledged.text
    assert pledged.json()["amount_cents"] == 750
    path = f"/initiatives/{world.initiative_id}"

    dutch = _page(client, path).get_text()
    assert "€ 7,50" in dutch
    assert "€ 50,00" in dutch
    assert "€7.50" not in dutch

    client.get(f"/lang/en?next={path}")
    page = _page(client, path)
    assert _html_lang(page) == "en"
    english = page.get_text()
    assert "€7.50" in english
    assert "€50.00" in english
    assert "€ 7,50" not in english
    assert "Raised" in english
