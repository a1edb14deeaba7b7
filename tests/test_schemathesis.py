"""Schemathesis over the whole OpenAPI document (issue 9): no server error, every response as documented.

Every operation in /openapi.json is fuzzed (its examples, then generated valid and invalid requests), and a
state machine chains operations through the links Schemathesis infers (an initiative's id from the list to
its page, to a pledge, to a donation). Each response must be no 5xx, a documented status code and content
type, and a body that matches its schema.

The app runs on a real database per backend (module scope) with Stripe's local fake switched on, so the
donation routes work too. Generated values alone would almost never hit a real area, initiative or voucher,
so hooks plant real ones (from the world built here) in many requests, and test_real_values sends each of
them once on every operation that takes it. The failed-code limits are raised so the fuzzer is not answered
with 429 alone; the limits have their own tests (tests/test_api_ratelimit.py) and their 429 is documented.

Schemathesis's coverage phase is off (it crashes inside Schemathesis 4.32 on Python 3.11, see CONFIG).
"""

from __future__ import annotations

import copy
import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis import Case, HookContext
from schemathesis.config import SchemathesisConfig
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.kit.clock import today as amsterdam_today
from app.kit.codes import MalformedCode, format_code, normalize_code
from app.main import create_app
from app.pledges.service import create_pledge
from app.vouchers.schemas import CODE_PATTERN
from app.vouchers.service import lookup, reissue
from tests.databases import PostgresFactory, SqliteFactory, test_settings
from tests.factories import AREAS, build_world, issue_period, make_initiative
from tests.stripe_fake import StripeFake
from tests.stripe_fixtures import stripe_settings

CONFIG = SchemathesisConfig.from_dict(
    {
        "phases": {
            "examples": {"enabled": True},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": True},
            # Off: on Python 3.11 Schemathesis 4.32 crashes building this phase's cases ("AST constructor
            # recursion depth mismatch"), inside Schemathesis, before any request is sent.
            "coverage": {"enabled": False},
        },
        "generation": {"mode": "all"},  # valid requests and invalid ones: neither may cause a 5xx
        "checks": {
            "enabled": False,
            "not_a_server_error": {"enabled": True},
            "status_code_conformance": {"enabled": True},
            "content_type_conformance": {"enabled": True},
            "response_schema_conformance": {"enabled": True},
        },
    }
)

FUZZ = hypothesis.settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
STATEFUL = hypothesis.settings(FUZZ, max_examples=20, stateful_step_count=6)


# Schemathesis makes one test per operation when the module is collected, so the document is read then;
# the requests go to each backend's app (the `api` fixture), which must serve the same document.
def served_document() -> dict[str, Any]:
    """The document the app serves; it is built from the routes alone, so any settings give the same."""
    return create_app(test_settings("sqlite:///unused.db")).openapi()


DOCUMENT = served_document()
# A copy: Schemathesis adds the links it infers to the document it is given.
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG)


# --- one world per backend ---------------------------------------------------------------------------------


@dataclass
class Api:
    app: FastAPI
    db: Database
    settings: Settings
    codes: list[str]  # vouchers of every kind: fresh, spent, expired, replaced, a replacement
    initiative_ids: list[int]  # open, funded and draft (the draft is not public: 404)
    donation_bounds: tuple[int, int]


LIVE: list[Api] = []
"""The world of the backend under test, for the hooks below (one backend's module fixture at a time)."""


def build_api(db: Database, conf: Settings) -> Api:
    world = build_world(db, conf)
    today = amsterdam_today()

    def setup(session: Session) -> tuple[list[int], tuple[str, str]]:
        funded = make_initiative(session, conf, target_cents=1_500, title="Al gehaald")
        for code in world.codes[:2]:
            create_pledge(
                session, code=code, initiative_id=funded, amount_cents=None, settings=conf, today=today
            )
        draft = make_initiative(session, conf, publish=False, title="Nog een concept")
        _new_id, replacement = reissue(
            session, voucher_id=lookup(session, world.codes[2]).id, actor="test", today=today
        )
        expired = issue_period(  # a voucher of a period that has ended
            session,
            name="Najaar 2025",
            today=today - timedelta(days=200),
            starts_on=today - timedelta(days=200),
            ends_on=today - timedelta(days=100),
        )
        return [world.initiative_id, funded, draft], (replacement, next(iter(expired.values())))

    initiative_ids, (replacement, expired) = db.run_write(setup)
    spent, replaced = world.codes[0], world.codes[2]
    fresh = world.codes[3:]
    return Api(
        app=create_app(conf, db),
        db=db,
        settings=conf,
        # One of each kind and a few fresh ones: Hypothesis rarely picks far down a long list.
        codes=[fresh[0], replacement, expired, replaced, spent, *fresh[1:6]],
        initiative_ids=initiative_ids,
        donation_bounds=(conf.donation_min_cents, conf.donation_max_cents),
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest,
    sqlite_factory: SqliteFactory,
    postgres_factory: PostgresFactory | None,
    stripe_server: StripeFake,
) -> Iterator[Api]:
    factory: SqliteFactory | PostgresFactory
    if request.param == "postgresql":
        if postgres_factory is None:
            pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run this backend")
        factory = postgres_factory
    else:
        factory = sqlite_factory
    url = factory.create()
    conf = stripe_settings(
        url,
        stripe_server,
        code_failures_per_client=1_000_000,
        code_failures_total=1_000_000,
        initiative_min_target_cents=1_000,  # so two vouchers fund one
    )
    db = Database(conf)
    stripe_server.reset()
    built = build_api(db, conf)
    assert built.app.openapi() == DOCUMENT
    LIVE.append(built)
    yield built
    LIVE.remove(built)
    stripe_server.reset()
    db.dispose()
    factory.drop(url)


# --- real values in generated requests ---------------------------------------------------------------------

AREA_CODES = [code for code, *_ in AREAS]


def _planted_in(
    values: dict[str, Any], planted: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """Each planted value or the generated one (planted first: Hypothesis favours the first branch)."""
    return st.fixed_dictionaries(
        {
            name: st.one_of(planted[name], st.just(value)) if name in planted else st.just(value)
            for name, value in values.items()
        }
    )


def _real_code(api: Api) -> st.SearchStrategy[str]:
    return st.sampled_from(api.codes).flatmap(
        lambda code: st.sampled_from([code, format_code(code), format_code(code).lower()])
    )


@SCHEMA.hook
def flatmap_path_parameters(
    context: HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    if not path_parameters:
        return st.just(path_parameters)
    planted: dict[str, st.SearchStrategy[Any]] = {}
    if "code" in path_parameters:
        planted["code"] = st.sampled_from(AREA_CODES + [code.lower() for code in AREA_CODES])
    if "initiative_id" in path_parameters and LIVE:
        planted["initiative_id"] = st.sampled_from(LIVE[-1].initiative_ids)
    return _planted_in(path_parameters, planted)


@SCHEMA.hook
def flatmap_body(context: HookContext, body: Any) -> st.SearchStrategy[Any]:
    if not isinstance(body, dict) or not LIVE:
        return st.just(body)
    api = LIVE[-1]
    planted: dict[str, st.SearchStrategy[Any]] = {}
    if isinstance(body.get("code"), str):
        planted["code"] = _real_code(api)
    if isinstance(body.get("initiative_id"), int):
        planted["initiative_id"] = st.sampled_from(api.initiative_ids)
    if isinstance(body.get("amount_cents"), int):
        if context.operation.path.endswith("/donations"):
            planted["amount_cents"] = st.integers(*api.donation_bounds)
        else:  # a pledge: around a voucher's € 7,50 and the € 1,00 minimum
            planted["amount_cents"] = st.integers(50, 1_000)
    return _planted_in(body, planted)


# --- the tests ---------------------------------------------------------------------------------------------


@SCHEMA.parametrize()
@FUZZ
def test_every_operation(case: Case, api: Api) -> None:
    case.call_and_validate(app=api.app)


def test_stateful(api: Api) -> None:
    """Sequences along the links Schemathesis infers from the document: from the areas to an area's news,
    from the list, the news or an initiative's page to that initiative's page, a pledge or a donation."""

    class Machine(SCHEMA.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"app": api.app}

    Machine.run(settings=STATEFUL)


def real_cases(api: Api) -> Iterator[Case]:
    """Every real area, initiative and kind of voucher once on each operation that takes it; the fuzzer
    above plants them too, but Hypothesis may leave some out."""
    for template in (
        "/api/v1/areas/{code}/news",
        "/feeds/{code}.atom",
        "/feeds/{code}.rss",
        "/feeds/{code}.json",
    ):
        for code in AREA_CODES:
            yield SCHEMA[template]["GET"].Case(path_parameters={"code": code})
    listing = SCHEMA["/api/v1/initiatives"]["GET"]
    for code in AREA_CODES:
        yield listing.Case(query={"area": code})
    for status in ("published", "funded", "completed"):
        yield listing.Case(query={"status": status})
    low, _high = api.donation_bounds
    for initiative_id in api.initiative_ids:
        yield SCHEMA["/api/v1/initiatives/{initiative_id}"]["GET"].Case(
            path_parameters={"initiative_id": initiative_id}
        )
        yield SCHEMA["/api/v1/initiatives/{initiative_id}/donations"]["POST"].Case(
            path_parameters={"initiative_id": initiative_id}, body={"amount_cents": low}
        )
    for code in api.codes:
        yield SCHEMA["/api/v1/vouchers/check"]["POST"].Case(body={"code": code})
    for initiative_id in api.initiative_ids:
        for code in api.codes:
            body = {"code": code, "initiative_id": initiative_id, "amount_cents": 100}
            yield SCHEMA["/api/v1/pledges"]["POST"].Case(body=body)


def test_real_values(api: Api) -> None:
    for case in real_cases(api):
        case.call_and_validate(app=api.app)


def test_donations_switched_off(api: Api) -> None:
    """Without a Stripe key the donation routes answer 404, as documented."""
    off = create_app(api.settings.model_copy(update={"stripe_api_key": ""}), api.db)
    donate = SCHEMA["/api/v1/initiatives/{initiative_id}/donations"]["POST"]
    cases = [
        donate.Case(path_parameters={"initiative_id": api.initiative_ids[0]}, body={"amount_cents": 500}),
        SCHEMA["/webhooks/stripe"]["POST"].Case(),
    ]
    for case in cases:
        assert case.call_and_validate(app=off).status_code == 404


# Codes and near misses: 13 to 15 letters or digits (U too), each followed by a few separators or none.
NEAR_CODES = st.lists(
    st.tuples(st.sampled_from(string.ascii_letters + string.digits), st.text(" -_.\t\n\r", max_size=2)),
    min_size=13,
    max_size=15,
).map(lambda parts: "".join(symbol + separator for symbol, separator in parts))


@hypothesis.settings(max_examples=300, deadline=None, derandomize=True, database=None)
@hypothesis.given(st.one_of(NEAR_CODES, st.text(st.characters(codec="ascii"), max_size=64)))
def test_documented_code_pattern_is_what_the_service_reads(text: str) -> None:
    """ASCII text matches the documented pattern exactly when normalize_code takes it or refuses only its
    check symbol."""
    try:
        normalize_code(text)
        readable = True
    except MalformedCode as exc:
        readable = str(exc) == "check symbol does not match"
    assert readable == bool(re.search(CODE_PATTERN, text))
