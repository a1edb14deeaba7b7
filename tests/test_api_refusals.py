"""Bad input of every kind gets a clear 4xx problem (Dutch by default, English on request) and changes nothing.

The tests share one world per backend (module scope, built by `tests.api_cases.open_env`): every refusal is
checked to leave the database exactly as it was, so sharing is sound, and a refusal that did change something
fails its own test. Tests that do move money take their own voucher codes from the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.errors import InvalidInput
from app.kit.codes import ALPHABET
from app.kit.idempotency import IdempotencyKeyReused
from tests.api_cases import (
    EMPTY,
    EXPIRED,
    FUNDED,
    INSUFFICIENT,
    INVALID,
    MALFORMED,
    MISSING,
    NO_AREA,
    NO_INITIATIVE,
    NO_METHOD,
    NO_ROUTE,
    PROBLEM_JSON,
    REPLACED,
    TOO_SMALL,
    UNKNOWN_CODE,
    UNREADABLE,
    C,
    Env,
    Expected,
    P,
    assert_refused,
    open_env,
    pledge_body,
    problem_of,
    unknown_code,
)
from tests.databases import PostgresFactory, SqliteFactory
from tests.dbstate import snapshot


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(
    request: pytest.FixtureRequest, sqlite_factory: SqliteFactory, postgres_factory: PostgresFactory | None
) -> Iterator[Env]:
    yield from open_env(str(request.param), sqlite_factory, postgres_factory)


# --- the cases ------------------------------------------------------------------------------------------


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


def bad_check_symbol(code: str) -> str:
    plain = code.replace("-", "")
    wrong = ALPHABET[(ALPHABET.index(plain[-1]) + 1) % len(ALPHABET)]
    return plain[:-1] + wrong


LONG_KEY = "k" * 256

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
