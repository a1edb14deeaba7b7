"""Back-office vouchers: the history of an address (audited, never a code), reissuing a lost voucher
(the new code once, the old one dead, the balance moved, a double post refused, a race giving exactly one
new voucher), opening a period (the previewed number is the number issued; the print batch is written),
the wijk scope on every route, and clear refusals of bad input."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.ledger.verify import verify_ledger
from app.models import AuditEvent, Household, Voucher, VoucherPeriod
from tests.factories import World, load_households
from tests.pages_helpers import alert_text, form_fields, soup
from tests.race_helpers import pledge, responses_only, run_together
from tests.staff_helpers import make_staff, staff_browser

# World households: n = 1..40 at 7600AB, huisnummer n + 1, buurt BUURTEN[n % 3]:
# huisnummer 2 lies in BU01411001 (wijk WK014110), huisnummer 3 in BU01411800 (wijk WK014118).
BINNENSTAD = {"postcode": "7600 ab", "huisnummer": "2"}
SCHELFHORST = {"postcode": "7600AB", "huisnummer": "3"}
CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}\b")


def audit(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )


def household_at(db: Database, huisnummer: int) -> tuple[int, int]:
    """(household id, live voucher id) at 7600AB `huisnummer`."""
    with db.read() as session:
        household_id = session.execute(
            select(Household.id).where(Household.postcode == "7600AB", Household.huisnummer == huisnummer)
        ).scalar_one()
        voucher_id = session.execute(
            select(Voucher.id).where(Voucher.household_id == household_id, Voucher.is_current.is_(True))
        ).scalar_one()
    return household_id, voucher_id


def voucher_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Voucher)) or 0)


def check(client: TestClient, code: str) -> object:
    return client.post("/api/v1/vouchers/check", json={"code": code})


@pytest.fixture(autouse=True)
def print_dir(settings: Settings, tmp_path: Path) -> Path:
    """Opening a period and reissuing a voucher write their files here (see tests/test_staff_letters.py)."""
    settings.print_dir = tmp_path / "print"
    return settings.print_dir


@pytest.fixture
def director(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return staff_browser(client, db, make_staff(db, settings, email="regisseur@almelo.nl"))


@pytest.fixture
def other(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )


@pytest.fixture
def admin(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return staff_browser(
        client, db, make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    )


def test_history_by_address_is_audited_and_shows_no_code(
    client: TestClient, db: Database, world: World, director: TestClient
) -> None:
    household_id, voucher_id = household_at(db, 2)
    code = world.codes_by_household[household_id]
    assert pledge(client, code, world.initiative_id, 200).status_code == 201
    page = director.get("/staff/vouchers/address", params={**BINNENSTAD, "huisletter": "", "toevoeging": ""})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    text = soup(page).get_text(" ", strip=True)
    assert "Voorjaar 2027" in text and "Nieuwe bankjes in het park" in text
    assert "€ 7,50" in text and "€ 5,50" in text and "€ 2,00" in text
    assert code not in page.text and not CODE.search(page.text)
    [event] = audit(db, "voucher.history_viewed")
    assert (event.subject_type, event.subject_id) == ("household", str(household_id))
    assert f"/staff/vouchers/{voucher_id}/reissue" in page.text


def test_reissue_shows_the_new_code_once_and_moves_the_balance(
    client: TestClient, db: Database, world: World, director: TestClient
) -> None:
    household_id, voucher_id = household_at(db, 2)
    old_code = world.codes_by_household[household_id]
    assert pledge(client, old_code, world.initiative_id, 200).status_code == 201
    confirm = director.get(f"/staff/vouchers/{voucher_id}/reissue")
    assert confirm.status_code == 200
    fields = form_fields(confirm, f"/staff/vouchers/{voucher_id}/reissue")
    done = director.post(f"/staff/vouchers/{voucher_id}/reissue", data=fields)
    assert done.status_code == 200, done.text
    assert done.headers["cache-control"] == "no-store"
    assert done.headers["referrer-policy"] == "no-referrer"
    [new_code] = CODE.findall(soup(done).select_one("[data-voucher-code]").get_text())
    assert new_code != old_code and soup(done).select_one("[data-print]") is not None

    old = check(client, old_code).json()  # type: ignore[attr-defined]
    assert old["status"] == "replaced" and old["balance_cents"] == 0
    assert pledge(client, old_code, world.initiative_id, 100).status_code == 409
    new = check(client, new_code).json()  # type: ignore[attr-defined]
    assert new["status"] == "active" and new["balance_cents"] == 550
    with db.read() as session:
        assert verify_ledger(session).ok

    again = director.post(f"/staff/vouchers/{voucher_id}/reissue", data=fields)
    assert again.status_code == 409
    assert "al vervangen" in alert_text(again) and not CODE.search(again.text)
    assert voucher_count(db) == len(world.codes) + 1
    [event] = audit(db, "voucher.reissued")
    assert event.actor.startswith("staff:")

    history = director.get("/staff/vouchers/address", params=BINNENSTAD)
    assert "Vervangen door" in history.text and new_code not in history.text


def test_two_reissues_of_one_voucher_give_exactly_one_new_voucher(
    client: TestClient, db: Database, settings: Settings, world: World, director: TestClient
) -> None:
    _household_id, voucher_id = household_at(db, 2)
    fields = form_fields(
        director.get(f"/staff/vouchers/{voucher_id}/reissue"), f"/staff/vouchers/{voucher_id}/reissue"
    )
    second = staff_browser(client, db, make_staff(db, settings, email="tweede@almelo.nl"))
    fields2 = form_fields(
        second.get(f"/staff/vouchers/{voucher_id}/reissue"), f"/staff/vouchers/{voucher_id}/reissue"
    )
    browsers = [(director, fields), (second, fields2)]
    results = responses_only(
        run_together(
            2, lambda i: browsers[i][0].post(f"/staff/vouchers/{voucher_id}/reissue", data=browsers[i][1])
        )
    )
    assert sorted(r.status_code for r in results) == [200, 409]
    assert voucher_count(db) == len(world.codes) + 1
    assert len(audit(db, "voucher.reissued")) == 1
    with db.read() as session:
        assert verify_ledger(session).ok


def test_other_wijk_gets_404_everywhere_for_a_household(
    db: Database, world: World, director: TestClient, other: TestClient
) -> None:
    _household_id, voucher_id = household_at(db, 2)
    outside = other.get("/staff/vouchers/address", params=BINNENSTAD)
    missing = other.get("/staff/vouchers/address", params={"postcode": "7600AB", "huisnummer": "999"})
    assert outside.status_code == missing.status_code == 404
    assert alert_text(outside) == alert_text(missing) and alert_text(outside)
    assert other.get("/staff/vouchers/address", params=SCHELFHORST).status_code == 200
    assert other.get(f"/staff/vouchers/{voucher_id}/reissue").status_code == 404
    csrf = form_fields(other.get("/staff/vouchers"), "/staff/logout")["csrf_token"]
    forged = other.post(f"/staff/vouchers/{voucher_id}/reissue", data={"csrf_token": csrf})
    assert forged.status_code == 404
    for guessed in (0, 999_999, 2**63):
        assert other.get(f"/staff/vouchers/{guessed}/reissue").status_code == 404
    assert voucher_count(db) == len(world.codes)
    assert audit(db, "voucher.reissued") == []
    viewed = [e.subject_id for e in audit(db, "voucher.history_viewed")]
    assert viewed == [str(household_at(db, 3)[0])]  # only the household in the director's own wijk
    # Directors do not open periods.
    assert other.get("/staff/vouchers/periods/new").status_code == 403
    assert (
        other.post("/staff/vouchers/periods/new", data={"csrf_token": csrf, "name": "X"}).status_code == 403
    )
    assert (
        other.post("/staff/vouchers/periods/confirm", data={"csrf_token": csrf, "name": "X"}).status_code
        == 403
    )
    assert "periods/new" not in other.get("/staff/vouchers").text


@pytest.mark.parametrize(
    "params",
    [
        {"postcode": "1234", "huisnummer": "2"},
        {"postcode": "0600AB", "huisnummer": "2"},
        {"postcode": "7600AB", "huisnummer": "abc"},
        {"postcode": "7600AB", "huisnummer": "0"},
        {"postcode": "7600AB", "huisnummer": "2", "huisletter": "AB"},
        {"postcode": "7600AB", "huisnummer": "2", "toevoeging": "!!"},
        {},
    ],
)
def test_bad_addresses_are_refused_clearly(
    db: Database, director: TestClient, params: dict[str, str]
) -> None:
    response = director.get("/staff/vouchers/address", params=params)
    assert response.status_code == 422
    assert alert_text(response)
    assert audit(db, "voucher.history_viewed") == []


def open_period_form(admin: TestClient, **values: str) -> object:
    page = admin.get("/staff/vouchers/periods/new")
    assert page.status_code == 200
    fields = form_fields(page, "/staff/vouchers/periods/new")
    assert fields["value"] == "7,50"
    fields.update({"name": "Najaar 2027", "starts": "2027-09-01", "ends": "2099-02-28"}, **values)
    return admin.post("/staff/vouchers/periods/new", data=fields)


def test_open_a_period_issues_exactly_the_previewed_number(
    db: Database, settings: Settings, world: World, admin: TestClient, tmp_path: Path
) -> None:
    preview = open_period_form(admin)
    assert preview.status_code == 200, preview.text
    assert soup(preview).select_one("[data-households]").get_text() == "40"
    assert "€ 300,00" in preview.text
    fields = form_fields(preview, "/staff/vouchers/periods/confirm")
    done = admin.post("/staff/vouchers/periods/confirm", data=fields, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = admin.get(done.headers["location"])
    [codes] = (tmp_path / "print").glob("*-codes.csv")  # with the letters: tests/test_staff_letters.py
    assert re.fullmatch(r"najaar-2027-[0-9]{8}-[0-9]{6}-codes\.csv", codes.name)
    assert codes.name in page.text
    assert stat.S_IMODE(os.stat(codes).st_mode) == 0o600
    assert len(codes.read_text().splitlines()) == 41
    assert not CODE.search(page.text)
    with db.read() as session:
        period_id = session.execute(
            select(VoucherPeriod.id).where(VoucherPeriod.name == "Najaar 2027")
        ).scalar_one()
        issued = session.scalar(
            select(func.count()).select_from(Voucher).where(Voucher.period_id == period_id)
        )
        assert verify_ledger(session).ok
    assert issued == 40
    assert [e.subject_id for e in audit(db, "period.opened")][-1] == str(period_id)
    assert audit(db, "vouchers.issued")[-1].actor.startswith("staff:")
    assert "Najaar 2027" in page.text

    again = admin.post("/staff/vouchers/periods/confirm", data=fields, follow_redirects=False)
    assert again.status_code == 409  # a second post: the number changed (to 0); nothing issued twice
    assert soup(again).select_one("[data-households]").get_text() == "0"
    assert voucher_count(db) == len(world.codes) + 40


def test_a_changed_count_asks_again(db: Database, world: World, admin: TestClient, tmp_path: Path) -> None:
    preview = open_period_form(admin)
    fields = form_fields(preview, "/staff/vouchers/periods/confirm")
    with db.write() as session:
        load_households(session, tmp_path, count=1, start=50)
    changed = admin.post("/staff/vouchers/periods/confirm", data=fields, follow_redirects=False)
    assert changed.status_code == 409
    assert soup(changed).select_one("[data-households]").get_text() == "41"
    with db.read() as session:
        assert (
            session.execute(select(VoucherPeriod).where(VoucherPeriod.name == "Najaar 2027")).first() is None
        )
    assert not (tmp_path / "print").exists() or not any((tmp_path / "print").iterdir())
    fields = form_fields(changed, "/staff/vouchers/periods/confirm")
    assert (
        admin.post("/staff/vouchers/periods/confirm", data=fields, follow_redirects=False).status_code == 303
    )
    assert voucher_count(db) == len(world.codes) + 41


@pytest.mark.parametrize(
    ("values", "status"),
    [
        ({"name": ""}, 422),
        ({"name": "x" * 81}, 422),
        ({"starts": "2027-09-01", "ends": "2027-08-01"}, 422),
        ({"ends": "2001-01-01", "starts": "2000-01-01"}, 422),
        ({"starts": "morgen"}, 422),
        ({"ends": "2099-02-30"}, 422),
        ({"value": "0"}, 422),
        ({"value": "abc"}, 422),
        ({"value": "1000,01"}, 422),
        ({"value": "-5"}, 422),
        ({"name": "Voorjaar 2027", "value": "10"}, 409),  # open already with € 7,50: frozen
    ],
)
def test_bad_period_input_is_refused_and_changes_nothing(
    db: Database, world: World, admin: TestClient, values: dict[str, str], status: int
) -> None:
    response = open_period_form(admin, **values)
    assert response.status_code == status, response.text
    assert alert_text(response)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(VoucherPeriod)) == 1
    assert voucher_count(db) == len(world.codes)


def test_forged_confirm_values_are_refused(db: Database, world: World, admin: TestClient) -> None:
    preview = open_period_form(admin)
    fields = form_fields(preview, "/staff/vouchers/periods/confirm")
    for change in ({"value_cents": "abc"}, {"value_cents": "0"}, {"households": "x"}, {"ends": "2000-01-01"}):
        response = admin.post(
            "/staff/vouchers/periods/confirm", data={**fields, **change}, follow_redirects=False
        )
        assert response.status_code in (409, 422), change
        assert alert_text(response)
    assert voucher_count(db) == len(world.codes)
