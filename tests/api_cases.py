"""Shared by the API input tests: one world per backend to send requests to, and what a refusal must look like.

A refusal is a clear 4xx problem (Dutch by default, English on request) that changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.errors import AppError, NotFound
from app.initiatives.errors import InitiativeAlreadyFunded, InitiativeNotFound
from app.kit.clock import today as amsterdam_today
from app.kit.codes import generate_code
from app.main import create_app
from app.pledges.service import PledgeTooSmall, create_pledge
from app.vouchers.errors import (
    VoucherEmpty,
    VoucherExpired,
    VoucherInsufficient,
    VoucherReplaced,
)
from app.vouchers.service import lookup, reissue
from tests.databases import PostgresFactory, SqliteFactory, test_settings
from tests.dbstate import assert_ledger_ok, diff, failure_counts, snapshot
from tests.factories import World, build_world, issue_period, make_initiative

PROBLEM_JSON = "application/problem+json"
VALIDATION_NL = "Het verzoek bevat velden die ontbreken of niet kloppen."
VALIDATION_EN = "The request contains fields that are missing or invalid."
CLIENT = "testclient"  # the address Starlette's TestClient reports
P = "/api/v1/pledges"
C = "/api/v1/vouchers/check"


# --- one shared world per backend ---------------------------------------------------------------------


@dataclass
class Env:
    client: TestClient
    db: Database
    settings: Settings
    world: World
    fresh: str  # an untouched voucher (750) that refusals try to use; it must stay untouched
    emptied: str
    replaced: str
    replacement: str
    expired: str
    draft_id: int
    funded_id: int
    near_id: int  # target 1000, 750 raised: needs 250 more
    spare: list[str] = field(default_factory=list)

    def take_code(self) -> str:
        return self.spare.pop()


def _factory(
    backend: str, sqlite_factory: SqliteFactory, postgres_factory: PostgresFactory | None
) -> SqliteFactory | PostgresFactory:
    if backend == "postgresql":
        if postgres_factory is None:
            pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run this backend")
        return postgres_factory
    return sqlite_factory


def open_env(
    backend: str, sqlite_factory: SqliteFactory, postgres_factory: PostgresFactory | None
) -> Iterator[Env]:
    """The shared world of one backend, for a module-scoped `env` fixture in each test module."""
    factory = _factory(backend, sqlite_factory, postgres_factory)
    url = factory.create()
    # Limits high enough that the many unknown codes tried here never trip them (tested on their own below).
    conf = test_settings(
        url,
        code_failures_per_client=1_000_000,
        code_failures_total=1_000_000,
        initiative_min_target_cents=1_000,
    )
    db = Database(conf)
    world = build_world(db, conf)
    codes = list(world.codes)
    today = amsterdam_today()

    def setup(session: Any) -> dict[str, Any]:
        def give(code: str, initiative_id: int, amount: int | None = None) -> None:
            create_pledge(
                session,
                code=code,
                initiative_id=initiative_id,
                amount_cents=amount,
                settings=conf,
                today=today,
            )

        draft_id = make_initiative(session, conf, publish=False, title="Nog een concept")
        funded_id = make_initiative(session, conf, target_cents=1_000, title="Al gehaald")
        give(codes[0], funded_id)
        give(codes[1], funded_id)
        near_id = make_initiative(session, conf, target_cents=1_000, title="Bijna gehaald")
        give(codes[2], near_id)
        give(codes[3], world.initiative_id)
        _new_id, replacement = reissue(
            session, voucher_id=lookup(session, codes[4]).id, actor="test", today=today
        )
        expired = issue_period(
            session,
            name="Najaar 2025",
            today=today - timedelta(days=200),
            starts_on=today - timedelta(days=200),
            ends_on=today - timedelta(days=100),
        )
        return {
            "draft_id": draft_id,
            "funded_id": funded_id,
            "near_id": near_id,
            "replacement": replacement,
            "expired": next(iter(expired.values())),
        }

    made = db.run_write(setup)
    with TestClient(create_app(conf, db)) as client:
        yield Env(
            client=client,
            db=db,
            settings=conf,
            world=world,
            fresh=codes[5],
            emptied=codes[3],
            replaced=codes[4],
            spare=codes[6:],
            **made,
        )
    db.dispose()
    factory.drop(url)


# --- what a refusal must look like --------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    status: int
    type: str
    title_nl: str
    title_en: str
    detail_nl: str | None = None  # checked exactly when given
    detail_en: str | None = None


def problem_of(error: type[AppError]) -> Expected:
    return Expected(error.status, f"/problems/{error.slug}", error.title, error.title_en)


INVALID = Expected(
    422, "/problems/invalid-input", "Ongeldige invoer", "Invalid input", VALIDATION_NL, VALIDATION_EN
)
INVALID_APP = Expected(422, "/problems/invalid-input", "Ongeldige invoer", "Invalid input")
MALFORMED = Expected(
    422,
    "/problems/malformed-voucher-code",
    "Code klopt niet",
    "Code is not valid",
    "Dit is geen geldige vouchercode. Een code heeft 14 tekens, zoals K7QM-2XHD-9RTW-F5.",
    "This is not a valid voucher code. A code has 14 characters, like K7QM-2XHD-9RTW-F5.",
)
UNKNOWN_CODE = Expected(
    404,
    "/problems/unknown-voucher",
    "Onbekende code",
    "Unknown code",
    "Deze vouchercode kennen we niet. Kijk of u hem goed hebt overgenomen.",
    "We do not know this voucher code. Check that you copied it correctly.",
)
NO_INITIATIVE = problem_of(InitiativeNotFound)
FUNDED = problem_of(InitiativeAlreadyFunded)
REPLACED = problem_of(VoucherReplaced)
EXPIRED = problem_of(VoucherExpired)
EMPTY = problem_of(VoucherEmpty)
INSUFFICIENT = problem_of(VoucherInsufficient)
TOO_SMALL = Expected(
    422,
    "/problems/pledge-too-small",
    PledgeTooSmall.title,
    PledgeTooSmall.title_en,
    "Geef minstens € 1,00, of het hele tegoed.",
    "Give at least €1.00, or the whole balance.",
)
UNREADABLE = Expected(
    400,
    "about:blank",
    "Verzoek niet begrepen",
    "Bad request",
    "De inhoud van het verzoek kon niet worden gelezen. Stuur geldige JSON in UTF-8.",
    "The request body could not be read. Send valid JSON in UTF-8.",
)
NO_AREA = Expected(404, "/problems/not-found", NotFound.title, NotFound.title_en)
NO_ROUTE = Expected(404, "about:blank", "Niet gevonden", "Not found", "Niet gevonden", "Not found")
NO_METHOD = Expected(
    405,
    "about:blank",
    "Methode niet toegestaan",
    "Method not allowed",
    "Methode niet toegestaan",
    "Method not allowed",
)
ASSUMED_SAME = {"type", "status", "invalidParams", "balance_cents"}  # language-independent fields


def check_problem(response: Any, expected: Expected, *, english: bool) -> dict[str, Any]:
    assert response.status_code == expected.status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert isinstance(body, dict)
    assert {"type", "title", "status", "detail"} <= body.keys(), body
    assert body["status"] == expected.status
    assert body["type"] == expected.type
    assert body["title"] == (expected.title_en if english else expected.title_nl)
    assert isinstance(body["detail"], str) and body["detail"].strip()
    wanted_detail = expected.detail_en if english else expected.detail_nl
    if wanted_detail is not None:
        assert body["detail"] == wanted_detail
    return body


def assert_refused(
    env: Env,
    send: Callable[[dict[str, str]], Any],
    expected: Expected,
    *,
    counted: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Send the request in Dutch (default) and in English; both refused alike; nothing changed."""
    before, failures_before = snapshot(env.db), failure_counts(env.db)
    dutch = check_problem(send({}), expected, english=False)
    english = check_problem(send({"Accept-Language": "en"}), expected, english=True)
    assert dutch["title"] != english["title"]
    assert dutch["detail"] != english["detail"]
    assert {k: v for k, v in dutch.items() if k in ASSUMED_SAME} == {
        k: v for k, v in english.items() if k in ASSUMED_SAME
    }
    after = snapshot(env.db)
    assert after == before, f"a refused request changed: {diff(before, after)}"
    failures = failure_counts(env.db)
    if counted:
        for bucket in (f"voucher-code:client:{CLIENT}", "voucher-code:total"):
            assert failures.get(bucket, 0) == failures_before.get(bucket, 0) + 2, bucket
    else:
        assert failures == failures_before
    assert_ledger_ok(env.db)
    return dutch, english


MISSING = object()


def pledge_body(env: Env, **override: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": env.fresh,
        "initiative_id": env.world.initiative_id,
        "amount_cents": 100,
    }
    body.update(override)
    return {key: value for key, value in body.items() if value is not MISSING}


def unknown_code() -> str:
    return generate_code()  # well formed (valid check symbol) but never issued
