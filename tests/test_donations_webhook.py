"""POST /webhooks/stripe: only genuine, fresh, first-time signed requests are accepted; events are stored
once and booked once, in any order; money that arrives is never lost and never counted twice."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.models import DonationStatus, InitiativeStatus
from tests.donation_helpers import (
    deliver,
    donation,
    events,
    initiative,
    ledger_ok,
    paid_donation,
    pay,
    start,
    state,
)
from tests.factories import World, make_initiative
from tests.stripe_fake import StripeFake, event_body, sign
from tests.stripe_fixtures import stripe_settings


@pytest.fixture
def settings(database_url: str, stripe: StripeFake) -> Settings:
    return stripe_settings(database_url, stripe)


def post(client: TestClient, body: bytes, header: str | None) -> object:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    return client.post("/webhooks/stripe", content=body, headers=headers)


# ------------------------------------------------------------------------------------- signatures


def test_a_genuine_event_books_the_payment(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id, 1_500)
    intent = pay(stripe, started)
    response = deliver(client, "payment_intent.succeeded", intent)
    assert response.status_code == 200
    assert response.json()["outcome"] == "booked"
    assert donation(db, started.public_id).status == DonationStatus.paid
    assert donation(db, started.public_id).payment_intent_id == intent["id"]
    assert initiative(db, world.initiative_id).donated_cents == 1_500
    ledger_ok(db)


@pytest.mark.parametrize(
    "make_header",
    [
        pytest.param(lambda body: None, id="missing"),
        pytest.param(lambda body: "", id="empty"),
        pytest.param(lambda body: sign(body, secret="whsec_someone_else"), id="forged-secret"),
        pytest.param(lambda body: sign(body + b" "), id="other-body"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 301), id="stale"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) + 3_600), id="future"),
        pytest.param(lambda body: "t=abc,v1=zz", id="garbage"),
        pytest.param(lambda body: "v1=" + sign(body).split("v1=")[1], id="no-timestamp"),
        pytest.param(lambda body: sign(body).replace("v1=", "v0="), id="old-scheme-only"),
    ],
)
def test_bad_signatures_are_refused_and_change_nothing(
    client: TestClient, db: Database, stripe: StripeFake, world: World, make_header: object
) -> None:
    started = start(db, world.initiative_id)
    intent = pay(stripe, started)
    body = event_body("payment_intent.succeeded", intent)
    before = state(db)
    response = post(client, body, make_header(body))  # type: ignore[operator]
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert response.headers["content-type"].startswith("application/problem+json")  # type: ignore[attr-defined]
    assert state(db) == before
    assert events(db) == []
    assert donation(db, started.public_id).status == DonationStatus.open


def test_a_replayed_request_is_refused(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id)
    intent = pay(stripe, started)
    body = event_body("payment_intent.succeeded", intent)
    header = sign(body)
    assert post(client, body, header).status_code == 200  # type: ignore[attr-defined]
    after_first = state(db)
    for _ in range(3):
        response = post(client, body, header)
        assert response.status_code == 400  # type: ignore[attr-defined]
        assert "replay" in response.json()["detail"]  # type: ignore[attr-defined]
    assert state(db) == after_first
    assert [e.deliveries for e in events(db)] == [1]
    assert initiative(db, world.initiative_id).donated_cents == 1_500


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"id": "evt_1"}',
        b'{"id": 5, "type": "x", "data": {"object": {}}}',
        b"\xff\xfe",
    ],
)
def test_signed_nonsense_is_refused(client: TestClient, db: Database, world: World, body: bytes) -> None:
    before = state(db)
    assert post(client, body, sign(body)).status_code == 400  # type: ignore[attr-defined]
    assert state(db) == before


# ------------------------------------------------------------------------------------- idempotency and order


def test_the_same_event_five_times_moves_the_money_once(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id, 2_000)
    intent = pay(stripe, started)
    now = int(time.time())
    outcomes = [
        # Stripe signs each delivery anew: a retry has its own timestamp.
        deliver(client, "payment_intent.succeeded", intent, event_id="evt_same", timestamp=now - n).json()[
            "outcome"
        ]
        for n in range(5)
    ]
    assert outcomes[0] == "booked"
    assert outcomes[1:] == ["already processed"] * 4
    assert [e.deliveries for e in events(db)] == [5]
    assert initiative(db, world.initiative_id).donated_cents == 2_000
    ledger_ok(db)


def test_checkout_completed_and_payment_succeeded_book_once_in_either_order(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    first, second = start(db, world.initiative_id, 1_000), start(db, world.initiative_id, 700)
    intent_a, intent_b = pay(stripe, first), pay(stripe, second)
    session_a, session_b = (
        stripe.public(stripe.sessions[first.session_id]),
        stripe.public(stripe.sessions[second.session_id]),
    )
    assert deliver(client, "checkout.session.completed", session_a).json()["outcome"] == "booked"
    assert (
        deliver(client, "payment_intent.succeeded", intent_a).json()["outcome"].startswith("already booked")
    )
    assert deliver(client, "payment_intent.succeeded", intent_b).json()["outcome"] == "booked"
    assert (
        deliver(client, "checkout.session.completed", session_b)
        .json()["outcome"]
        .startswith("already booked")
    )
    assert initiative(db, world.initiative_id).donated_cents == 1_700
    ledger_ok(db)


def test_a_late_success_after_a_failure_counts(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id)
    intent = pay(stripe, started)
    failed = {**intent, "status": "requires_payment_method", "amount_received": 0}
    assert deliver(client, "payment_intent.payment_failed", failed).json()["outcome"] == "failed"
    assert donation(db, started.public_id).status == DonationStatus.failed
    assert deliver(client, "payment_intent.succeeded", intent).json()["outcome"] == "booked"
    assert donation(db, started.public_id).status == DonationStatus.paid
    # … and a failure reported after the success changes nothing.
    assert deliver(client, "payment_intent.payment_failed", failed).json()["outcome"].startswith("ignored")
    assert donation(db, started.public_id).status == DonationStatus.paid
    assert initiative(db, world.initiative_id).donated_cents == 1_500
    ledger_ok(db)


def test_a_payment_after_the_page_expired_still_counts(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id)
    session = stripe.public(stripe.sessions[started.session_id])
    assert (
        deliver(client, "checkout.session.expired", {**session, "status": "expired"}).json()["outcome"]
        == "expired"
    )
    intent = pay(stripe, started)
    assert deliver(client, "payment_intent.succeeded", intent).json()["outcome"] == "booked"
    assert donation(db, started.public_id).status == DonationStatus.paid
    ledger_ok(db)


def test_events_for_payments_we_never_created_are_stored_and_ignored(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    stranger = {
        "id": "pi_stranger",
        "object": "payment_intent",
        "amount": 900,
        "amount_received": 900,
        "currency": "eur",
        "status": "succeeded",
        "metadata": {},
    }
    spoof = {**stranger, "id": "pi_spoof", "metadata": {"buurtkas_donation": "doesnotexist1234"}}
    assert (
        deliver(client, "payment_intent.succeeded", stranger).json()["outcome"] == "ignored: unknown payment"
    )
    assert deliver(client, "payment_intent.succeeded", spoof).json()["outcome"] == "ignored: unknown payment"
    assert deliver(client, "customer.created", {"id": "cus_1", "object": "customer"}).status_code == 200
    assert len(events(db)) == 3
    assert initiative(db, world.initiative_id).donated_cents == 0
    ledger_ok(db)


def test_a_payment_with_another_amount_or_currency_is_not_booked(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id, 1_500)
    intent = pay(stripe, started)
    for wrong in ({**intent, "amount_received": 150, "amount": 150}, {**intent, "currency": "usd"}):
        outcome = deliver(client, "payment_intent.succeeded", wrong).json()["outcome"]
        assert outcome.startswith("refused"), outcome
    assert donation(db, started.public_id).status == DonationStatus.open
    assert initiative(db, world.initiative_id).donated_cents == 0
    ledger_ok(db)


# ------------------------------------------------------------------------------------- past the target


def test_donations_fund_an_initiative_and_may_go_past_its_target(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    # The world's initiative needs € 50,00; a voucher gives € 7,50 first.
    pledge = client.post(
        "/api/v1/pledges", json={"code": world.codes[0], "initiative_id": world.initiative_id}
    )
    assert pledge.status_code == 201
    paid_donation(client, db, stripe, world.initiative_id, 4_000)
    assert initiative(db, world.initiative_id).status == InitiativeStatus.published
    paid_donation(client, db, stripe, world.initiative_id, 2_500)  # 75 + 4000 + 2500 > 5000
    funded = initiative(db, world.initiative_id)
    assert funded.status == InitiativeStatus.funded
    assert (funded.pledged_cents, funded.donated_cents) == (750, 6_500)
    # Still open for donations once funded; the pledge already made stays.
    paid_donation(client, db, stripe, world.initiative_id, 100)
    assert initiative(db, world.initiative_id).donated_cents == 6_600
    assert initiative(db, world.initiative_id).pledged_cents == 750
    ledger_ok(db)


# ------------------------------------------------------------------------------------- the API


def test_the_api_starts_a_donation(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    response = client.post(
        f"/api/v1/initiatives/{world.initiative_id}/donations", json={"amount_cents": 1_000}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["checkout_url"].startswith(stripe.api_base + "/pay/cs_test_")
    assert donation(db, body["donation_id"]).status == DonationStatus.open
    session = next(iter(stripe.sessions.values()))
    assert session["locale"] == "nl"
    assert session["payment_method_types"] == ["ideal", "card"]
    assert session["amount_total"] == 1_000 and session["currency"] == "eur"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"amount_cents": 99}, 422),
        ({"amount_cents": 50_001}, 422),
        ({"amount_cents": 0}, 422),
        ({"amount_cents": "1000"}, 422),
        ({"amount_cents": 1_000, "email": "not-an-address"}, 422),
        ({"amount_cents": 1_000, "donor_name": "x" * 71}, 422),
        ({"amount_cents": 1_000, "extra": 1}, 422),
        ({}, 422),
    ],
)
def test_the_api_refuses_bad_donations(
    client: TestClient, db: Database, stripe: StripeFake, world: World, body: dict[str, object], status: int
) -> None:
    before = state(db)
    response = client.post(f"/api/v1/initiatives/{world.initiative_id}/donations", json=body)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert state(db) == before
    assert stripe.sessions == {}


def test_the_api_refuses_unknown_hidden_and_closed_initiatives(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    from app.initiatives.service import transition
    from app.kit.clock import today

    assert client.post("/api/v1/initiatives/999999/donations", json={"amount_cents": 500}).status_code == 404
    paid_donation(client, db, stripe, world.initiative_id, 5_000)  # funded by one donor
    db.run_write(
        lambda s: transition(s, world.initiative_id, InitiativeStatus.completed, actor="test", today=today())
    )
    response = client.post(f"/api/v1/initiatives/{world.initiative_id}/donations", json={"amount_cents": 500})
    assert response.status_code == 409
    assert "geen donaties" in response.json()["detail"]
    hidden = db.run_write(lambda s: make_initiative(s, db.settings, publish=False))
    response = client.post(f"/api/v1/initiatives/{hidden}/donations", json={"amount_cents": 500})
    assert response.status_code == 404  # a draft's existence is not revealed


def test_stripe_unreachable_answers_503_and_charges_nothing(
    database_url: str, stripe: StripeFake, world: World, db: Database
) -> None:
    from app.main import create_app
    from tests.stripe_fake import free_port

    down = stripe_settings(database_url, stripe, stripe_api_base=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(down, db)) as other:
        response = other.post(
            f"/api/v1/initiatives/{world.initiative_id}/donations", json={"amount_cents": 500}
        )
    assert response.status_code == 503
    assert "niets afgeschreven" in response.json()["detail"]
    with db.read() as session:
        from sqlalchemy import select

        from app.models import Donation

        assert session.scalars(select(Donation.status)).all() == [DonationStatus.failed]


def test_a_huge_body_is_refused_without_storing_anything(
    client: TestClient, db: Database, world: World
) -> None:
    body = b'{"id": "evt_big", "type": "x", "data": {"object": {"pad": "' + b"x" * 300_000 + b'"}}}'
    before = state(db)
    response = post(client, body, sign(body))
    assert response.status_code == 400  # type: ignore[attr-defined]
    assert "too large" in response.json()["detail"]  # type: ignore[attr-defined]
    assert state(db) == before
