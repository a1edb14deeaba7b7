"""The back office acting for residents who are not online: a wijkregisseur creates an initiative on a
resident's behalf (same rules as the initiator's editor, only areas within the scope), registers paper vouchers
handed in at the wijkcentrum (each code spent once, results per code, the code limiter applies), and gives the
payout account of an initiative that has no owner account. Bad input changes nothing; all is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.config import Settings
from app.db import Database
from app.kit.codes import format_code, generate_code
from app.models import (
    Initiative,
)
from tests.dbstate import failure_counts, snapshot
from tests.factories import World
from tests.moderation_helpers import (
    TODAY,
    VOLATILE,
    act,
    audit_rows,
    binnenstad_director,
    listed_ids,
    owner,
    schelfhorst_director,
    submitted,
    token_of,
    transitions,
)
from tests.pages_helpers import alert_text, form_fields, soup
from tests.race_helpers import (
    assert_ledger_ok,
    pledged_cents,
    voucher_balance,
)
from tests.ratelimit_helpers import start_in_one_window
from tests.staff_helpers import staff_browser


@pytest.fixture
def director_id(db: Database, settings: Settings, world: World) -> int:
    return binnenstad_director(db, settings)


@pytest.fixture
def director(client: TestClient, db: Database, director_id: int) -> TestClient:
    return staff_browser(client, db, director_id)


@pytest.fixture
def outsider(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return schelfhorst_director(client, db, settings)


# ------------------------------------------------------------------------------------ on behalf


def on_behalf_form(browser: TestClient, **values: str) -> dict[str, str]:
    fields = form_fields(browser.get("/staff/initiatives/new"), "/staff/initiatives/new")
    fields.update(
        {
            "initiator_name": "Mevrouw De Vries",
            "title": "Koffieochtend in het buurthuis",
            "summary": "Elke week koffie voor de buurt.",
            "description": "Een jaar lang elke dinsdag koffie en thee in het buurthuis, voor iedereen.",
            "category": "ontmoeten",
            "area": "BU01411001",
            "target": "120",
            "deadline": (TODAY + timedelta(days=40)).isoformat(),
            "line_text_0": "Koffie en thee",
            "line_amount_0": "80",
            "line_text_1": "Koekjes",
            "line_amount_1": "40",
            "organiser_name_0": "Jan Buur",
            "organiser_email_0": "jan@example.org",
            "save_as": "submitted",
        }
    )
    fields.update(values)
    return fields


def initiative_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Initiative)) or 0)


@pytest.mark.parametrize("save_as", ["submitted", "published"])
def test_a_director_creates_an_initiative_on_behalf_of_a_resident(
    director: TestClient, director_id: int, db: Database, save_as: str
) -> None:
    form_page = director.get("/staff/initiatives/new")
    areas = [o["value"] for o in soup(form_page).select("select[name=area] option") if o["value"]]
    assert areas == ["WK014110", "BU01411000", "BU01411001"], "only areas within the director's wijken"
    done = director.post(
        "/staff/initiatives/new", data=on_behalf_form(director, save_as=save_as), follow_redirects=False
    )
    assert done.status_code == 303, alert_text(done)
    initiative_id = int(done.headers["location"].rsplit("/", 1)[1])
    with db.read() as session:
        row = session.execute(select(Initiative).where(Initiative.id == initiative_id)).scalar_one()
    assert row.owner_account_id is None and row.created_by_staff_id == director_id
    assert (row.status, row.initiator_name, row.target_cents) == (save_as, "Mevrouw De Vries", 12_000)
    actor = f"staff:{director_id}"
    assert [(t[1], t[2]) for t in transitions(db, initiative_id)] == [
        ("draft", actor),
        ("submitted", actor),
        *([("published", actor)] if save_as == "published" else []),
    ]
    [event] = audit_rows(db, "initiative.created_by_staff", initiative_id)
    assert event.actor == actor and "Koffieochtend" in str(event.after)
    assert "Mevrouw De Vries" not in str(event.after)  # the audit log outlives retention: no names
    queue = listed_ids(director.get("/staff/initiatives"), "queue-caption")
    assert (initiative_id in queue) == (save_as == "submitted")
    page = director.get(f"/staff/initiatives/{initiative_id}")
    assert "ingevoerd door Binnenstad namens de bewoner" in soup(page).get_text(" ", strip=True)


def test_creating_on_behalf_refuses_bad_input_and_saves_nothing(
    director: TestClient, db: Database, world: World
) -> None:
    before = snapshot(db, skip=VOLATILE)
    cases = {
        "target": {"target": "honderd"},
        "unknown area": {"area": "BU99999999"},
        "area outside scope": {"area": "BU01411800"},
        "gemeente without grant": {"area": "GM0141"},
        "no name": {"initiator_name": ""},
        "budget does not add up": {"line_amount_1": "10"},
        "no budget": {"line_text_0": "", "line_amount_0": "", "line_text_1": "", "line_amount_1": ""},
        "no choice": {"save_as": "weet-niet"},
        "bad organiser": {"organiser_email_0": "geen-adres"},
        "title": {"title": ""},
    }
    for name, values in cases.items():
        answer = director.post(
            "/staff/initiatives/new", data=on_behalf_form(director, **values), follow_redirects=False
        )
        assert answer.status_code == 422, (name, answer.status_code)
        assert alert_text(answer), name
        assert soup(answer).find("input", attrs={"name": "initiator_name"})["value"] == values.get(
            "initiator_name", "Mevrouw De Vries"
        ), name
    assert snapshot(db, skip=VOLATILE) == before


def test_a_director_cannot_create_in_another_wijk(outsider: TestClient, db: Database) -> None:
    page = outsider.get("/staff/initiatives/new")
    areas = [o["value"] for o in soup(page).select("select[name=area] option") if o["value"]]
    assert areas == ["WK014118", "BU01411800"]
    before = snapshot(db, skip=VOLATILE)
    for area in ("BU01411000", "WK014110"):
        answer = outsider.post("/staff/initiatives/new", data=on_behalf_form(outsider, area=area))
        assert answer.status_code == 422 and "binnen uw wijken" in alert_text(answer)
    assert snapshot(db, skip=VOLATILE) == before


# --------------------------------------------------------------------------------- paper vouchers


def test_paper_vouchers_at_the_wijkcentrum_spend_each_code_once(
    director: TestClient, director_id: int, db: Database, world: World
) -> None:
    codes = [world.codes[0], world.codes[1].lower().replace("-", " "), "AAAA-BBBB-CCCC-DD", world.codes[0]]
    page = act(director, world.initiative_id, "paper-vouchers", codes="\n".join(codes))
    assert page.status_code == 200
    rows = [
        tr.get_text(" ", strip=True)
        for tr in soup(page).find(id="paper-caption").find_parent("table").select("tbody tr")
    ]
    assert len(rows) == 4
    assert "€ 7,50 gegeven" in rows[0] and "€ 7,50 gegeven" in rows[1]
    assert "geen geldige vouchercode" in rows[2]
    assert "al helemaal gegeven" in rows[3]
    assert world.codes[0] not in page.text and rows[0].startswith("…")
    assert pledged_cents(db, world.initiative_id) == 1_500
    [event] = audit_rows(db, "initiative.paper_vouchers", world.initiative_id)
    assert event.actor == f"staff:{director_id}" and world.codes[0] not in str(event.after)
    again = act(director, world.initiative_id, "paper-vouchers", codes=world.codes[1])
    assert "al helemaal gegeven" in soup(again).find(id="paper-caption").find_parent("table").get_text()
    assert pledged_cents(db, world.initiative_id) == 1_500
    assert [voucher_balance(db, c) for c in world.codes[:2]] == [0, 0]
    assert_ledger_ok(db)


def test_paper_vouchers_only_for_a_published_initiative(
    director: TestClient, db: Database, settings: Settings, world: World
) -> None:
    plan = submitted(db, settings)
    token = token_of(director)
    before = snapshot(db, skip=VOLATILE)
    answer = director.post(
        f"/staff/initiatives/{plan}/paper-vouchers", data={"csrf_token": token, "codes": world.codes[0]}
    )
    assert answer.status_code == 409 and "gepubliceerd" in alert_text(answer)
    empty = director.post(
        f"/staff/initiatives/{world.initiative_id}/paper-vouchers", data={"csrf_token": token, "codes": " "}
    )
    assert empty.status_code == 422
    assert snapshot(db, skip=VOLATILE) == before


def test_unknown_codes_count_against_the_code_limiter(
    director: TestClient, db: Database, settings: Settings, world: World
) -> None:
    """Guessing codes at the wijkcentrum desk is limited like guessing them anywhere else."""
    start_in_one_window()  # the limit's window must not end halfway
    per_client = settings.code_failures_per_client
    before = sum(failure_counts(db).values())
    sent = 0
    while sent < per_client:
        unknown = [format_code(generate_code()) for _ in range(min(10, per_client - sent))]
        page = act(director, world.initiative_id, "paper-vouchers", codes="\n".join(unknown))
        assert page.status_code == 200
        sent += len(unknown)
    assert sum(failure_counts(db).values()) - before == 2 * per_client  # this client, and everyone
    blocked = act(director, world.initiative_id, "paper-vouchers", codes=world.codes[0])
    assert blocked.status_code == 429 and "Retry-After" in blocked.headers
    assert voucher_balance(db, world.codes[0]) == 750
    assert pledged_cents(db, world.initiative_id) == 0


# --------------------------------------------------------------------------------- payout account


def test_the_director_gives_the_payout_account_for_an_initiative_without_owner(
    director: TestClient, director_id: int, db: Database, settings: Settings, world: World
) -> None:
    done = director.post(
        "/staff/initiatives/new", data=on_behalf_form(director, save_as="published"), follow_redirects=False
    )
    initiative_id = int(done.headers["location"].rsplit("/", 1)[1])
    page = director.get(f"/staff/initiatives/{initiative_id}")
    assert (
        soup(page).find("form", attrs={"action": f"/staff/initiatives/{initiative_id}/payout-account"})
        is None
    )
    with db.write() as session:
        session.execute(update(Initiative).where(Initiative.id == initiative_id).values(status="funded"))
    wrong = act(
        director, initiative_id, "payout-account", iban="NL91 ABNA 0417 1643 01", holder="Mevrouw De Vries"
    )
    assert wrong.status_code == 422 and "IBAN klopt niet" in alert_text(wrong)
    no_holder = act(director, initiative_id, "payout-account", iban="NL91 ABNA 0417 1643 00", holder="x" * 71)
    assert no_holder.status_code == 422
    right = act(
        director, initiative_id, "payout-account", iban="nl91 abna 0417 1643 00", holder="Mevrouw De Vries"
    )
    assert right.status_code == 303
    with db.read() as session:
        row = session.execute(select(Initiative).where(Initiative.id == initiative_id)).scalar_one()
    assert (row.payout_iban, row.payout_account_holder) == ("NL91ABNA0417164300", "Mevrouw De Vries")
    [event] = audit_rows(db, "initiative.payout_account", initiative_id)
    assert event.actor == f"staff:{director_id}" and "4300" in str(event.after)
    # an initiative whose initiator has an account: they give it themselves
    with db.write() as session:
        session.execute(
            update(Initiative)
            .where(Initiative.id == world.initiative_id)
            .values(status="funded", owner_account_id=owner(db, "eigen@example.org"))
        )
    token = token_of(director)
    refused = director.post(
        f"/staff/initiatives/{world.initiative_id}/payout-account",
        data={"csrf_token": token, "iban": "NL91ABNA0417164300", "holder": "Iemand"},
    )
    assert refused.status_code == 409
