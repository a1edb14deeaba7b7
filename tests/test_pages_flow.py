"""The household's path through the HTML pages without JavaScript: QR link, voucher, amount, confirm, receipt.

Each step is checked by its HTML, and every refusal must leave the money where it was.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.db import Database
from tests.factories import World, make_initiative
from tests.pages_helpers import alert_text, choose_amount, confirm, form_fields, hold_voucher, soup
from tests.race_helpers import assert_ledger_ok, pledge_rows, pledged_cents, voucher_balance


def test_qr_link_hands_the_code_over_once_and_redirects(client: TestClient, world: World) -> None:
    code = world.codes[0]
    landing = client.get(f"/v/{code}", follow_redirects=False)
    assert landing.status_code == 303
    assert landing.headers["location"] == "/voucher"
    assert landing.headers["cache-control"] == "no-store"
    assert landing.headers["referrer-policy"] == "no-referrer"
    cookie = landing.headers["set-cookie"]
    assert code not in cookie and code.replace("-", "") not in cookie
    page = client.get("/voucher")
    assert page.status_code == 200
    assert code not in page.text
    balance = soup(page).select_one(".buurtkas-balance")
    assert balance is not None and balance.get_text(strip=True) == "€ 7,50"


def _code_in_buurt(client: TestClient, world: World, buurt_code: str) -> str:
    for code in world.codes:
        if client.post("/api/v1/vouchers/check", json={"code": code}).json()["buurt_code"] == buurt_code:
            return code
    raise AssertionError(f"no household in {buurt_code}")


def test_voucher_page_lists_own_buurt_then_wijk_then_elsewhere(client: TestClient, world: World) -> None:
    with client.app.state.db.write() as session:  # type: ignore[attr-defined]
        wijk_wide = make_initiative(session, world.settings, area_code="WK014110", title="Wijkfeest")
        elsewhere = make_initiative(session, world.settings, area_code="BU01411800", title="Elders")
        city_wide = make_initiative(session, world.settings, area_code="GM0141", title="Stadsbreed")
    page = hold_voucher(client, _code_in_buurt(client, world, "BU01411000"))
    sections = soup(page).select("section")
    order = [
        (
            section.h3.get_text(" ", strip=True).split()[:3],
            [a["href"] for a in section.select("a[href$='/give']")],
        )
        for section in sections
    ]
    assert [words for words, _ in order] == [
        ["In", "uw", "buurt"],
        ["In", "uw", "wijk"],
        ["Voor", "heel", "Almelo"],
        ["Elders", "in", "Almelo"],
    ]
    assert order[0][1] == [f"/initiatives/{world.initiative_id}/give"]
    assert order[1][1] == [f"/initiatives/{wijk_wide}/give"]
    assert order[2][1] == [f"/initiatives/{city_wide}/give"]
    assert order[3][1] == [f"/initiatives/{elsewhere}/give"]


def test_whole_flow_gives_and_shows_a_receipt(client: TestClient, world: World, db: Database) -> None:
    code = world.codes[0]
    hold_voucher(client, code)
    confirm_page = choose_amount(client, world.initiative_id)
    assert confirm_page.status_code == 200
    assert "€ 7,50" in soup(confirm_page).select_one("dl").get_text(" ", strip=True)
    assert pledge_rows(db) == [], "choosing an amount must not move money"

    done = confirm(client, world.initiative_id, confirm_page)
    assert done.status_code == 303
    receipt_url = done.headers["location"]
    assert receipt_url.startswith("/receipts/")
    receipt = client.get(receipt_url)
    assert receipt.status_code == 200
    text = soup(receipt).get_text(" ", strip=True)
    assert "Dank u wel" in text and "€ 7,50" in text
    assert voucher_balance(db, code) == 0
    assert pledged_cents(db, world.initiative_id) == 750
    assert_ledger_ok(db)


def test_double_submit_gives_once_and_shows_the_same_receipt(
    client: TestClient, world: World, db: Database
) -> None:
    hold_voucher(client, world.codes[0])
    confirm_page = choose_amount(client, world.initiative_id, "2,50")
    first = confirm(client, world.initiative_id, confirm_page)
    again = confirm(client, world.initiative_id, confirm_page)  # back button + submit, or a double click
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert [amount for _, _, amount in pledge_rows(db)] == [250]
    assert voucher_balance(db, world.codes[0]) == 500


def test_rest_of_the_balance_can_go_to_another_initiative(client: TestClient, world: World) -> None:
    hold_voucher(client, world.codes[0])
    done = confirm(client, world.initiative_id, choose_amount(client, world.initiative_id, "5"))
    receipt = client.get(done.headers["location"])
    rest = soup(receipt).find("a", href="/voucher")
    assert rest is not None
    assert "€ 2,50" in soup(receipt).get_text(" ", strip=True)


def test_wrong_amounts_are_explained_and_the_input_kept(
    client: TestClient, world: World, db: Database
) -> None:
    hold_voucher(client, world.codes[0])
    for typed, status, words in [
        ("zeven", 422, "bedrag in euro"),
        ("0,50", 422, "minstens"),
        ("8,00", 409, "lager bedrag"),
        ("7,505", 422, "bedrag in euro"),
    ]:
        page = choose_amount(client, world.initiative_id, typed)
        assert page.status_code == status, (typed, page.status_code)
        assert words in alert_text(page).lower(), (typed, alert_text(page))
        assert form_fields(page, f"/initiatives/{world.initiative_id}/give")["amount"] == typed
    assert pledge_rows(db) == []


def test_amount_above_what_is_needed_is_lowered_before_confirming(
    client: TestClient, world: World, db: Database
) -> None:
    for code in world.codes[:6]:  # 6 × €7,50 = €45 of the €50 target
        other = TestClient(client.app)
        hold_voucher(other, code)
        assert (
            confirm(other, world.initiative_id, choose_amount(other, world.initiative_id)).status_code == 303
        )
    hold_voucher(client, world.codes[6])
    page = choose_amount(client, world.initiative_id, "7,50")
    assert page.status_code == 200
    assert "€ 5,00" in soup(page).select_one("dl").get_text(" ", strip=True)
    done = confirm(client, world.initiative_id, page)
    assert done.status_code == 303
    assert voucher_balance(db, world.codes[6]) == 250
    assert pledged_cents(db, world.initiative_id) == 5_000
    funded = client.get(f"/initiatives/{world.initiative_id}/give")
    assert "streefbedrag al gehaald" in soup(funded).get_text(" ", strip=True)


def test_someone_else_completing_it_first_is_explained(
    client: TestClient, world: World, db: Database
) -> None:
    hold_voucher(client, world.codes[0])
    stale = choose_amount(client, world.initiative_id)  # confirm page, then others fill the target
    for code in world.codes[1:8]:
        other = TestClient(client.app)
        hold_voucher(other, code)
        confirm(other, world.initiative_id, choose_amount(other, world.initiative_id))
    assert pledged_cents(db, world.initiative_id) == 5_000
    late = confirm(client, world.initiative_id, stale)
    assert late.status_code == 409
    assert "al gehaald" in alert_text(late)
    assert voucher_balance(db, world.codes[0]) == 750
    assert_ledger_ok(db)


def test_unknown_code_keeps_the_input_and_counts_as_a_failure(client: TestClient, world: World) -> None:
    page = client.get("/voucher")
    fields = form_fields(page, "/voucher")
    fields["code"] = "AAAA-BBBB-CCCC-DD"
    answer = client.post("/voucher", data=fields)
    assert answer.status_code in (404, 422)
    assert form_fields(answer, "/voucher")["code"] == "AAAA-BBBB-CCCC-DD"
    assert alert_text(answer)


def test_unknown_code_from_a_qr_link_is_explained_without_keeping_it_in_the_url(client: TestClient) -> None:
    landing = client.get("/v/K7QM-2XHD-9RTW-FA", follow_redirects=False)
    assert landing.status_code == 303 and landing.headers["location"] == "/voucher"
    page = client.get("/voucher")
    assert "kennen we niet" in alert_text(page) or "geen geldige" in alert_text(page)
    assert form_fields(page, "/voucher")["code"] == "K7QM-2XHD-9RTW-FA"
    assert "bk_flash" in page.headers.get("set-cookie", ""), "the one-shot message must be cleared"


def test_form_post_without_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, world: World, db: Database
) -> None:
    hold_voucher(client, world.codes[0])
    confirm_page = choose_amount(client, world.initiative_id)
    fields = form_fields(confirm_page, f"/initiatives/{world.initiative_id}/give/confirm")
    for forged in ({**fields, "csrf_token": ""}, {**fields, "csrf_token": "x" * 43}):
        answer = client.post(f"/initiatives/{world.initiative_id}/give/confirm", data=forged)
        assert answer.status_code == 403
        assert "verlopen" in soup(answer).get_text(" ", strip=True)
    cross_site = client.post(
        f"/initiatives/{world.initiative_id}/give/confirm",
        data=fields,
        headers={"origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert pledge_rows(db) == []


def test_give_without_a_voucher_asks_for_the_code_then_returns(client: TestClient, world: World) -> None:
    page = client.get(f"/initiatives/{world.initiative_id}/give")
    fields = form_fields(page, "/voucher")
    assert fields["next"] == f"/initiatives/{world.initiative_id}/give"
    fields["code"] = world.codes[0].lower().replace("-", " ")
    answer = client.post("/voucher", data=fields, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/initiatives/{world.initiative_id}/give"


def test_forged_redirect_target_is_ignored(client: TestClient, world: World) -> None:
    page = client.get("/voucher")
    fields = {**form_fields(page, "/voucher"), "code": world.codes[0], "next": "//evil.example/x"}
    answer = client.post("/voucher", data=fields, follow_redirects=False)
    assert answer.headers["location"] == "/voucher"


def test_forgetting_the_voucher_clears_it(client: TestClient, world: World) -> None:
    page = hold_voucher(client, world.codes[0])
    fields = form_fields(page, "/voucher/forget")
    client.post("/voucher/forget", data=fields)
    assert soup(client.get("/voucher")).find("input", attrs={"name": "code"}) is not None


def test_forged_voucher_cookie_is_ignored(client: TestClient, world: World) -> None:
    client.cookies.set("bk_voucher", "1.abc.def")
    page = client.get("/voucher")
    assert soup(page).find("input", attrs={"name": "code"}) is not None


def test_receipt_with_a_forged_token_is_a_plain_404(client: TestClient) -> None:
    for token in ("MQ.abc.def", "x" * 300, "1"):
        page = client.get(f"/receipts/{token}")
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "path", ["/initiatives/99999999999999999999/give", "/initiatives/0/give", "/initiatives/x/give"]
)
def test_impossible_initiative_ids_on_the_give_page_are_refused_not_crashed(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    assert 400 <= response.status_code < 500
