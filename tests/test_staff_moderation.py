"""The back office for initiatives: the moderation queue and list, one initiative's page, and the decisions
(approve, send back, reject, stop) with the initiator's mail and the audit trail.

A wijkregisseur of WK014118 (Schelfhorst) never sees or changes anything in WK014110 (Binnenstad), by any of
these routes, also with a forged form that carries a valid CSRF token; guessed ids answer 404 too. Refused
decisions (409) and bad input (422) change nothing, and two directors deciding at once decide once.
(Creating on a resident's behalf, paper vouchers and the payout account: test_staff_on_behalf.py.)
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from app.config import Settings
from app.db import Database
from app.ledger.verify import verify_ledger
from app.models import (
    Account,
    Initiative,
    InitiativeStatus,
    Pledge,
)
from tests.dbstate import snapshot
from tests.factories import World, make_initiative
from tests.moderation_helpers import (
    ACTIONS,
    GOOD_FORM,
    VOLATILE,
    act,
    audit_rows,
    binnenstad_director,
    listed_ids,
    mails_to,
    schelfhorst_director,
    status_of,
    submitted,
    token_of,
    transitions,
)
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

# ------------------------------------------------------------------------------------- queue and list


@pytest.fixture
def director_id(db: Database, settings: Settings, world: World) -> int:
    return binnenstad_director(db, settings)


@pytest.fixture
def director(client: TestClient, db: Database, director_id: int) -> TestClient:
    return staff_browser(client, db, director_id)


@pytest.fixture
def outsider(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return schelfhorst_director(client, db, settings)


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
