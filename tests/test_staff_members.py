"""Staff members for administrators: list, invite (the mail reaches a real SMTP server and its link sets the
password), edit with the last-administrator refusal, reset the second factor, unlock, invite again; all of
it in the audit log. Bad input re-renders with a clear message and changes nothing; directors get 403 on
every route, also with a forged form post carrying a valid CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.mail.sender import send_due
from app.models import AuditEvent, OutboxMessage, StaffArea, StaffMember
from app.models.base import utcnow
from app.staff import service
from tests.factories import World
from tests.mailserver import MailServer
from tests.pages_helpers import alert_text, form_fields, soup
from tests.staff_helpers import STAFF_PASSWORD, make_staff, staff_browser

ADMIN = "beheer@almelo.nl"
DIRECTOR = "regisseur@almelo.nl"


@pytest.fixture
def admin_id(db: Database, settings: Settings, world: World) -> int:
    return make_staff(db, settings, email=ADMIN, role="admin", wijken=())


@pytest.fixture
def admin(client: TestClient, db: Database, admin_id: int) -> TestClient:
    return staff_browser(client, db, admin_id)


def state(db: Database) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    with db.read() as session:
        members = session.execute(
            select(
                StaffMember.id,
                StaffMember.email,
                StaffMember.name,
                StaffMember.role,
                StaffMember.active,
                StaffMember.gemeente_wide,
                StaffMember.totp_secret,
                StaffMember.locked_until,
                StaffMember.password_hash,
            ).order_by(StaffMember.id)
        ).all()
        areas = session.execute(
            select(StaffArea.staff_id, StaffArea.area_id).order_by(StaffArea.staff_id)
        ).all()
        mails = session.scalar(select(func.count()).select_from(OutboxMessage))
        audit = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action.startswith("staff."))
        )
    return tuple(members), tuple(areas), mails, audit


def actions_on(db: Database, staff_id: int) -> list[tuple[str, str]]:
    with db.read() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.action)
            .where(AuditEvent.subject_type == "staff", AuditEvent.subject_id == str(staff_id))
            .order_by(AuditEvent.id)
        ).all()
    return [(actor, action) for actor, action in rows]


def new_member(admin: TestClient, **values: Any) -> Any:
    page = admin.get("/staff/members/new")
    assert page.status_code == 200
    fields = form_fields(page, "/staff/members/new")
    fields.pop("gemeente_wide", None)
    fields.pop("wijken", None)
    data: dict[str, Any] = {
        **fields,
        "email": "nieuw@almelo.nl",
        "name": "Nieuwe Regisseur",
        "role": "director",
    }
    data.update(values)
    return admin.post("/staff/members/new", data=data, follow_redirects=False)


def test_the_list_shows_every_member(admin: TestClient, db: Database, settings: Settings) -> None:
    director = make_staff(db, settings, email=DIRECTOR, wijken=("WK014110", "WK014118"), gemeente_wide=True)
    with db.write() as session:
        member = session.get(StaffMember, director)
        assert member is not None
        member.locked_until = utcnow() + timedelta(minutes=10)
    page = admin.get("/staff/members")
    assert page.status_code == 200
    row = soup(page).select_one(f'tr[data-staff="{director}"]')
    assert row is not None
    text = row.get_text(" ", strip=True)
    assert DIRECTOR in text and "wijkregisseur" in text and "WK014110, WK014118" in text
    assert "ingesteld" in text and "nooit" in text  # 2FA set up, never signed in
    cells = [cell.get_text(strip=True) for cell in row.select("td")]
    assert cells[3:5] == ["ja", "ja"]  # gemeente-wide, active
    assert cells[6] != "–"  # locked until
    admin_row = soup(page).select_one('tr[data-staff] a[href$="/edit"]')
    assert admin_row is not None


def test_an_invitation_reaches_the_mail_server_and_its_link_sets_the_password(
    admin: TestClient, db: Database, settings: Settings, admin_id: int, smtp_server: MailServer
) -> None:
    answer = new_member(admin, wijken=["WK014118"])
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/members"
    assert "uitnodiging is verstuurd" in admin.get("/staff/members").text
    new_id = next(staff_id for staff_id, email in _members(db) if email == "nieuw@almelo.nl")
    assert actions_on(db, new_id) == [
        (f"staff:{admin_id}", "staff.created"),
        (f"staff:{admin_id}", "staff.invited"),
    ]

    report = send_due(db, settings.model_copy(update={"smtp_url": smtp_server.url}))
    assert report.sent == 1
    (message,) = smtp_server.wait_for(1)
    assert smtp_server.received[0].rcpt_tos == ["nieuw@almelo.nl"]
    assert str(message["Subject"]) == "Uw account voor het beheer van Buurtkas"
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = re.search(r"(http://testserver/staff/invite/\S+)", text)
    assert link is not None and link.group(1) in html
    path = link.group(1).removeprefix("http://testserver")

    browser = TestClient(admin.app)
    page = browser.get(path)
    assert page.status_code == 200
    done = browser.post(
        path, data={**form_fields(page, path), "password": STAFF_PASSWORD}, follow_redirects=False
    )
    assert done.status_code == 303
    with db.write() as session:
        assert (
            service.check_password(session, settings, email="nieuw@almelo.nl", password=STAFF_PASSWORD)
            == new_id
        )
        member, codes = service.staff_with_wijken(session, new_id)
    assert member.role == "director" and codes == ["WK014118"]


def _members(db: Database) -> list[tuple[int, str]]:
    with db.read() as session:
        return [(int(i), str(e)) for i, e in session.execute(select(StaffMember.id, StaffMember.email))]


@pytest.mark.parametrize(
    ("values", "status", "message"),
    [
        ({"email": "geen-adres"}, 422, "e-mailadres"),
        ({"name": ""}, 422, "naam"),
        ({"name": "x" * 500}, 422, "120 tekens"),
        ({"role": "god", "wijken": ["WK014110"]}, 422, "rol"),
        ({}, 422, "minstens één wijk"),
        ({"wijken": ["WK999999"]}, 422, "Onbekende wijk: WK999999"),
        ({"wijken": ["BU01411000"]}, 422, "Onbekende wijk"),
        ({"email": ADMIN, "wijken": ["WK014110"]}, 409, "al een medewerker met dit e-mailadres"),
        ({"email": "x" * 10_000 + "@almelo.nl", "wijken": ["WK014110"]}, 422, "e-mailadres"),
    ],
)
def test_bad_input_is_refused_with_the_input_kept(
    admin: TestClient, db: Database, values: dict[str, Any], status: int, message: str
) -> None:
    before = state(db)
    answer = new_member(admin, **values)
    assert answer.status_code == status, answer.text
    assert message.lower() in alert_text(answer).lower()
    kept = form_fields(answer, "/staff/members/new")
    if "name" not in values:
        assert kept["name"] == "Nieuwe Regisseur"
    assert state(db) == before


def edit(admin: TestClient, staff_id: int, **values: Any) -> Any:
    page = admin.get(f"/staff/members/{staff_id}/edit")
    assert page.status_code == 200
    fields = form_fields(page, f"/staff/members/{staff_id}/edit")
    checked = [
        str(box["value"])
        for box in soup(page).select(
            f'form[action="/staff/members/{staff_id}/edit"] input[name=wijken][checked]'
        )
    ]
    data: dict[str, Any] = {
        "csrf_token": fields["csrf_token"],
        "name": fields["name"],
        "role": "admin" if soup(page).select_one("input[name=role][value=admin][checked]") else "director",
        "wijken": checked,
        "active": "1",
    }
    data.update(values)
    return admin.post(f"/staff/members/{staff_id}/edit", data=data, follow_redirects=False)


def test_edit_changes_name_role_wijken_and_active(
    admin: TestClient, db: Database, settings: Settings, admin_id: int
) -> None:
    director = make_staff(db, settings, email=DIRECTOR)
    answer = edit(admin, director, name="Anna de Vries", wijken=["WK014110", "WK014118"], gemeente_wide="1")
    assert answer.status_code == 303
    assert "opgeslagen" in admin.get(answer.headers["location"]).text
    with db.read() as session:
        member, codes = service.staff_with_wijken(session, director)
    assert (member.name, codes, member.gemeente_wide) == ("Anna de Vries", ["WK014110", "WK014118"], True)

    browser = staff_browser(admin, db, director)
    assert browser.get("/staff").status_code == 200
    assert edit(admin, director, active="").status_code == 303  # deactivated: signed out
    assert browser.get("/staff", follow_redirects=False).status_code == 303
    by_admin = [action for actor, action in actions_on(db, director) if actor == f"staff:{admin_id}"]
    assert by_admin == ["staff.updated", "staff.updated"]


def test_the_last_admin_is_refused_clearly(admin: TestClient, db: Database, admin_id: int) -> None:
    before = state(db)
    answer = edit(admin, admin_id, role="director", wijken=["WK014110"], name="Nieuwe naam")
    assert answer.status_code == 409
    assert "laatste actieve beheerder" in alert_text(answer)
    assert form_fields(answer, f"/staff/members/{admin_id}/edit")["name"] == "Nieuwe naam"  # input kept
    assert edit(admin, admin_id, active="").status_code == 409
    assert state(db) == before


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"name": ""}, "naam"),
        ({"role": "director", "wijken": []}, "minstens één wijk"),
        ({"wijken": ["WK1"]}, "Onbekende"),
    ],
)
def test_bad_edits_change_nothing(
    admin: TestClient, db: Database, settings: Settings, values: dict[str, Any], message: str
) -> None:
    director = make_staff(db, settings, email=DIRECTOR)
    before = state(db)
    answer = edit(admin, director, **values)
    assert answer.status_code == 422
    assert message.lower() in alert_text(answer).lower()
    assert state(db) == before


def test_reset_two_factor_unlock_and_invite_again(
    admin: TestClient, db: Database, settings: Settings, admin_id: int, smtp_server: MailServer
) -> None:
    director = make_staff(db, settings, email=DIRECTOR)
    with db.write() as session:
        member = session.get(StaffMember, director)
        assert member is not None
        member.locked_until = utcnow() + timedelta(minutes=15)
        member.failed_attempts = 3
    page = admin.get(f"/staff/members/{director}/edit")
    for action in ("reset-2fa", "unlock", "invite"):
        path = f"/staff/members/{director}/{action}"
        answer = admin.post(path, data=form_fields(page, path), follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/staff/members/{director}/edit"
    with db.read() as session:
        member = session.get(StaffMember, director)
        assert member is not None
        assert member.totp_secret is None and member.totp_confirmed_at is None
        assert member.locked_until is None and member.failed_attempts == 0
    assert [action for actor, action in actions_on(db, director) if actor == f"staff:{admin_id}"] == [
        "staff.two_factor_reset",
        "staff.unlocked",
        "staff.invited",
    ]
    send_due(db, settings.model_copy(update={"smtp_url": smtp_server.url}))
    assert smtp_server.wait_for(1)[0]["To"] == DIRECTOR


def test_no_invitation_for_a_deactivated_account(admin: TestClient, db: Database, settings: Settings) -> None:
    director = make_staff(db, settings, email=DIRECTOR)
    assert edit(admin, director, active="").status_code == 303
    before = state(db)
    page = admin.get(f"/staff/members/{director}/edit")
    path = f"/staff/members/{director}/invite"
    answer = admin.post(path, data=form_fields(page, path))
    assert answer.status_code == 409 and "staat uit" in alert_text(answer)
    assert state(db) == before


def test_unknown_or_malformed_ids(admin: TestClient, db: Database) -> None:
    page = admin.get("/staff/members/new")
    token = form_fields(page, "/staff/members/new")["csrf_token"]
    before = state(db)
    assert admin.get("/staff/members/999999/edit").status_code == 404
    assert admin.get("/staff/members/abc/edit").status_code == 404
    for action in ("edit", "reset-2fa", "unlock", "invite"):
        assert (
            admin.post(f"/staff/members/999999/{action}", data={"csrf_token": token, "name": "X"}).status_code
            == 404
        )
        assert admin.post(f"/staff/members/-1/{action}", data={"csrf_token": token}).status_code in (404, 422)
        assert admin.post(f"/staff/members/abc/{action}", data={"csrf_token": token}).status_code == 422
    assert (
        admin.post("/staff/members/new", data={"email": "x@almelo.nl", "name": "X"}).status_code == 403
    )  # no CSRF
    assert state(db) == before


def test_directors_get_403_on_every_route_even_with_a_valid_csrf_token(
    client: TestClient, db: Database, settings: Settings, admin_id: int
) -> None:
    director_id = make_staff(db, settings, email=DIRECTOR, gemeente_wide=True)
    director = staff_browser(client, db, director_id)
    token = form_fields(director.get("/staff"), "/staff/logout")["csrf_token"]
    before = state(db)
    for path in ("/staff/members", "/staff/members/new", f"/staff/members/{admin_id}/edit"):
        assert director.get(path).status_code == 403, path
    forged = {
        "/staff/members/new": {"email": "indringer@almelo.nl", "name": "X", "role": "admin"},
        f"/staff/members/{director_id}/edit": {"name": "X", "role": "admin", "active": "1"},
        f"/staff/members/{admin_id}/edit": {"name": "X", "role": "director", "wijken": ["WK014110"]},
        f"/staff/members/{admin_id}/reset-2fa": {},
        f"/staff/members/{admin_id}/unlock": {},
        f"/staff/members/{admin_id}/invite": {},
    }
    for path, data in forged.items():
        answer = director.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code == 403, path
    assert state(db) == before
