"""SQL injection payloads (and NUL characters, which PostgreSQL refuses in text) in query parameters, path
parameters, form fields, JSON bodies and voucher codes: never a 500, nothing changed, every table still
there.

Guards that every query is built with bound parameters (SQLAlchemy, no string formatting) and the input checks
in front of them (codes normalised to Crockford symbols, ids as bounded integers, NUL refused). The NUL
cases found two real holes, fixed here: on PostgreSQL a NUL in an area code (`/areas/%00`,
`/initiatives?area=%00`) or in any text field of a form (initiative title, budget line, organiser…) was a
500 (psycopg DataError). app/areas/repository.by_code now finds no area for such a code, app/web/forms
read_form/read_upload_form refuse such a form with 422 (FormHasNul), and DonationIn refuses NUL in the
donor's name and e-mail. Checked to fail without each fix: the query/path test and the NUL-in-form tests
failed on PostgreSQL before the fixes. Injection itself cannot be switched off for a check (no query is
built from text); the snapshot and table comparison are what would catch one.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import inspect

from app.db import Database
from app.donations.schemas import DonationIn
from tests.dbstate import row_counts, snapshot
from tests.factories import World
from tests.initiator_helpers import signed_in
from tests.pages_helpers import filled, form_fields
from tests.security.helpers import good_values, new_draft

PAYLOADS = [
    "' OR 1=1 --",
    "' OR '1'='1",
    "1; DROP TABLE vouchers",
    "1); DROP TABLE vouchers; --",
    '" OR ""="',
    "1 UNION SELECT code_hash FROM vouchers --",
    "\\'; SELECT pg_sleep(5); --",
    "abc\x00def",
    "\x00",
    "%00' OR 1=1",
    "K7QM-2XHD-9RTW-FA' OR 1=1 --",
]
# Refused requests may count a failure (rate_counters) or note it (audit_events); nothing else may change.
SNAPSHOT_SKIP = ("rate_counters", "audit_events")
GET_PATHS = [
    "/api/v1/initiatives?area={p}&category={p}&status={p}&page={p}",
    "/api/v1/initiatives/{p}",
    "/api/v1/areas?kind={p}&parent={p}",
    "/api/v1/areas/{p}/news",
    "/initiatives?area={p}&category={p}&filter={p}&show={p}&page={p}",
    "/initiatives/{p}",
    "/areas/{p}",
    "/areas/{p}/news?page={p}",
    "/feeds/{p}.atom",
    "/feeds/{p}.json",
    "/embed/initiatives?area={p}",
    "/receipts/{p}",
    "/donations/{p}",
    "/v/{p}",
    "/results/{p}",
    "/verify/{p}",
    "/password/reset/{p}",
    "/login/link/{p}",
]


@pytest.fixture
def before(db: Database, world: World) -> dict[str, Any]:
    return {"snapshot": snapshot(db, skip=SNAPSHOT_SKIP), "tables": set(inspect(db.engine).get_table_names())}


def assert_unchanged(db: Database, before: dict[str, Any]) -> None:
    assert set(inspect(db.engine).get_table_names()) == before["tables"]
    assert row_counts(db)["vouchers"] > 0
    assert snapshot(db, skip=SNAPSHOT_SKIP) == before["snapshot"]


def test_query_and_path_parameters(client: TestClient, db: Database, before: dict[str, Any]) -> None:
    failures = []
    for template in GET_PATHS:
        for payload in PAYLOADS:
            path = template.format(p=quote(payload, safe=""))
            try:
                response = client.get(path, follow_redirects=False)
            except Exception as exc:  # the TestClient re-raises server errors
                failures.append((path, type(exc).__name__))
                continue
            if response.status_code >= 500:
                failures.append((path, str(response.status_code)))
    assert failures == [], "\n".join(f"{p} {e}" for p, e in failures)
    assert_unchanged(db, before)


def test_json_bodies_and_voucher_codes(
    client: TestClient, db: Database, world: World, before: dict[str, Any]
) -> None:
    for payload in PAYLOADS:
        for path, body in (
            ("/api/v1/vouchers/check", {"code": payload}),
            ("/api/v1/pledges", {"code": payload, "initiative_id": world.initiative_id}),
            ("/api/v1/pledges", {"code": world.codes[0], "initiative_id": payload}),
            ("/api/v1/pledges", {"code": world.codes[0], "initiative_id": world.initiative_id, payload: 1}),
            (
                f"/api/v1/initiatives/{world.initiative_id}/donations",
                {"amount_cents": 500, "donor_name": payload},
            ),
        ):
            response = client.post(path, json=body, headers={"Idempotency-Key": payload[:40] or "x"})
            assert response.status_code < 500, (path, payload, response.status_code, response.text[:300])
            assert response.status_code >= 400, (path, payload, response.status_code)
    assert_unchanged(db, before)


def test_form_fields(client: TestClient, db: Database, world: World, before: dict[str, Any]) -> None:
    forms = {
        "/voucher": ("code",),
        "/login": ("email", "password"),
        "/password/forgot": ("email",),
        "/staff/login": ("email", "password"),
    }
    for action, names in forms.items():
        for payload in PAYLOADS:
            fields = form_fields(client.get(action), action)
            fields.update({name: payload for name in names})
            response = client.post(action, data=fields, follow_redirects=False)
            assert response.status_code < 500, (action, payload, response.status_code, response.text[:300])
    assert_unchanged(db, before)


def test_an_initiators_form_fields(client: TestClient, db: Database, world: World) -> None:
    me = signed_in(client, db, "invuller@example.org")
    draft = new_draft(me)
    tables = set(inspect(db.engine).get_table_names())
    before = snapshot(db, skip=(*SNAPSHOT_SKIP, "sessions", "accounts"))
    for payload in PAYLOADS:
        for action in ("/my/initiatives/new", f"/my/initiatives/{draft}/edit"):
            page = me.get(action)
            values = {name: payload for name in ("title", "summary", "description", "area", "category")}
            values.update(target=payload, deadline=payload, line_text_0=payload, organiser_email_0=payload)
            response = me.post(action, data=filled(page, action, **values), follow_redirects=False)
            assert response.status_code < 500, (action, payload, response.status_code)
    assert set(inspect(db.engine).get_table_names()) == tables
    assert snapshot(db, skip=(*SNAPSHOT_SKIP, "sessions", "accounts")) == before


@pytest.mark.parametrize("field", ["title", "summary", "description", "line_text_0", "organiser_name_0"])
def test_a_nul_in_one_text_field_of_a_good_form(
    client: TestClient, db: Database, world: World, field: str
) -> None:
    me = signed_in(client, db, "nul@example.org")
    draft = new_draft(me)
    action = f"/my/initiatives/{draft}/edit"
    before = snapshot(db, skip=(*SNAPSHOT_SKIP, "sessions"))
    response = me.post(
        action, data=filled(me.get(action), action, **{field: "Bloem\x00bakken"}), follow_redirects=False
    )
    assert response.status_code == 422, response.status_code
    assert "onzichtbaar teken" in response.text
    created = me.post(
        "/my/initiatives/new",
        data=filled(me.get("/my/initiatives/new"), "/my/initiatives/new", **good_values(**{field: "a\x00b"})),
        follow_redirects=False,
    )
    assert created.status_code == 422, created.status_code
    assert snapshot(db, skip=(*SNAPSHOT_SKIP, "sessions")) == before


def test_a_nul_in_a_donation_is_bad_input() -> None:
    for values in ({"donor_name": "Jan\x00"}, {"email": "jan\x00@example.org"}):
        with pytest.raises(ValidationError):
            DonationIn(amount_cents=500, **values)
    assert DonationIn(amount_cents=500, donor_name="Jan", email="jan@example.org").donor_name == "Jan"
