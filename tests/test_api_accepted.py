"""What the API accepts: codes typed sloppily, amounts above what is still needed (lowered) or that empty a
voucher; and a fuzz test: whatever JSON arrives, never a 500 and never a moved cent.

The tests share one world per backend (module scope, built by `tests.api_cases.open_env`): every refusal is
checked to leave the database exactly as it was, so sharing is sound, and a refusal that did change something
fails its own test. Tests that do move money take their own voucher codes from the pool.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app.kit.codes import ALPHABET
from app.pledges.service import PledgeTooSmall
from tests.api_cases import EMPTY, FUNDED, PROBLEM_JSON, C, Env, Expected, P, assert_refused, open_env
from tests.databases import PostgresFactory, SqliteFactory
from tests.dbstate import assert_ledger_ok, failure_counts, snapshot


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def env(
    request: pytest.FixtureRequest, sqlite_factory: SqliteFactory, postgres_factory: PostgresFactory | None
) -> Iterator[Env]:
    yield from open_env(str(request.param), sqlite_factory, postgres_factory)


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
