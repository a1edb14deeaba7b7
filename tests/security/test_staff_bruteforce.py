"""Guessing staff passwords or codes: the account locks after STAFF_LOCKOUT_FAILURES in a row, and a client
address (or everyone together) is stopped after STAFF_FAILURES_PER_CLIENT / STAFF_FAILURES_TOTAL failures.

Guards the lock-out in app/staff/service.py (_fail) and check_client in app/staff/deps.py. Checked to fail
without the protection: with `locked = False` in _fail the lock-out test failed (400 instead of 423 and the
right password then signed in); with check_client made a no-op (`return`) both limit tests failed (400
instead of 429) (each change undone, never committed).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import StaffMember
from tests.databases import test_settings
from tests.factories import World, build_world
from tests.pages_helpers import form_fields
from tests.ratelimit_helpers import start_in_one_window
from tests.staff_helpers import STAFF_PASSWORD, make_staff

EMAIL = "regisseur@almelo.nl"
WRONG = "niet-het-goede-wachtwoord"


def password_step(browser: TestClient, email: str = EMAIL, password: str = STAFF_PASSWORD) -> int:
    fields = form_fields(browser.get("/staff/login"), "/staff/login")
    fields.update(email=email, password=password)
    return browser.post("/staff/login", data=fields, follow_redirects=False).status_code


@pytest.fixture
def small_limits(database_url: str) -> Iterator[tuple[Settings, Database, World]]:
    conf = test_settings(
        database_url, staff_lockout_failures=3, staff_failures_per_client=4, staff_failures_total=6
    )
    db = Database(conf)
    world = build_world(db, conf, households=4)
    start_in_one_window()  # the staff sign-in window: 600 s
    yield conf, db, world
    db.dispose()


def test_wrong_passwords_lock_the_account_even_from_many_addresses(
    small_limits: tuple[Settings, Database, World],
) -> None:
    conf, db, _ = small_limits
    make_staff(db, conf, email=EMAIL)
    app = create_app(conf, db)
    statuses = []
    for n in range(conf.staff_lockout_failures):  # a new address each time: only the account lock stops it
        with TestClient(app, client=(f"192.0.2.{n + 10}", 4000)) as browser:
            statuses.append(password_step(browser, password=WRONG))
    assert statuses == [400] * (conf.staff_lockout_failures - 1) + [423]
    with TestClient(app, client=("192.0.2.99", 4000)) as owner:
        assert password_step(owner) == 423  # the right password does not open a locked account
        assert owner.get("/staff/login/code").status_code == 400  # no code step without the password step
        assert "bk_staff" not in owner.cookies
    with db.read() as session:
        staff = session.scalars(select(StaffMember).where(StaffMember.email == EMAIL)).one()
        assert staff.locked_until is not None


def test_one_address_is_stopped_after_its_failures(small_limits: tuple[Settings, Database, World]) -> None:
    conf, db, _ = small_limits
    make_staff(db, conf, email=EMAIL)
    app = create_app(conf, db)
    with TestClient(app, client=("198.51.100.20", 4000)) as guesser:
        # unknown addresses: no account to lock, so only the per-client limit stops the guessing
        statuses = [
            password_step(guesser, email=f"gok{n}@almelo.nl", password=WRONG)
            for n in range(conf.staff_failures_per_client + 1)
        ]
        assert statuses == [400] * conf.staff_failures_per_client + [429]
        stopped = guesser.post("/staff/login", data={}, follow_redirects=False)
        assert stopped.status_code in (403, 429)
        fields = form_fields(guesser.get("/staff/login"), "/staff/login")
        fields.update(email=EMAIL, password=STAFF_PASSWORD)
        answer = guesser.post("/staff/login", data=fields, follow_redirects=False)
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) >= 1
    with TestClient(app, client=("198.51.100.21", 4000)) as colleague:
        assert password_step(colleague) == 303  # another address still signs in


def test_everyone_is_stopped_after_the_total(small_limits: tuple[Settings, Database, World]) -> None:
    conf, db, _ = small_limits
    make_staff(db, conf, email=EMAIL)
    app = create_app(conf, db)
    statuses = []
    for n in range(conf.staff_failures_total + 1):
        with TestClient(app, client=(f"203.0.113.{n + 1}", 4000)) as one:
            statuses.append(password_step(one, email=f"gok{n}@almelo.nl", password=WRONG))
    assert statuses == [400] * conf.staff_failures_total + [429]
