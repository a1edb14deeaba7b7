"""The back office for initiatives: the moderation queue and list, one initiative's page, the decisions
(approve, send back, reject, stop) with the initiator's mail and the audit trail, creating an initiative on
a resident's behalf, paper vouchers handed in at the wijkcentrum and the payout account of an initiative
without an owner account.

A wijkregisseur of WK014118 (Schelfhorst) never sees or changes anything in WK014110 (Binnenstad), by any of
these routes, also with a forged form that carries a valid CSRF token; guessed ids answer 404 too. Refused
decisions (409) and bad input (422) change nothing, and two directors deciding at once decide once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update

from app.config import Settings
from app.db import Database
from app.initiatives import editor
from app.initiatives.service import NewInitiative
from app.kit.clock import today
from app.ledger.verify import verify_ledger
from app.models import (
    Account,
    AuditEvent,
    Initiative,
    InitiativeStatus,
    InitiativeTransition,
    OutboxMessage,
    Pledge,
)
from tests.dbstate import snapshot
from tests.factories import World, make_initiative
from tests.pages_helpers import alert_text, form_fields, soup
from tests.race_helpers import (
    assert_ledger_ok,
    pledge,
    pledged_cents,
    responses_only,
    run_together,
    voucher_balance,
)
from tests.staff_helpers import make_staff, staff_browser

TODAY = today()
VOLATILE = ("rate_counters", "staff_sessions", "audit_events")
"""What a refused request may still touch: counters, the staff session's idle time, the audit log."""
ACTIONS = ("approve", "request-changes", "reject", "cancel", "paper-vouchers", "payout-account")
GOOD_FORM = {
    "reason": "Past niet in het beleid",
    "message": "Graag een begroting per onderdeel",
    "codes": "AAAA-BBBB-CCCC-DD",
    "iban": "NL91ABNA0417164300",
    "holder": "Buurtvereniging",
}


# ------------------------------------------------------------------------------------------- helpers


def owner(db: Database, email: str) -> int:
    with db.write() as session:
        return int(
            session.execute(
                insert(Account).values(email=email, display_name="", locale="nl").returning(Account.id)
            ).scalar_one()
        )


def submitted(
    db: Database, settings: Settings, *, title: str = "Bloembakken in de straat", email: str | None = None
) -> int:
    """A submitted initiative in buurt BU01411000 (wijk WK014110), owned by an account with `email`."""
    account_id = owner(db, email or f"{title.split()[0].lower()}-{abs(hash(title)) % 10_000}@example.org")
    data = NewInitiative(
        title=title,
        area_code="BU01411000",
        target_cents=5_000,
        deadline=TODAY + timedelta(days=30),
        summary="Bloembakken voor de hele straat.",
        description="Wij willen **bloembakken** neerzetten, met de buren samen, en ze het hele jaar verzorgen.",
        category="groen",
        initiator_name="Joyce",
        budget_lines=(("Bakken", 3_000), ("Planten", 2_000)),
    )
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            data,
            [("Piet Buur", "piet@example.org")],
            account_id=account_id,
            settings=settings,
            today=TODAY,
        )
        editor.submit(session, initiative_id, account_id=account_id, settings=settings, today=TODAY)
    return initiative_id


def status_of(db: Database, initiative_id: int) -> str:
    with db.read() as session:
        return str(session.scalar(select(Initiative.status).where(Initiative.id == initiative_id)))


def act(browser: TestClient, initiative_id: int, action: str, **values: str) -> Any:
    """Open the initiative's page and send the form for `action` with `values`."""
    page = browser.get(f"/staff/initiatives/{initiative_id}")
    assert page.status_code == 200, page.text
    fields = form_fields(page, f"/staff/initiatives/{initiative_id}/{action}")
    return browser.post(
        f"/staff/initiatives/{initiative_id}/{action}", data={**fields, **values}, follow_redirects=False
    )


def token_of(browser: TestClient) -> str:
    return form_fields(browser.get("/staff"), "/staff/logout")["csrf_token"]


def audit_rows(db: Database, action: str, initiative_id: int) -> list[AuditEvent]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == action,
                    AuditEvent.subject_type == "initiative",
                    AuditEvent.subject_id == str(initiative_id),
                )
            )
        )


def transitions(db: Database, initiative_id: int) -> list[tuple[str | None, str, str, str]]:
    with db.read() as session:
        return [
            (t.from_status, t.to_status, t.actor, t.reason)
            for t in session.scalars(
                select(InitiativeTransition)
                .where(InitiativeTransition.initiative_id == initiative_id)
                .order_by(InitiativeTransition.id)
            )
        ]


def mails_to(db: Database, address: str) -> list[OutboxMessage]:
    with db.read() as session:
        return list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.to_address == address).order_by(OutboxMessage.id)
            )
        )


def listed_ids(response: Any, caption_id: str) -> list[int]:
    table = soup(response).find(id=caption_id)
    if table is None:
        return []
    return [int(str(tr["data-initiative"])) for tr in table.find_parent("table").select("tbody tr")]


@pytest.fixture
def director_id(db: Database, settings: Settings, world: World) -> int:
    return make_staff(db, settings, email="binnenstad@almelo.nl", wijken=("WK014110",))


@pytest.fixture
def director(client: TestClient, db: Database, director_id: int) -> TestClient:
    return staff_browser(client, db, director_id)


@pytest.fixture
def outsider(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    """A wijkregisseur of WK014118 only."""
    return staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )


# ------------------------------------------------------------------------------------- queue and list


def test_the_queue_lists_submitted_initiatives_in_scope_oldest_first(
    director: TestClient, outsider: TestClient, db: Database, settings: Settings, world: World
) -> None:
    first = submitted(db, settings, title="Eerste plan", email="eerste@example.org")
    second = submitted(db, settings, title="Tweede plan", email="tweede@example.org")
    page = director.get("/staff/initiatives")
    assert page.status_code == 200
    assert listed_ids(page, "queue-caption") == [first, second]
    row = soup(page).find("tr", attrs={"data-initiative": str(first)}).get_text(" ", strip=True)
    assert "Centrum" in row and "Joyce" in row and "eerste@example.org" in row and "€ 50,00" in row
    assert set(listed_ids(page, "all-caption")) == {first, second, world.initiative_id}

    elsewhere = outsider.get("/staff/initiatives")
    assert elsewhere.status_code == 200
    assert listed_ids(elsewhere, "queue-caption") == [] and listed_ids(elsewhere, "all-caption") == []
    assert "Eerste plan" not in elsewhere.text and "Tweede plan" not in elsewhere.text


def test_the_list_filters_by_status_area_and_title_and_pages(
    director: TestClient, outsider: TestClient, db: Database, settings: Settings, world: World
) -> None:
    plan = submitted(db, settings, title="Speeltuin aan de gracht")
    with db.write() as session:
        south = [
            make_initiative(session, settings, area_code="BU01411001", title=f"Zuid {n:02d}", publish=False)
            for n in range(26)
        ]
    assert listed_ids(director.get("/staff/initiatives?status=submitted"), "all-caption") == [plan]
    assert listed_ids(director.get("/staff/initiatives?q=GRACHT"), "all-caption") == [plan]
    assert listed_ids(director.get("/staff/initiatives?q=100%25"), "all-caption") == []
    assert set(listed_ids(director.get("/staff/initiatives?area=BU01411000"), "all-caption")) == {
        plan,
        world.initiative_id,
    }
    first = director.get("/staff/initiatives?area=BU01411001")
    second = director.get("/staff/initiatives?area=BU01411001&page=2")
    assert len(listed_ids(first, "all-caption")) == 25 and len(listed_ids(second, "all-caption")) == 1
    assert set(listed_ids(first, "all-caption") + listed_ids(second, "all-caption")) == set(south)
    assert (
        soup(first).find("a", attrs={"rel": "next"})["href"]
        == "/staff/initiatives?area=BU01411001&page=2#all"
    )
    # the wijk shows its buurten too
    assert len(listed_ids(director.get("/staff/initiatives?area=WK014110&status=draft"), "all-caption")) == 25

    for query in ("?status=bestaat-niet", "?area=XX999", "?area=BU01411800"):
        refused = director.get(f"/staff/initiatives{query}")
        assert refused.status_code == 422 and alert_text(refused), query
    # another wijk's area as a filter shows nothing of it
    elsewhere = outsider.get("/staff/initiatives?area=BU01411000")
    assert elsewhere.status_code == 422 and "Speeltuin" not in elsewhere.text
    assert listed_ids(outsider.get("/staff/initiatives?q=Speeltuin"), "all-caption") == []


# ------------------------------------------------------------------------------------ one initiative


def test_the_page_shows_what_a_moderator_needs(
    director: TestClient, director_id: int, db: Database, settings: Settings
) -> None:
    plan = submitted(db, settings, email="joyce@example.org")
    page = director.get(f"/staff/initiatives/{plan}")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    html = soup(page)
    assert html.h1.get_text(strip=True) == "Bloembakken in de straat"
    assert html.find("strong", string="bloembakken") is not None  # the description is rendered markdown
    text = html.get_text(" ", strip=True)
    for expected in (
        "Centrum (BU01411000)",
        "joyce@example.org",
        "Joyce",
        "Bakken",
        "€ 30,00",
        "Planten",
        "Piet Buur",
        "piet@example.org",
        "Bloembakken voor de hele straat.",
    ):
        assert expected in text, expected
    assert html.find("code", string=f"account:{_account(db, 'joyce@example.org')}") is not None
    assert html.find("a", attrs={"href": f"/staff/news?initiative={plan}"}) is not None
    actions = {form["action"] for form in html.select("form[method=post]")}
    assert {f"/staff/initiatives/{plan}/{a}" for a in ("approve", "request-changes", "reject")} <= actions
    assert f"/staff/initiatives/{plan}/cancel" not in actions


def _account(db: Database, email: str) -> int:
    with db.read() as session:
        return int(session.execute(select(Account.id).where(Account.email == email)).scalar_one())


# --------------------------------------------------------------------------------------- decisions


def test_approve_publishes_mails_the_initiator_and_is_audited(
    director: TestClient, director_id: int, db: Database, settings: Settings
) -> None:
    plan = submitted(db, settings, email="joyce@example.org")
    done = act(director, plan, "approve")
    assert done.status_code == 303 and done.headers["location"] == f"/staff/initiatives/{plan}"
    assert status_of(db, plan) == InitiativeStatus.published
    actor = f"staff:{director_id}"
    assert transitions(db, plan)[-1] == ("submitted", "published", actor, "")
    assert [e.actor for e in audit_rows(db, "initiative.published", plan)] == [actor]
    assert [m.subject for m in mails_to(db, "joyce@example.org")][
        -1
    ] == "Gepubliceerd: Bloembakken in de straat"
    assert mails_to(db, "joyce@example.org")[-1].kind == "initiative_status"
    page = director.get(f"/staff/initiatives/{plan}")
    assert "Goedgekeurd" in page.text
    assert soup(page).find("form", attrs={"action": f"/staff/initiatives/{plan}/cancel"}) is not None


@pytest.mark.parametrize(
    ("action", "field", "target", "subject"),
    [
        ("request-changes", "message", InitiativeStatus.changes_requested, "Graag aanpassen"),
        ("reject", "reason", InitiativeStatus.rejected, "Niet goedgekeurd"),
    ],
)
def test_sending_back_and_rejecting_carry_the_message_to_the_initiator(
    director: TestClient,
    director_id: int,
    db: Database,
    settings: Settings,
    action: str,
    field: str,
    target: str,
    subject: str,
) -> None:
    plan = submitted(db, settings, email="joyce@example.org")
    message = "Graag de begroting per onderdeel <b>uitsplitsen</b>."
    done = act(director, plan, action, **{field: message})
    assert done.status_code == 303
    assert status_of(db, plan) == target
    actor = f"staff:{director_id}"
    assert transitions(db, plan)[-1] == ("submitted", target, actor, message)
    [event] = audit_rows(db, f"initiative.{target}", plan)
    assert event.actor == actor and "uitsplitsen" in str(event.after)
    mail = mails_to(db, "joyce@example.org")[-1]
    assert mail.kind == "initiative_status" and mail.subject.startswith(subject)
    assert message in mail.text_body
    history = director.get(f"/staff/initiatives/{plan}")
    assert message in soup(history).find(id="history-caption").find_parent("table").get_text()


def test_cancel_returns_every_pledge_to_its_voucher(
    client: TestClient, director: TestClient, director_id: int, db: Database, world: World
) -> None:
    for code in world.codes[:3]:
        assert pledge(client, code, world.initiative_id).status_code == 201
    assert pledged_cents(db, world.initiative_id) == 2_250
    page = director.get(f"/staff/initiatives/{world.initiative_id}")
    assert "3 giften van samen € 22,50" in soup(page).get_text(" ", strip=True)
    done = act(
        director, world.initiative_id, "cancel", reason="Het plan gaat niet door: de grond is verkocht."
    )
    assert done.status_code == 303
    assert status_of(db, world.initiative_id) == InitiativeStatus.cancelled
    assert pledged_cents(db, world.initiative_id) == 0
    assert [voucher_balance(db, code) for code in world.codes[:3]] == [750, 750, 750]
    with db.read() as session:
        assert session.scalar(select(func.count()).where(Pledge.returned_at.is_(None))) == 0
        assert verify_ledger(session).ok
    assert [e.actor for e in audit_rows(db, "initiative.cancelled", world.initiative_id)] == [
        f"staff:{director_id}"
    ]
    assert transitions(db, world.initiative_id)[-1][:3] == ("published", "cancelled", f"staff:{director_id}")


def test_a_decision_its_status_does_not_allow_is_refused_and_changes_nothing(
    director: TestClient, db: Database, settings: Settings, world: World
) -> None:
    plan = submitted(db, settings)
    token = token_of(director)
    before = snapshot(db, skip=VOLATILE)
    cases = [(world.initiative_id, a) for a in ("approve", "request-changes", "reject")] + [(plan, "cancel")]
    for initiative_id, action in cases:
        answer = director.post(
            f"/staff/initiatives/{initiative_id}/{action}", data={"csrf_token": token, **GOOD_FORM}
        )
        assert answer.status_code == 409, (action, answer.status_code)
        assert "Er is niets gewijzigd" in alert_text(answer), action
    assert snapshot(db, skip=VOLATILE) == before


def test_bad_input_is_refused_clearly_and_changes_nothing(
    director: TestClient, db: Database, settings: Settings, world: World
) -> None:
    plan = submitted(db, settings)
    token = token_of(director)
    before = snapshot(db, skip=VOLATILE)
    cases = [
        (plan, "request-changes", {"message": ""}),
        (plan, "request-changes", {"message": "   "}),
        (plan, "reject", {}),
        (plan, "reject", {"reason": "x" * 10_000}),
        (world.initiative_id, "cancel", {"reason": ""}),
        (world.initiative_id, "cancel", {"reason": "weg " * 2_500}),
    ]
    for initiative_id, action, values in cases:
        answer = director.post(
            f"/staff/initiatives/{initiative_id}/{action}", data={"csrf_token": token, **values}
        )
        assert answer.status_code == 422, (action, values.keys(), answer.status_code)
        assert "500 tekens" in alert_text(answer)
    too_long = director.post(
        f"/staff/initiatives/{plan}/reject", data={"csrf_token": token, "reason": "x" * 10_000}
    )
    assert "U schreef 10000 tekens" in alert_text(too_long)
    # what was typed is kept in the form
    kept = soup(too_long).find("textarea", attrs={"name": "reason", "id": "reject-reason"})
    assert kept.get_text() == "x" * 10_000
    assert director.post(f"/staff/initiatives/{plan}/approve", data={}).status_code == 403  # no CSRF token
    assert snapshot(db, skip=VOLATILE) == before


# ------------------------------------------------------------------------------------------- scope


def test_another_wijks_director_gets_404_everywhere_and_changes_nothing(
    client: TestClient,
    director: TestClient,
    outsider: TestClient,
    db: Database,
    settings: Settings,
    world: World,
) -> None:
    plan = submitted(db, settings, title="GEHEIM plan")
    with db.write() as session:
        funded = make_initiative(session, settings, title="GEHEIM gehaald", target_cents=5_000)
        session.execute(update(Initiative).where(Initiative.id == funded).values(status="funded"))
    token = token_of(outsider)
    before = snapshot(db, skip=VOLATILE)
    guessed = 987_654
    for initiative_id in (plan, funded, world.initiative_id, guessed):
        page = outsider.get(f"/staff/initiatives/{initiative_id}")
        assert page.status_code == 404 and "GEHEIM" not in page.text
        for action in ACTIONS:
            answer = outsider.post(
                f"/staff/initiatives/{initiative_id}/{action}", data={"csrf_token": token, **GOOD_FORM}
            )
            assert answer.status_code == 404, (initiative_id, action, answer.status_code)
            assert "GEHEIM" not in answer.text

    # an unknown id reads exactly like another wijk's item
    def shown(initiative_id: int) -> str:
        return soup(outsider.get(f"/staff/initiatives/{initiative_id}")).get_text(" ", strip=True)

    assert shown(guessed) == shown(plan)
    assert snapshot(db, skip=VOLATILE) == before
    # the director of the wijk, and an administrator, do see them; unknown ids stay 404 for them too
    assert director.get(f"/staff/initiatives/{plan}").status_code == 200
    assert director.get(f"/staff/initiatives/{guessed}").status_code == 404
    admin = staff_browser(
        client, db, make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    )
    assert admin.get(f"/staff/initiatives/{funded}").status_code == 200
    assert admin.get(f"/staff/initiatives/{guessed}").status_code == 404
    admin_token = token_of(admin)
    assert (
        admin.post(f"/staff/initiatives/{guessed}/approve", data={"csrf_token": admin_token}).status_code
        == 404
    )


def test_staff_pages_need_a_signed_in_staff_member(client: TestClient, world: World) -> None:
    for path in ("/staff/initiatives", f"/staff/initiatives/{world.initiative_id}", "/staff/initiatives/new"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/staff/login")


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
    assert event.actor == actor and "Mevrouw De Vries" in str(event.after)
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


# ------------------------------------------------------------------------------------------- races


@pytest.mark.race
def test_two_directors_approving_at_once_approve_once(
    client: TestClient, director: TestClient, db: Database, settings: Settings
) -> None:
    plan = submitted(db, settings, email="joyce@example.org")
    colleague = staff_browser(
        client, db, make_staff(db, settings, email="collega@almelo.nl", wijken=("WK014110",))
    )
    browsers = [director, colleague]
    forms = [
        form_fields(b.get(f"/staff/initiatives/{plan}"), f"/staff/initiatives/{plan}/approve")
        for b in browsers
    ]
    results = responses_only(
        run_together(
            2,
            lambda i: browsers[i].post(
                f"/staff/initiatives/{plan}/approve", data=forms[i], follow_redirects=False
            ),
        )
    )
    assert sorted(r.status_code for r in results) == [303, 409]
    loser = next(r for r in results if r.status_code == 409)
    assert "collega" in alert_text(loser) and "niets gewijzigd" in alert_text(loser)
    assert [t[1] for t in transitions(db, plan)].count("published") == 1
    assert len(audit_rows(db, "initiative.published", plan)) == 1
    assert [m.subject for m in mails_to(db, "joyce@example.org")].count(
        "Gepubliceerd: Bloembakken in de straat"
    ) == 1
    assert_ledger_ok(db)


@pytest.mark.race
def test_a_double_click_on_cancel_returns_the_pledges_once(
    client: TestClient, director: TestClient, db: Database, world: World
) -> None:
    for code in world.codes[:4]:
        assert pledge(client, code, world.initiative_id).status_code == 201
    form = form_fields(
        director.get(f"/staff/initiatives/{world.initiative_id}"),
        f"/staff/initiatives/{world.initiative_id}/cancel",
    )
    form["reason"] = "De grond is verkocht."
    results = responses_only(
        run_together(
            3,
            lambda _i: director.post(
                f"/staff/initiatives/{world.initiative_id}/cancel", data=form, follow_redirects=False
            ),
        )
    )
    assert sorted(r.status_code for r in results) == [303, 409, 409]
    assert status_of(db, world.initiative_id) == InitiativeStatus.cancelled
    assert [voucher_balance(db, code) for code in world.codes[:4]] == [750] * 4
    assert len(audit_rows(db, "initiative.cancelled", world.initiative_id)) == 1
    assert_ledger_ok(db)


@pytest.mark.race
def test_approving_while_a_colleague_rejects_decides_once(
    client: TestClient, director: TestClient, db: Database, settings: Settings
) -> None:
    plan = submitted(db, settings)
    colleague = staff_browser(
        client, db, make_staff(db, settings, email="collega@almelo.nl", wijken=("WK014110",))
    )
    approve = form_fields(director.get(f"/staff/initiatives/{plan}"), f"/staff/initiatives/{plan}/approve")
    reject = form_fields(colleague.get(f"/staff/initiatives/{plan}"), f"/staff/initiatives/{plan}/reject")
    reject["reason"] = "Past niet in het beleid."
    posts = [
        lambda: director.post(f"/staff/initiatives/{plan}/approve", data=approve, follow_redirects=False),
        lambda: colleague.post(f"/staff/initiatives/{plan}/reject", data=reject, follow_redirects=False),
    ]
    results = responses_only(run_together(2, lambda i: posts[i]()))
    assert sorted(r.status_code for r in results) == [303, 409]
    decided = [t[1] for t in transitions(db, plan)][2:]
    assert len(decided) == 1 and decided[0] == status_of(db, plan)
