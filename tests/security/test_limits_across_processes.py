"""Rate limits hold across app processes: two separate `buurtkas serve` processes (as on two machines) on
one PostgreSQL database share the counters, so a guesser gains nothing by being spread over them.

Guards the shared store of app/kit/ratelimit.py (counters in the database, not in a process's memory).
Each request alternates between the servers: with counters kept per process, each server would allow
the full limit: the one that saw 3 of the 6 attempts would answer the sixth with 404/400 instead of 429.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx2
import pytest

from app.config import Settings
from app.db import Database
from tests.api_cases import C, unknown_code
from tests.factories import build_world
from tests.pages_helpers import form_fields
from tests.ratelimit_helpers import start_in_one_window
from tests.served import Server, served
from tests.staff_helpers import make_staff

PER_CLIENT = 5
LIMITS = {
    "CODE_FAILURES_PER_CLIENT": str(PER_CLIENT),
    "CODE_FAILURES_TOTAL": "1000",
    "STAFF_FAILURES_PER_CLIENT": str(PER_CLIENT),
    "STAFF_FAILURES_TOTAL": "1000",
    "STAFF_LOCKOUT_FAILURES": "100",
}


pytestmark = pytest.mark.parametrize("backend", ["postgresql"])  # several processes share PostgreSQL


@pytest.fixture
def two_servers(db: Database, settings: Settings) -> Iterator[tuple[Server, Server]]:
    build_world(db, settings, households=4)
    start_in_one_window(need_seconds=180)  # two servers to start, then the attempts
    with (
        served(settings.database_url, workers=1, env=LIMITS) as one,
        served(settings.database_url, workers=1, env=LIMITS) as other,
    ):
        yield one, other


def test_wrong_voucher_codes_spread_over_two_servers_are_counted_together(
    two_servers: tuple[Server, Server],
) -> None:
    statuses = []
    for n in range(PER_CLIENT + 1):
        server = two_servers[n % 2]
        with httpx2.Client(base_url=server.base_url) as http:
            statuses.append(http.post(C, json={"code": unknown_code()}).status_code)
    assert statuses == [404] * PER_CLIENT + [429]
    # Both servers now refuse this client, whichever it asks.
    for server in two_servers:
        with httpx2.Client(base_url=server.base_url) as http:
            refused = http.post(C, json={"code": unknown_code()})
            assert refused.status_code == 429
            assert int(refused.headers["retry-after"]) >= 1


def test_staff_sign_in_failures_spread_over_two_servers_are_counted_together(
    two_servers: tuple[Server, Server], db: Database, settings: Settings
) -> None:
    make_staff(db, settings, email="regisseur@almelo.nl")
    statuses = []
    for n in range(PER_CLIENT + 1):
        server = two_servers[n % 2]
        with httpx2.Client(base_url=server.base_url) as browser:
            fields = form_fields(browser.get("/staff/login"), "/staff/login")
            fields.update(email=f"gok{n}@almelo.nl", password="niet-het-goede-wachtwoord")
            statuses.append(browser.post("/staff/login", data=fields, follow_redirects=False).status_code)
    assert statuses == [400] * PER_CLIENT + [429]
