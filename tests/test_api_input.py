"""Bad input of every kind gets a clear 4xx problem (Dutch by default, English on request) and changes nothing.

Most tests share one world per backend (module scope): every refusal is checked to leave the database exactly
as it was, so sharing is sound, and a refusal that did change something fails its own test. Tests that do
move money take their own voucher codes from the pool.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.config import Settings
from app.db import Database
from app.errors import AppError, InvalidInput, NotFound, TooManyAttempts
from app.initiatives.errors import InitiativeAlreadyFunded, InitiativeNotFound
from app.kit.clock import today as amsterdam_today
from app.kit.codes import ALPHABET, generate_code
from app.kit.idempotency import IdempotencyKeyReused
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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(
    request: pytest.FixtureRequest, sqlite_factory: SqliteFactory, postgres_factory: PostgresFactory | None
) -> Iterator[Env]:
    factory = _factory(str(request.param), sqlite_factory, postgres_factory)
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
    "Dit is geen geldige vouchercode. Een code heeft 14 tekens, zoals K7QM-2XHD-9RTW-FA.",
    "This is not a valid voucher code. A code has 14 characters, like K7QM-2XHD-9RTW-FA.",
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


# --- the cases ------------------------------------------------------------------------------------------

MISSING = object()


def pledge_body(env: Env, **override: object) -> dict[str, object]:
    body: dict[str, object] = {
        "code": env.fresh,
        "initiative_id": env.world.initiative_id,
        "amount_cents": 100,
    }
    body.update(override)
    return {key: value for key, value in body.items() if value is not MISSING}


def post_json(
    path: str, make_body: Callable[[Env], object]
) -> Callable[[Env], Callable[[dict[str, str]], Any]]:
    def bind(env: Env) -> Callable[[dict[str, str]], Any]:
        return lambda headers: env.client.post(path, json=make_body(env), headers=headers)

    return bind


def post_raw(
    path: str, content: bytes | None, content_type: str | None = "application/json"
) -> Callable[[Env], Callable[[dict[str, str]], Any]]:
    def bind(env: Env) -> Callable[[dict[str, str]], Any]:
        def send(headers: dict[str, str]) -> Any:
            merged = dict(headers)
            if content_type is not None:
                merged["Content-Type"] = content_type
            return env.client.post(path, content=content, headers=merged)

        return send

    return bind


def request(
    method: str, path: str | Callable[[Env], str]
) -> Callable[[Env], Callable[[dict[str, str]], Any]]:
    def bind(env: Env) -> Callable[[dict[str, str]], Any]:
        url = path(env) if callable(path) else path
        return lambda headers: env.client.request(method, url, headers=headers)

    return bind


def pledge(**override: object) -> Callable[[Env], Callable[[dict[str, str]], Any]]:
    return post_json("/api/v1/pledges", lambda env: pledge_body(env, **override))


def pledge_with(**override: Callable[[Env], object]) -> Callable[[Env], Callable[[dict[str, str]], Any]]:
    return post_json(
        "/api/v1/pledges", lambda env: pledge_body(env, **{k: make(env) for k, make in override.items()})
    )


def check(body: Callable[[Env], object]) -> Callable[[Env], Callable[[dict[str, str]], Any]]:
    return post_json("/api/v1/vouchers/check", body)


def unknown_code() -> str:
    return generate_code()  # well formed (valid check symbol) but never issued


def bad_check_symbol(code: str) -> str:
    plain = code.replace("-", "")
    wrong = ALPHABET[(ALPHABET.index(plain[-1]) + 1) % len(ALPHABET)]
    return plain[:-1] + wrong


LONG_KEY = "k" * 256
P = "/api/v1/pledges"
C = "/api/v1/vouchers/check"

CASES: list[tuple[str, Callable[[Env], Callable[[dict[str, str]], Any]], Expected, bool]] = [
    # POST /api/v1/pledges: wrong JSON types
    ("pledge-code-int", pledge(code=12345678901234), INVALID, False),
    ("pledge-code-null", pledge(code=None), INVALID, False),
    ("pledge-code-list", pledge(code=["K7QM-2XHD-9RTW-FA"]), INVALID, False),
    ("pledge-code-object", pledge(code={"code": "x"}), INVALID, False),
    ("pledge-code-bool", pledge(code=True), INVALID, False),
    ("pledge-id-string", pledge_with(initiative_id=lambda env: str(env.world.initiative_id)), INVALID, False),
    (
        "pledge-id-float",
        pledge_with(initiative_id=lambda env: float(env.world.initiative_id)),
        INVALID,
        False,
    ),
    ("pledge-id-fraction", pledge(initiative_id=1.5), INVALID, False),
    ("pledge-id-bool", pledge(initiative_id=True), INVALID, False),
    ("pledge-id-null", pledge(initiative_id=None), INVALID, False),
    ("pledge-id-list", pledge_with(initiative_id=lambda env: [env.world.initiative_id]), INVALID, False),
    ("pledge-amount-string", pledge(amount_cents="100"), INVALID, False),
    ("pledge-amount-float", pledge(amount_cents=100.0), INVALID, False),
    ("pledge-amount-fraction", pledge(amount_cents=7.5), INVALID, False),
    ("pledge-amount-bool", pledge(amount_cents=True), INVALID, False),
    ("pledge-amount-list", pledge(amount_cents=[100]), INVALID, False),
    ("pledge-amount-object", pledge(amount_cents={"cents": 100}), INVALID, False),
    ("pledge-amount-euro-string", pledge(amount_cents="€ 1,00"), INVALID, False),
    # numbers out of range
    ("pledge-amount-zero", pledge(amount_cents=0), INVALID, False),
    ("pledge-amount-negative", pledge(amount_cents=-1), INVALID, False),
    ("pledge-amount-minus-balance", pledge(amount_cents=-750), INVALID, False),
    ("pledge-amount-2**63", pledge(amount_cents=2**63), INVALID, False),
    ("pledge-amount-2**64", pledge(amount_cents=2**64), INVALID, False),
    ("pledge-amount-10**30", pledge(amount_cents=10**30), INVALID, False),
    ("pledge-amount-minus-2**63", pledge(amount_cents=-(2**63)), INVALID, False),
    ("pledge-id-zero", pledge(initiative_id=0), INVALID, False),
    ("pledge-id-negative", pledge(initiative_id=-1), INVALID, False),
    ("pledge-id-2**63", pledge(initiative_id=2**63), INVALID, False),
    ("pledge-id-10**30", pledge(initiative_id=10**30), INVALID, False),
    # shape of the body
    ("pledge-extra-field", pledge(voucher_balance_cents=99_999), INVALID, False),
    ("pledge-missing-code", pledge(code=MISSING), INVALID, False),
    ("pledge-missing-initiative", pledge(initiative_id=MISSING), INVALID, False),
    ("pledge-empty-object", post_json(P, lambda env: {}), INVALID, False),
    ("pledge-json-array", post_json(P, lambda env: [pledge_body(env)]), INVALID, False),
    ("pledge-json-string", post_json(P, lambda env: "K7QM-2XHD-9RTW-FA"), INVALID, False),
    ("pledge-json-number", post_json(P, lambda env: 750), INVALID, False),
    ("pledge-json-null", post_raw(P, b"null"), INVALID, False),
    ("pledge-invalid-json", post_raw(P, b'{"code": "K7QM-2XHD-9RTW-FA", "initiative_id": '), INVALID, False),
    ("pledge-trailing-comma", post_raw(P, b'{"code": "K7QM-2XHD-9RTW-FA",}'), INVALID, False),
    ("pledge-not-utf8", post_raw(P, b'{"code": "\xff\xfe"}'), UNREADABLE, False),
    ("pledge-deeply-nested", post_raw(P, b"[" * 100_000), UNREADABLE, False),
    ("pledge-nan", post_raw(P, b'{"code": "K7QM-2XHD-9RTW-FA", "initiative_id": NaN}'), INVALID, False),
    ("pledge-empty-body", post_raw(P, b""), INVALID, False),
    ("pledge-no-body", post_raw(P, None, None), INVALID, False),
    ("pledge-text-plain", post_raw(P, b'{"code": "x", "initiative_id": 1}', "text/plain"), INVALID, False),
    (
        "pledge-form",
        post_raw(P, b"code=x&initiative_id=1", "application/x-www-form-urlencoded"),
        INVALID,
        False,
    ),
    # codes
    ("pledge-code-empty", pledge(code=""), INVALID, False),
    ("pledge-code-65-chars", pledge(code="A" * 65), INVALID, False),
    ("pledge-code-short", pledge(code="K7QM-2XHD"), MALFORMED, False),
    ("pledge-code-too-long", pledge(code="K7QM-2XHD-9RTW-FAA"), MALFORMED, False),
    ("pledge-code-bad-symbol", pledge(code="K7QM-2XHD-9RTW-U*"), MALFORMED, False),
    ("pledge-code-bad-check", pledge_with(code=lambda env: bad_check_symbol(env.fresh)), MALFORMED, False),
    ("pledge-code-unknown", pledge_with(code=lambda env: unknown_code()), UNKNOWN_CODE, True),
    # vouchers that cannot give
    ("pledge-code-replaced", pledge_with(code=lambda env: env.replaced), REPLACED, False),
    ("pledge-code-expired", pledge_with(code=lambda env: env.expired), EXPIRED, False),
    ("pledge-code-emptied", pledge_with(code=lambda env: env.emptied), EMPTY, False),
    # initiatives that cannot receive
    ("pledge-unknown-initiative", pledge(initiative_id=987_654), NO_INITIATIVE, False),
    ("pledge-draft-initiative", pledge_with(initiative_id=lambda env: env.draft_id), NO_INITIATIVE, False),
    ("pledge-funded-initiative", pledge_with(initiative_id=lambda env: env.funded_id), FUNDED, False),
    # amounts
    ("pledge-above-balance", pledge(amount_cents=751), INSUFFICIENT, False),
    ("pledge-far-above-balance", pledge(amount_cents=100_000_000), INSUFFICIENT, False),
    ("pledge-below-one-euro", pledge(amount_cents=99), TOO_SMALL, False),
    ("pledge-one-cent", pledge(amount_cents=1), TOO_SMALL, False),
    # POST /api/v1/vouchers/check
    ("check-code-int", check(lambda env: {"code": 12345678901234}), INVALID, False),
    ("check-code-null", check(lambda env: {"code": None}), INVALID, False),
    ("check-code-list", check(lambda env: {"code": [env.fresh]}), INVALID, False),
    ("check-code-bool", check(lambda env: {"code": False}), INVALID, False),
    ("check-code-float", check(lambda env: {"code": 1.5}), INVALID, False),
    ("check-extra-field", check(lambda env: {"code": env.fresh, "balance_cents": 1}), INVALID, False),
    ("check-missing-code", check(lambda env: {}), INVALID, False),
    ("check-json-array", check(lambda env: [env.fresh]), INVALID, False),
    ("check-json-string", check(lambda env: env.fresh), INVALID, False),
    ("check-invalid-json", post_raw(C, b'{"code": '), INVALID, False),
    ("check-not-utf8", post_raw(C, b'{"code": "\xe9"}'), UNREADABLE, False),
    ("check-empty-body", post_raw(C, b""), INVALID, False),
    ("check-no-body", post_raw(C, None, None), INVALID, False),
    ("check-text-plain", post_raw(C, b'{"code": "K7QM-2XHD-9RTW-FA"}', "text/plain"), INVALID, False),
    ("check-code-empty", check(lambda env: {"code": ""}), INVALID, False),
    ("check-code-65-chars", check(lambda env: {"code": "7" * 65}), INVALID, False),
    ("check-code-short", check(lambda env: {"code": "ABC"}), MALFORMED, False),
    ("check-code-spaces-only", check(lambda env: {"code": "   -  "}), MALFORMED, False),
    ("check-code-bad-check", check(lambda env: {"code": bad_check_symbol(env.fresh)}), MALFORMED, False),
    ("check-code-unicode", check(lambda env: {"code": "K7QM-2XHD-9RTW-FÄ"}), MALFORMED, False),
    ("check-code-unknown", check(lambda env: {"code": unknown_code()}), UNKNOWN_CODE, True),
    # GET /api/v1/initiatives
    ("list-limit-zero", request("GET", "/api/v1/initiatives?limit=0"), INVALID, False),
    ("list-limit-negative", request("GET", "/api/v1/initiatives?limit=-1"), INVALID, False),
    ("list-limit-huge", request("GET", "/api/v1/initiatives?limit=201"), INVALID, False),
    ("list-limit-10**30", request("GET", f"/api/v1/initiatives?limit={10**30}"), INVALID, False),
    ("list-limit-word", request("GET", "/api/v1/initiatives?limit=tien"), INVALID, False),
    ("list-limit-float", request("GET", "/api/v1/initiatives?limit=1.5"), INVALID, False),
    ("list-offset-negative", request("GET", "/api/v1/initiatives?offset=-1"), INVALID, False),
    ("list-offset-2**63", request("GET", f"/api/v1/initiatives?offset={2**63}"), INVALID, False),
    ("list-status-draft", request("GET", "/api/v1/initiatives?status=draft"), INVALID, False),
    ("list-status-withdrawn", request("GET", "/api/v1/initiatives?status=withdrawn"), INVALID, False),
    ("list-status-unknown", request("GET", "/api/v1/initiatives?status=gepubliceerd"), INVALID, False),
    ("list-area-short", request("GET", "/api/v1/initiatives?area=BU"), INVALID, False),
    ("list-area-long", request("GET", "/api/v1/initiatives?area=BU0141100000000"), INVALID, False),
    ("list-area-injection", request("GET", "/api/v1/initiatives?area=GM0141'--"), INVALID, False),
    ("list-area-empty", request("GET", "/api/v1/initiatives?area="), INVALID, False),
    ("list-area-unknown", request("GET", "/api/v1/initiatives?area=BU99999999"), NO_AREA, False),
    # GET /api/v1/initiatives/{id}
    ("get-id-word", request("GET", "/api/v1/initiatives/een"), INVALID, False),
    ("get-id-zero", request("GET", "/api/v1/initiatives/0"), INVALID, False),
    ("get-id-negative", request("GET", "/api/v1/initiatives/-1"), INVALID, False),
    ("get-id-fraction", request("GET", "/api/v1/initiatives/1.5"), INVALID, False),
    ("get-id-2**63", request("GET", f"/api/v1/initiatives/{2**63}"), INVALID, False),
    ("get-id-10**30", request("GET", f"/api/v1/initiatives/{10**30}"), INVALID, False),
    ("get-id-unknown", request("GET", "/api/v1/initiatives/987654"), NO_INITIATIVE, False),
    ("get-id-draft", request("GET", lambda env: f"/api/v1/initiatives/{env.draft_id}"), NO_INITIATIVE, False),
    # routes and methods
    ("route-unknown", request("GET", "/api/v1/nothing-here"), NO_ROUTE, False),
    ("route-unknown-version", request("GET", "/api/v2/initiatives"), NO_ROUTE, False),
    ("route-vouchers-root", request("POST", "/api/v1/vouchers"), NO_ROUTE, False),
    ("route-pledge-by-id", request("GET", "/api/v1/pledges/1"), NO_ROUTE, False),
    ("method-get-pledges", request("GET", P), NO_METHOD, False),
    ("method-put-check", request("PUT", C), NO_METHOD, False),
    ("method-delete-initiative", request("DELETE", "/api/v1/initiatives/1"), NO_METHOD, False),
    ("method-post-initiatives", request("POST", "/api/v1/initiatives"), NO_METHOD, False),
    ("method-patch-initiative", request("PATCH", "/api/v1/initiatives/1"), NO_METHOD, False),
]


@pytest.mark.parametrize(
    ("send", "expected", "counted"),
    [pytest.param(send, expected, counted, id=name) for name, send, expected, counted in CASES],
)
def test_refused_and_nothing_changed(
    env: Env, send: Callable[[Env], Callable[[dict[str, str]], Any]], expected: Expected, counted: bool
) -> None:
    assert_refused(env, send(env), expected, counted=counted)


def test_case_names_are_unique() -> None:
    names = [name for name, *_ in CASES]
    assert len(names) == len(set(names))


# --- refusals that need a closer look --------------------------------------------------------------------


def test_validation_problem_names_the_field(env: Env) -> None:
    dutch, english = assert_refused(
        env,
        lambda headers: env.client.post(P, json=pledge_body(env, amount_cents="750"), headers=headers),
        INVALID,
    )
    assert [param["name"] for param in dutch["invalidParams"]] == ["amount_cents"]
    assert dutch["invalidParams"] == english["invalidParams"]
    for field_name, value in (("initiative_id", True), ("code", 42)):
        response = env.client.post(P, json=pledge_body(env, **{field_name: value}))
        assert [param["name"] for param in response.json()["invalidParams"]] == [field_name]


def test_missing_and_extra_fields_are_all_named(env: Env) -> None:
    response = env.client.post(P, json={"initiative_id": env.world.initiative_id, "extra": 1, "more": 2})
    assert response.status_code == 422
    assert sorted(param["name"] for param in response.json()["invalidParams"]) == ["code", "extra", "more"]


def test_above_balance_says_what_is_left(env: Env) -> None:
    dutch, english = assert_refused(
        env,
        lambda headers: env.client.post(P, json=pledge_body(env, amount_cents=751), headers=headers),
        INSUFFICIENT,
    )
    assert dutch["balance_cents"] == english["balance_cents"] == 750
    assert dutch["detail"] == "Er staat nog € 7,50 op deze voucher. Kies een lager bedrag."
    assert english["detail"] == "This voucher holds €7.50. Choose a lower amount."
    balance = env.client.post(C, json={"code": env.fresh}).json()["balance_cents"]
    assert balance == 750


def test_refusals_in_other_languages(env: Env) -> None:
    """Dutch unless English comes first; unknown languages get Dutch."""
    cases = {
        "fr": "Onbekende code",
        "nl-NL,en;q=0.5": "Onbekende code",
        "en-GB,nl;q=0.5": "Unknown code",
        "EN": "Unknown code",
        "": "Onbekende code",
    }
    for accept, title in cases.items():
        response = env.client.post(C, json={"code": unknown_code()}, headers={"Accept-Language": accept})
        assert response.status_code == 404
        assert response.json()["title"] == title, accept


def test_overlong_idempotency_key(env: Env) -> None:
    dutch, _english = assert_refused(
        env,
        lambda headers: env.client.post(
            P, json=pledge_body(env), headers={**headers, "Idempotency-Key": LONG_KEY}
        ),
        INVALID,
    )
    assert [param["name"] for param in dutch["invalidParams"]] == ["header.Idempotency-Key"]


def test_empty_idempotency_key(env: Env) -> None:
    assert_refused(
        env,
        lambda headers: env.client.post(P, json=pledge_body(env), headers={**headers, "Idempotency-Key": ""}),
        Expected(
            422,
            "/problems/invalid-input",
            InvalidInput.title,
            InvalidInput.title_en,
            "De Idempotency-Key moet 1 tot 255 leesbare tekens hebben.",
            "The Idempotency-Key must be 1 to 255 printable characters.",
        ),
    )


def test_idempotency_key_replays_and_refuses_another_body(env: Env) -> None:
    code = env.take_code()
    key = "bk-test-replay-1"
    body = {"code": code, "initiative_id": env.world.initiative_id, "amount_cents": 300}
    first = env.client.post(P, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert first.json()["voucher_balance_cents"] == 450
    before = snapshot(env.db)
    again = env.client.post(P, json=body, headers={"Idempotency-Key": key})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert snapshot(env.db) == before, "a replay moved money again"
    assert_refused(
        env,
        lambda headers: env.client.post(
            P, json={**body, "amount_cents": 200}, headers={**headers, "Idempotency-Key": key}
        ),
        problem_of(IdempotencyKeyReused),
    )
    assert env.client.post(C, json={"code": code}).json()["balance_cents"] == 450


# --- tolerant codes and the amounts that are accepted ------------------------------------------------------


def _variants(code: str) -> list[str]:
    plain = code.replace("-", "")
    variants = [
        code,
        code.lower(),
        plain,
        plain.lower(),
        " ".join(plain[i : i + 4] for i in range(0, 14, 4)),
        f"  {code}  ",
        "-".join(plain),
        code.replace("-", " - "),
        f"\t{plain.lower()}\n",
    ]
    if "0" in plain:
        variants += [code.replace("0", "O"), code.replace("0", "o")]
    if "1" in plain:
        variants += [
            code.replace("1", "I"),
            code.replace("1", "L"),
            code.replace("1", "l"),
            code.replace("1", "i"),
        ]
    return variants


def test_codes_are_read_tolerantly(env: Env) -> None:
    with_zero = next(code for code in env.world.codes if "0" in code.replace("-", ""))
    with_one = next(code for code in env.world.codes if "1" in code.replace("-", ""))
    before = snapshot(env.db)
    failures = failure_counts(env.db)
    for code in (with_zero, with_one, env.fresh):
        expected = env.client.post(C, json={"code": code}).json()
        for variant in _variants(code):
            response = env.client.post(C, json={"code": variant})
            assert response.status_code == 200, (variant, response.text)
            assert response.json() == expected, variant
    assert snapshot(env.db) == before
    assert failure_counts(env.db) == failures, "a tolerated code was counted as a failure"


def test_pledge_with_a_sloppily_typed_code(env: Env) -> None:
    code = env.take_code()
    sloppy = " ".join(code.replace("-", "").lower()).replace("0", "o").replace("1", "l")
    response = env.client.post(P, json={"code": sloppy, "initiative_id": env.world.initiative_id})
    assert response.status_code == 201, response.text
    assert response.json()["amount_cents"] == 750
    assert response.json()["voucher_balance_cents"] == 0
    assert env.client.post(C, json={"code": code}).json()["balance_cents"] == 0
    assert_ledger_ok(env.db)


def test_check_reports_replaced_and_expired(env: Env) -> None:
    replaced = env.client.post(C, json={"code": env.replaced})
    assert replaced.status_code == 200
    assert replaced.json()["status"] == "replaced"
    assert replaced.json()["balance_cents"] == 0
    replacement = env.client.post(C, json={"code": env.replacement})
    assert replacement.json()["status"] == "active"
    assert replacement.json()["balance_cents"] == 750
    expired = env.client.post(C, json={"code": env.expired})
    assert expired.status_code == 200
    assert expired.json()["status"] == "expired"
    assert expired.json()["balance_cents"] == 0
    assert expired.json()["period"] == "Najaar 2025"


def test_amount_above_what_is_needed_is_lowered(env: Env) -> None:
    code = env.take_code()
    response = env.client.post(P, json={"code": code, "initiative_id": env.near_id, "amount_cents": 500})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount_cents"] == 250
    assert body["voucher_balance_cents"] == 500
    assert body["initiative"] == {
        "id": env.near_id,
        "raised_cents": 1_000,
        "target_cents": 1_000,
        "status": "funded",
    }
    assert env.client.post(C, json={"code": code}).json()["balance_cents"] == 500
    # and now it is funded, the next one is refused and nothing moves
    assert_refused(
        env,
        lambda headers: env.client.post(
            P, json={"code": code, "initiative_id": env.near_id}, headers=headers
        ),
        FUNDED,
    )
    assert_ledger_ok(env.db)


def test_small_amount_that_empties_the_voucher_is_accepted(env: Env) -> None:
    code = env.take_code()
    first = env.client.post(
        P, json={"code": code, "initiative_id": env.world.initiative_id, "amount_cents": 700}
    )
    assert first.status_code == 201, first.text
    assert first.json()["voucher_balance_cents"] == 50
    assert_refused(
        env,
        lambda headers: env.client.post(
            P,
            json={"code": code, "initiative_id": env.world.initiative_id, "amount_cents": 49},
            headers=headers,
        ),
        Expected(422, "/problems/pledge-too-small", PledgeTooSmall.title, PledgeTooSmall.title_en),
    )
    last = env.client.post(
        P, json={"code": code, "initiative_id": env.world.initiative_id, "amount_cents": 50}
    )
    assert last.status_code == 201, last.text
    assert last.json()["amount_cents"] == 50
    assert last.json()["voucher_balance_cents"] == 0
    assert_refused(
        env,
        lambda headers: env.client.post(
            P, json={"code": code, "initiative_id": env.world.initiative_id}, headers=headers
        ),
        EMPTY,
    )
    assert_ledger_ok(env.db)


def test_null_amount_means_the_default(env: Env) -> None:
    code = env.take_code()
    response = env.client.post(
        P, json={"code": code, "initiative_id": env.world.initiative_id, "amount_cents": None}
    )
    assert response.status_code == 201, response.text
    assert response.json()["amount_cents"] == 750


# --- fuzz: whatever JSON arrives, never a 500 and never a moved cent ------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
pledge_like = st.fixed_dictionaries(
    {},
    optional={
        "code": json_values | st.text(alphabet=ALPHABET + "-olIL ", min_size=10, max_size=20),
        "initiative_id": json_values | st.integers(min_value=-3, max_value=10),
        "amount_cents": json_values | st.integers(min_value=-3, max_value=2_000),
        "extra": json_values,
    },
)


@hypothesis_settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=json_values | pledge_like, raw=st.none() | st.binary(max_size=60))
def test_fuzz_pledges_never_500_never_moves_money(env: Env, body: object, raw: bytes | None) -> None:
    before = snapshot(env.db)
    if raw is None:
        response = env.client.post(P, content=json.dumps(body), headers={"Content-Type": "application/json"})
    else:
        response = env.client.post(P, content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code < 500, response.text
    assert 400 <= response.status_code < 500, response.text  # no real code is ever generated here
    assert response.headers["content-type"] == PROBLEM_JSON
    assert {"type", "title", "status", "detail"} <= response.json().keys()
    assert snapshot(env.db) == before


def test_ledger_still_whole_after_everything(env: Env) -> None:
    assert_ledger_ok(env.db)


# --- the failed-attempt limits -------------------------------------------------------------------------------


@pytest.fixture
def limited(database_url: str) -> Iterator[tuple[Settings, Database, World]]:
    conf = test_settings(
        database_url, code_failures_per_client=3, code_failures_total=5, code_failure_window_seconds=600
    )
    db = Database(conf)
    world = build_world(db, conf, households=12)
    yield conf, db, world
    db.dispose()


def test_unknown_codes_are_limited_per_client(limited: tuple[Settings, Database, World]) -> None:
    conf, db, world = limited
    with TestClient(create_app(conf, db)) as client:
        # good codes, malformed codes and unknown initiatives are not failures of the code limit
        for code in world.codes[:8]:
            assert client.post(C, json={"code": code}).status_code == 200
        for _ in range(5):
            assert client.post(C, json={"code": "ABC"}).status_code == 422
            assert client.post(P, json={"code": world.codes[0], "initiative_id": 987_654}).status_code == 404
        pledged = client.post(P, json={"code": world.codes[0], "initiative_id": world.initiative_id})
        assert pledged.status_code == 201
        assert failure_counts(db) == {}

        statuses = [
            client.post(C, json={"code": unknown_code()}).status_code,
            client.post(P, json={"code": unknown_code(), "initiative_id": world.initiative_id}).status_code,
            client.post(C, json={"code": unknown_code()}).status_code,
        ]
        assert statuses == [404, 404, 404]
        before = snapshot(db)
        failures = failure_counts(db)
        assert failures == {f"voucher-code:client:{CLIENT}": 3, "voucher-code:total": 3}

        for language, title in (("nl", TooManyAttempts.title), ("en", TooManyAttempts.title_en)):
            for path, body in (
                (C, {"code": unknown_code()}),
                (C, {"code": world.codes[1]}),  # a good code too: this client is stopped for now
                (P, {"code": world.codes[1], "initiative_id": world.initiative_id}),
            ):
                response = client.post(path, json=body, headers={"Accept-Language": language})
                assert response.status_code == 429, response.text
                assert response.headers["content-type"] == PROBLEM_JSON
                retry_after = int(response.headers["Retry-After"])
                assert 1 <= retry_after <= 600
                problem = response.json()
                assert problem["type"] == "/problems/too-many-attempts"
                assert problem["status"] == 429
                assert problem["title"] == title
                assert str(retry_after) in problem["detail"]
        assert problem["detail"] == f"Too many wrong codes were tried. Try again in {retry_after} seconds."
        # refused before looking: nothing changed, not even the counters
        assert snapshot(db) == before
        assert failure_counts(db) == failures
        assert_ledger_ok(db)


def test_total_limit_stops_every_client(limited: tuple[Settings, Database, World]) -> None:
    conf, db, world = limited
    # two app processes on one database, as behind a load balancer
    with (
        TestClient(create_app(conf, db), client=("192.0.2.1", 40000)) as first,
        TestClient(create_app(conf, db), client=("192.0.2.2", 40000)) as second,
    ):
        assert [first.post(C, json={"code": unknown_code()}).status_code for _ in range(4)] == [
            404,
            404,
            404,
            429,
        ]
        assert [second.post(C, json={"code": unknown_code()}).status_code for _ in range(3)] == [
            404,
            404,
            429,
        ]
        assert failure_counts(db) == {
            "voucher-code:client:192.0.2.1": 3,
            "voucher-code:client:192.0.2.2": 2,
            "voucher-code:total": 5,
        }
        # a third client that never failed is stopped too once the total is reached
        with TestClient(create_app(conf, db), client=("192.0.2.3", 40000)) as third:
            response = third.post(C, json={"code": world.codes[0]})
            assert response.status_code == 429
            assert int(response.headers["Retry-After"]) >= 1
            assert response.json()["title"] == "Te veel pogingen"


def test_wrong_method_names_the_allowed_ones(env: Env) -> None:
    for method, path, allowed in (
        ("GET", P, {"POST"}),
        ("DELETE", C, {"POST"}),
        ("POST", "/api/v1/initiatives", {"GET"}),
    ):
        response = env.client.request(method, path)
        assert response.status_code == 405
        assert {part.strip() for part in response.headers["Allow"].split(",")} == allowed, path
        assert response.headers["content-type"] == PROBLEM_JSON
