"""Staff for back-office tests: real accounts through the staff service, signed in with a real TOTP code."""

from __future__ import annotations

from datetime import timedelta

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.models import StaffMember
from app.models.base import utcnow
from app.staff import service
from app.staff.deps import STAFF_COOKIE

STAFF_PASSWORD = "rustige-wijk-regisseur-2027"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def make_staff(
    db: Database,
    settings: Settings,
    *,
    email: str,
    role: str = "director",
    wijken: tuple[str, ...] = ("WK014110",),
    gemeente_wide: bool = False,
    enrolled: bool = True,
) -> int:
    """A staff member with a password and (unless `enrolled` is false) a confirmed TOTP secret."""
    data = service.StaffInput(
        email=email,
        name=email.split("@")[0].title(),
        role=role,
        wijk_codes=wijken,
        gemeente_wide=gemeente_wide,
    )
    with db.write() as session:
        staff = service.create_staff(session, data, password=STAFF_PASSWORD, actor="test")
        if enrolled:
            staff.totp_secret = service.seal_secret(settings, TOTP_SECRET)
            staff.totp_confirmed_at = utcnow()
        return staff.id


def code_now(offset_steps: int = 0) -> str:
    return pyotp.TOTP(TOTP_SECRET).at(utcnow() + timedelta(seconds=30 * offset_steps))


def sign_in_token(db: Database, settings: Settings, staff_id: int) -> str:
    """A session token for an enrolled staff member (a fresh code step each call, as a real app gives)."""
    with db.write() as session:
        staff = session.get(StaffMember, staff_id)
        assert staff is not None
        staff.last_totp_step = None  # tests sign the same person in several times within one 30 s step
        outcome = service.check_code(session, settings, staff_id=staff_id, code=code_now())
    assert isinstance(outcome, service.StaffSignedIn), outcome
    return outcome.token


def staff_browser(client: TestClient, db: Database, staff_id: int) -> TestClient:
    """A browser (its own cookies) on `client`'s app, signed in to the back office as `staff_id`."""
    settings = client.app.state.settings  # type: ignore[attr-defined]
    browser = TestClient(client.app)
    browser.cookies.set(STAFF_COOKIE, sign_in_token(db, settings, staff_id), path="/staff")
    return browser


def staff_id_of(db: Database, email: str) -> int:
    with db.read() as session:
        return int(session.execute(select(StaffMember.id).where(StaffMember.email == email)).scalar_one())
