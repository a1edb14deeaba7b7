"""Staff sign-in: password then TOTP, enrolment with a QR code, lock-out, replayed codes, sessions,
invitations, the CLI, and the audit log that refuses changes."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.db import Database
from app.models import AuditEvent, StaffMember, StaffSession
from app.models.base import utcnow
from app.staff import service
from app.staff.deps import STAFF_COOKIE
from tests.cli_helpers import Cli
from tests.factories import World
from tests.pages_helpers import alert_text, form_fields, soup
from tests.ratelimit_helpers import start_in_one_window
from tests.staff_helpers import (
    STAFF_PASSWORD,
    TOTP_SECRET,
    code_now,
    make_staff,
    staff_browser,
    staff_id_of,
)

EMAIL = "regisseur@almelo.nl"


def audit_actions(db: Database, staff_id: int) -> list[str]:
    with db.read() as session:
        return list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "staff", AuditEvent.subject_id == str(staff_id))
                .order_by(AuditEvent.id)
            )
        )


def password_step(browser: TestClient, email: str = EMAIL, password: str = STAFF_PASSWORD) -> object:
    page = browser.get("/staff/login")
    fields = form_fields(page, "/staff/login")
    fields.update(email=email, password=password)
    return browser.post("/staff/login", data=fields, follow_redirects=False)


def code_step(browser: TestClient, code: str) -> object:
    page = browser.get("/staff/login/code")
    fields = form_fields(page, "/staff/login/code")
    fields["code"] = code
    return browser.post("/staff/login/code", data=fields, follow_redirects=False)


def test_first_sign_in_enrols_the_authenticator_then_signs_in(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    staff_id = make_staff(db, settings, email=EMAIL, enrolled=False)
    browser = TestClient(client.app)
    assert browser.get("/staff", follow_redirects=False).headers["location"] == "/staff/login?next=/staff"
    answer = password_step(browser)
    assert answer.status_code == 303  # type: ignore[attr-defined]
    enrol = browser.get("/staff/login/code")
    page = soup(enrol)
    qr = page.find("img", class_="buurtkas-staff-qr")
    assert qr is not None and str(qr["src"]).startswith("data:image/svg+xml")
    secret = page.find("code", class_="buurtkas-staff-secret").get_text().replace(" ", "")  # type: ignore[union-attr]
    with db.read() as session:
        stored = session.get(StaffMember, staff_id)
        assert stored is not None and stored.totp_secret is not None
        assert secret not in stored.totp_secret  # sealed, not in the clear
        assert stored.totp_confirmed_at is None
    wrong = code_step(browser, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert "klopt niet" in alert_text(wrong)
    assert soup(wrong).find("img", class_="buurtkas-staff-qr") is not None  # the same QR again
    signed = code_step(browser, pyotp.TOTP(secret).now())
    assert signed.status_code == 303  # type: ignore[attr-defined]
    assert signed.headers["location"] == "/staff"  # type: ignore[attr-defined]
    home = browser.get("/staff")
    assert home.status_code == 200 and "Goedendag" in home.text
    assert audit_actions(db, staff_id)[-3:] == [
        "staff.sign_in_failed",
        "staff.two_factor_enrolled",
        "staff.signed_in",
    ]


def test_enrolled_staff_sign_in_with_password_and_code(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    make_staff(db, settings, email=EMAIL)
    browser = TestClient(client.app)
    password_step(browser)
    page = browser.get("/staff/login/code")
    assert soup(page).find("img", class_="buurtkas-staff-qr") is None
    answer = code_step(browser, code_now())
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert browser.cookies.get(STAFF_COOKIE)
    assert browser.get("/staff").status_code == 200


def test_a_code_is_accepted_once(client: TestClient, db: Database, settings: Settings, world: World) -> None:
    make_staff(db, settings, email=EMAIL)
    first, second = TestClient(client.app), TestClient(client.app)
    code = code_now()
    password_step(first)
    assert code_step(first, code).status_code == 303  # type: ignore[attr-defined]
    password_step(second)
    replay = code_step(second, code)
    assert replay.status_code == 422  # type: ignore[attr-defined]
    assert second.get("/staff", follow_redirects=False).status_code == 303


def test_codes_within_one_step_of_drift_work_and_older_ones_do_not() -> None:
    now = utcnow()
    totp = pyotp.TOTP(TOTP_SECRET)
    assert service.matching_step(TOTP_SECRET, totp.at(now - timedelta(seconds=30)), now) is not None
    assert service.matching_step(TOTP_SECRET, totp.at(now - timedelta(seconds=95)), now) is None
    for bad in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert service.matching_step(TOTP_SECRET, bad, now) is None


def test_wrong_passwords_lock_the_account(
    client: TestClient, db: Database, settings: Settings, world: World, tmp_path: Path
) -> None:
    staff_id = make_staff(db, settings, email=EMAIL)
    browser = TestClient(client.app)
    for _ in range(settings.staff_lockout_failures - 1):
        answer = password_step(browser, password="niet-het-goede-wachtwoord")
        assert answer.status_code == 400  # type: ignore[attr-defined]
        assert "klopt niet" in alert_text(answer)
    locked = password_step(browser, password="niet-het-goede-wachtwoord")
    assert locked.status_code == 423  # type: ignore[attr-defined]
    still = password_step(browser)  # the right password, but locked
    assert still.status_code == 423  # type: ignore[attr-defined]
    assert "geblokkeerd" in alert_text(still)
    assert "staff.locked" in audit_actions(db, staff_id)
    assert Cli(settings.database_url, tmp_path)("staff", "unlock", "--email", EMAIL).returncode == 0
    assert password_step(browser).status_code == 303  # type: ignore[attr-defined]
    assert audit_actions(db, staff_id)[-1] == "staff.unlocked"


def test_wrong_codes_count_towards_the_lock(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    make_staff(db, settings, email=EMAIL)
    browser = TestClient(client.app)
    password_step(browser)
    for _ in range(settings.staff_lockout_failures - 1):
        assert code_step(browser, "000001").status_code == 422  # type: ignore[attr-defined]
    locked = code_step(browser, "000001")
    assert locked.status_code == 423  # type: ignore[attr-defined]
    assert code_step(browser, code_now()).status_code == 423  # type: ignore[attr-defined]


def test_unknown_address_gets_the_same_answer_and_counts_per_client(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    start_in_one_window()  # the limit's window must not end halfway
    browser = TestClient(client.app)
    answer = password_step(browser, email="niemand@almelo.nl")
    assert answer.status_code == 400  # type: ignore[attr-defined]
    assert "klopt niet" in alert_text(answer)
    for _ in range(settings.staff_failures_per_client):
        password_step(browser, email="niemand@almelo.nl")
    assert password_step(browser, email="niemand@almelo.nl").status_code == 429  # type: ignore[attr-defined]


def test_the_code_page_needs_a_fresh_password_step(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    make_staff(db, settings, email=EMAIL)
    browser = TestClient(client.app)
    assert "duurde te lang" in browser.get("/staff/login/code").text
    browser.cookies.set("bk_staff_pending", "eyJzIjoxfQ.forged.signature", path="/staff")
    page = browser.get("/staff/login/code")
    fields = form_fields(page, "/staff/login")
    assert "email" in fields
    forged = browser.post(
        "/staff/login/code",
        data={"csrf_token": fields["csrf_token"], "code": code_now()},
        follow_redirects=False,
    )
    assert forged.status_code == 400
    assert not browser.cookies.get(STAFF_COOKIE)


def test_forged_or_expired_sessions_sign_nobody_in(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    staff_id = make_staff(db, settings, email=EMAIL)
    browser = TestClient(client.app)
    browser.cookies.set(STAFF_COOKIE, "A" * 43, path="/staff")
    assert browser.get("/staff", follow_redirects=False).status_code == 303
    browser = staff_browser(client, db, staff_id)
    assert browser.get("/staff").status_code == 200
    with db.write() as session:
        session.execute(update(StaffSession).values(last_seen_at=utcnow() - service.SESSION_IDLE))
    assert browser.get("/staff", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    staff_id = make_staff(db, settings, email=EMAIL)
    browser = staff_browser(client, db, staff_id)
    page = browser.get("/staff")
    out = browser.post("/staff/logout", data=form_fields(page, "/staff/logout"), follow_redirects=False)
    assert out.status_code == 303
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(StaffSession)) == 0
    assert browser.get("/staff", follow_redirects=False).status_code == 303
    assert audit_actions(db, staff_id)[-1] == "staff.signed_out"


def test_deactivated_staff_are_signed_out(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    staff_id = make_staff(db, settings, email=EMAIL)
    browser = staff_browser(client, db, staff_id)
    with db.write() as session:
        service.update_staff(
            session,
            staff_id,
            service.StaffInput(EMAIL, "Regisseur", "director", ("WK014110",)),
            active=False,
            actor="test",
        )
    assert browser.get("/staff", follow_redirects=False).status_code == 303
    assert password_step(TestClient(client.app)).status_code == 400  # type: ignore[attr-defined]


def test_the_last_admin_cannot_be_demoted(db: Database, settings: Settings, world: World) -> None:
    admin = make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    with pytest.raises(Exception, match="laatste actieve beheerder"), db.write() as session:
        service.update_staff(
            session,
            admin,
            service.StaffInput("beheer@almelo.nl", "Beheer", "director", ("WK014110",)),
            active=True,
            actor="test",
        )


def test_invitation_sets_the_password_once(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    with db.write() as session:
        staff = service.create_staff(
            session,
            service.StaffInput("nieuw@almelo.nl", "Nieuw", "director", ("WK014118",)),
            password=None,
            actor="test",
        )
        token = service.invite_token(settings, staff)
    browser = TestClient(client.app)
    page = browser.get(f"/staff/invite/{token}")
    assert page.headers["referrer-policy"] == "no-referrer"
    fields = form_fields(page, f"/staff/invite/{token}")
    short = browser.post(f"/staff/invite/{token}", data={**fields, "password": "kort"})
    assert short.status_code == 422 and "10 tekens" in short.text
    done = browser.post(
        f"/staff/invite/{token}", data={**fields, "password": STAFF_PASSWORD}, follow_redirects=False
    )
    assert done.status_code == 303
    again = browser.get(f"/staff/invite/{token}")
    assert "verlopen of al gebruikt" in again.text
    assert password_step(browser, email="nieuw@almelo.nl").status_code == 303  # type: ignore[attr-defined]


def test_directors_cannot_open_admin_pages(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    staff_id = make_staff(db, settings, email=EMAIL)
    browser = staff_browser(client, db, staff_id)
    home = browser.get("/staff")
    menu = [a["href"] for a in soup(home).select("nav a")]
    assert "/staff/members" not in menu and "/staff/audit" not in menu


def test_cli_creates_the_first_admin(settings: Settings, db: Database, world: World, tmp_path: Path) -> None:
    cli = Cli(settings.database_url, tmp_path)
    result = cli(
        "staff",
        "create",
        "--email",
        "Beheer@Almelo.nl",
        "--name",
        "Anna Beheer",
        "--password-stdin",
        stdin=STAFF_PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "created: beheer@almelo.nl (admin)" in result.stdout
    staff_id = staff_id_of(db, "beheer@almelo.nl")
    assert audit_actions(db, staff_id) == ["staff.created"]
    invited = cli(
        "staff",
        "create",
        "--email",
        "wijk@almelo.nl",
        "--name",
        "Wim",
        "--role",
        "director",
        "--wijk",
        "WK014118",
        "--invite",
    )
    assert invited.returncode == 0, invited.stderr
    assert re.search(r"/staff/invite/\S+", invited.stdout)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "x@almelo.nl", "--name", "X", "--role", "director", "--invite"], "minstens één wijk"),
        (
            ["--email", "x@almelo.nl", "--name", "X", "--role", "director", "--wijk", "WK999999", "--invite"],
            "Onbekende wijk",
        ),
        (["--email", "x@almelo.nl", "--name", "X", "--role", "keizer", "--invite"], "rol"),
        (["--email", "geen-adres", "--name", "X", "--invite"], "e-mailadres"),
        (["--email", "x@almelo.nl", "--name", "", "--invite"], "naam"),
        (["--email", "x@almelo.nl", "--name", "X", "--password-stdin"], "10 tekens"),
    ],
)
def test_cli_refuses_bad_staff_and_creates_nothing(
    settings: Settings, db: Database, world: World, args: list[str], message: str, tmp_path: Path
) -> None:
    result = Cli(settings.database_url, tmp_path)("staff", "create", *args, stdin="kort\n")
    assert result.returncode == 1
    assert message in result.stderr
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(StaffMember)) == 0


def test_cli_refuses_a_second_account_with_the_same_address(
    settings: Settings, db: Database, world: World, tmp_path: Path
) -> None:
    make_staff(db, settings, email=EMAIL)
    result = Cli(settings.database_url, tmp_path)(
        "staff", "create", "--email", EMAIL, "--name", "X", "--invite"
    )
    assert result.returncode == 1 and "al een medewerker" in result.stderr


def test_the_audit_log_refuses_updates_and_deletes(db: Database, settings: Settings, world: World) -> None:
    make_staff(db, settings, email=EMAIL)
    for statement in ("UPDATE audit_events SET actor = 'someone-else'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), db.write() as session:
            session.execute(text(statement))
    with db.read() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.actor == "someone-else")
            )
            == 0
        )
