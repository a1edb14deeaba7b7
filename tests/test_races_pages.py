"""Races through the HTML give flow: double clicks, two tabs and many households at once, on a real database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from tests.pages_helpers import choose_amount, confirm, hold_voucher
from tests.race_helpers import (
    assert_ledger_ok,
    overlapping,
    pledge_rows,
    pledged_cents,
    populate,
    run_together,
    voucher_balance,
)
from tests.served import another_browser

# Each test that takes `client` runs in-process and through `buurtkas serve --workers 4` (tests.served).
pytestmark = [pytest.mark.race, pytest.mark.served]


def test_many_clicks_on_one_confirm_give_once(client: TestClient, db: Database, settings: Settings) -> None:
    setup = populate(db, settings, households=4, targets=[5_000])
    initiative = setup.initiative_ids[0]
    hold_voucher(client, setup.codes[0])
    page = choose_amount(client, initiative, "3")
    results = run_together(12, lambda _: confirm(client, initiative, page))
    locations = {r.headers.get("location") for r in results if not isinstance(r, BaseException)}
    assert not [r for r in results if isinstance(r, BaseException)]
    # Every click either lands on the one receipt, or (while the first is still being written) is told
    # to wait; none gives again.
    statuses = sorted(r.status_code for r in results if not isinstance(r, BaseException))
    assert set(statuses) <= {303, 409}, statuses
    # One receipt: each link names it with a signed, timestamped token, so clicks answered in different
    # seconds get different tokens for the same receipt.
    assert len({loc.rsplit("/", 1)[1].split(".")[0] for loc in locations if loc}) == 1
    assert [amount for _, _, amount in pledge_rows(db)] == [300]
    assert voucher_balance(db, setup.codes[0]) == 450
    assert_ledger_ok(db)


def test_two_tabs_spending_the_whole_voucher_give_it_once(
    client: TestClient, db: Database, settings: Settings
) -> None:
    setup = populate(db, settings, households=2, targets=[5_000, 5_000])
    first, second = setup.initiative_ids
    hold_voucher(client, setup.codes[0])
    tabs = [(first, choose_amount(client, first, "7,50")), (second, choose_amount(client, second, "7,50"))]
    results = run_together(2, lambda i: confirm(client, tabs[i][0], tabs[i][1]))
    statuses = sorted(r.status_code for r in results if not isinstance(r, BaseException))
    assert statuses == [303, 409]
    assert [amount for _, _, amount in pledge_rows(db)] == [750]
    assert voucher_balance(db, setup.codes[0]) == 0
    assert_ledger_ok(db)


def test_households_racing_for_the_last_euros_never_overfund(
    client: TestClient, db: Database, settings: Settings
) -> None:
    households = 16
    setup = populate(db, settings, households=households, targets=[5_000])
    initiative = setup.initiative_ids[0]
    browsers = [another_browser(client) for _ in range(households)]
    pages = []
    for browser, code in zip(browsers, setup.codes, strict=True):
        hold_voucher(browser, code)
        pages.append(choose_amount(browser, initiative, "7,50"))
    with overlapping(db, at_least=2):
        results = run_together(households, lambda i: confirm(browsers[i], initiative, pages[i]))
    assert not [r for r in results if isinstance(r, BaseException)]
    statuses = [r.status_code for r in results if not isinstance(r, BaseException)]
    assert all(status in (303, 409) for status in statuses), statuses
    assert pledged_cents(db, initiative) == 5_000
    given = sum(amount for _, _, amount in pledge_rows(db))
    assert given == 5_000
    assert sum(750 - voucher_balance(db, code) for code in setup.codes) == 5_000
    assert_ledger_ok(db)
