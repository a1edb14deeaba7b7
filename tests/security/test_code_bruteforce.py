"""Guessing voucher codes is throttled per client and in total, and the README's arithmetic of the code space
matches app.kit.codes.

Guards app/kit/ratelimit.py (FailureLimiter) as used by the voucher check, the pledge API and the code form.
Checked to fail without the protection: with FailureLimiter.check made a no-op (`return` as its first line)
both throttling tests failed (404 instead of 429); with DATA_LENGTH changed to 12 in app/kit/codes.py the
README test failed (each change undone, never committed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.kit import codes
from app.main import create_app
from tests.api_cases import C, P, unknown_code
from tests.databases import test_settings
from tests.dbstate import snapshot
from tests.factories import World, build_world
from tests.pages_helpers import form_fields
from tests.ratelimit_helpers import start_in_one_window

README = Path(__file__).resolve().parents[2] / "README.md"
PER_CLIENT = 3
TOTAL = 5


@pytest.fixture
def limited(database_url: str) -> Iterator[tuple[Settings, Database, World]]:
    conf = test_settings(
        database_url,
        code_failures_per_client=PER_CLIENT,
        code_failures_total=TOTAL,
        code_failure_window_seconds=600,
    )
    db = Database(conf)
    world = build_world(db, conf, households=8)
    start_in_one_window(conf.code_failure_window_seconds)
    yield conf, db, world
    db.dispose()


def test_one_client_guessing_is_stopped_and_others_still_give(
    limited: tuple[Settings, Database, World],
) -> None:
    conf, db, world = limited
    app = create_app(conf, db)
    with (
        TestClient(app, client=("198.51.100.7", 5000)) as guesser,
        TestClient(app, client=("198.51.100.8", 5000)) as neighbour,
    ):
        answers = [guesser.post(C, json={"code": unknown_code()}).status_code for _ in range(PER_CLIENT)]
        assert answers == [404] * PER_CLIENT
        before = snapshot(db)
        for path, body in (
            (C, {"code": unknown_code()}),
            (P, {"code": unknown_code(), "initiative_id": world.initiative_id}),
            (C, {"code": world.codes[0]}),  # even a right code: this client is stopped for the window
        ):
            stopped = guesser.post(path, json=body)
            assert stopped.status_code == 429, stopped.text
            assert 1 <= int(stopped.headers["Retry-After"]) <= 600
        # the HTML code form is throttled by the same counters
        page = guesser.get("/voucher")
        form = form_fields(page, "/voucher")
        form["code"] = unknown_code()
        assert guesser.post("/voucher", data=form, follow_redirects=False).status_code == 429
        assert snapshot(db) == before
        # someone else with a real code is not stopped (the total is not reached yet)
        assert neighbour.post(C, json={"code": world.codes[1]}).status_code == 200
        given = neighbour.post(P, json={"code": world.codes[1], "initiative_id": world.initiative_id})
        assert given.status_code == 201, given.text


def test_the_total_limit_stops_a_guesser_with_many_addresses(
    limited: tuple[Settings, Database, World],
) -> None:
    conf, db, world = limited
    app = create_app(conf, db)
    statuses = []
    for n in range(TOTAL + 1):  # each address stays below its own limit
        with TestClient(app, client=(f"203.0.113.{n + 1}", 5000)) as one:
            statuses.append(one.post(C, json={"code": unknown_code()}).status_code)
    assert statuses == [404] * TOTAL + [429]
    with TestClient(app, client=("203.0.113.200", 5000)) as fresh:
        response = fresh.post(C, json={"code": world.codes[0]})
        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) >= 1


def test_readme_states_the_code_space_computed_from_the_alphabet() -> None:
    base = len(codes.ALPHABET)
    checks = len(codes.CHECK_ALPHABET)
    assert base == 32 and len(set(codes.ALPHABET)) == base
    assert codes.CODE_LENGTH == codes.DATA_LENGTH + 1
    space = base**codes.DATA_LENGTH * base / checks  # codes whose check symbol is a letter or digit
    bits = math.log2(space)
    assert bits >= 64  # the SPEC's minimum
    text = README.read_text(encoding="utf-8")
    section = text.split("## Voucher codes and why they cannot be guessed", 1)[1].split("\n## ", 1)[0]
    superscripts = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
    plain = section.translate(superscripts)
    formula = re.search(
        r"(\d+)(\d\d) × (\d+)/(\d+) ≈ (\d+(?:\.\d+)?) × 10(\d+) possible codes \((\d+\.\d) bits\)", plain
    )
    assert formula, "README no longer states the code space as `32¹³ × 32/37 ≈ … × 10¹⁹ … (… bits)`"
    radix, exponent, numerator, denominator, mantissa, power, stated_bits = formula.groups()
    assert (int(radix), int(exponent)) == (base, codes.DATA_LENGTH)
    assert (int(numerator), int(denominator)) == (base, checks)
    assert float(mantissa) * 10 ** int(power) == pytest.approx(space, rel=0.02)
    assert float(stated_bits) == round(bits, 1)
    # the guessing budget in the README follows from the default limits
    defaults = Settings(_env_file=None, database_url="sqlite://")  # type: ignore[call-arg]
    per_day = defaults.code_failures_total * (86_400 // defaults.code_failure_window_seconds)
    assert (
        f"{defaults.code_failures_total:,} × {86_400 // defaults.code_failure_window_seconds} = {per_day:,}"
        in section
    )
    years = 330_000 / space * per_day * 365.25
    stated_years = int(re.search(r"after about ([\d,]+) years", section).group(1).replace(",", ""))  # type: ignore[union-attr]
    assert 1 / years == pytest.approx(stated_years, rel=0.05)
