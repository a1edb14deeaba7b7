"""Donations under concurrency, on a real database: threads released together by a barrier."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.donations.gateway import build_gateway
from app.donations.refunds import process_refunds
from app.initiatives.service import transition
from app.kit.clock import today
from app.models import Donation, DonationStatus, InitiativeStatus, LedgerTransfer, TransferKind
from tests.donation_helpers import (
    deliver,
    donation,
    events,
    initiative,
    ledger_ok,
    paid_donation,
    pay,
    refund_of,
    start,
)
from tests.factories import World
from tests.race_helpers import overlapping, responses_only, run_together
from tests.stripe_fake import StripeFake
from tests.stripe_fixtures import stripe_settings

pytestmark = pytest.mark.race


@pytest.fixture
def settings(database_url: str, stripe: StripeFake) -> Settings:
    return stripe_settings(database_url, stripe)


def transfers(db: Database, kind: TransferKind) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).where(LedgerTransfer.kind == kind)) or 0)


def test_fifty_copies_of_one_succeeded_event_move_the_money_once(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id, 2_500)
    intent = pay(stripe, started)
    now = int(time.time())
    with overlapping(db, at_least=2):
        results = run_together(
            50,
            # The same event, each copy signed anew as Stripe does for every delivery.
            lambda i: deliver(
                client, "payment_intent.succeeded", intent, event_id="evt_fifty", timestamp=now - i
            ),
        )
    responses = responses_only(results)  # type: ignore[arg-type]
    assert {r.status_code for r in responses} == {200}
    assert sorted(r.json()["outcome"] for r in responses).count("booked") == 1
    assert [e.deliveries for e in events(db)] == [50]
    assert initiative(db, world.initiative_id).donated_cents == 2_500
    assert transfers(db, TransferKind.donation) == 1
    assert donation(db, started.public_id).status == DonationStatus.paid
    ledger_ok(db)


def test_many_different_events_for_one_payment_book_it_once(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id, 1_000)
    intent = pay(stripe, started)
    session = stripe.public(stripe.sessions[started.session_id])

    def send(i: int) -> object:
        if i % 2:
            return deliver(client, "payment_intent.succeeded", intent, event_id=f"evt_pi_{i}")
        return deliver(client, "checkout.session.completed", session, event_id=f"evt_cs_{i}")

    with overlapping(db, at_least=2):
        responses = responses_only(run_together(40, send))  # type: ignore[arg-type]
    assert {r.status_code for r in responses} == {200}
    assert [r.json()["outcome"] for r in responses].count("booked") == 1
    assert initiative(db, world.initiative_id).donated_cents == 1_000
    assert transfers(db, TransferKind.donation) == 1
    ledger_ok(db)


def test_refund_confirmations_and_the_tick_at_once_move_the_money_back_once(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started, _ = paid_donation(client, db, stripe, world.initiative_id, 1_500)
    db.run_write(
        lambda s: transition(s, world.initiative_id, InitiativeStatus.cancelled, actor="t", today=today())
    )
    stripe.refunds = "pending"
    gateway = build_gateway(db.settings)
    assert gateway is not None
    process_refunds(db, gateway)
    refund = refund_of(db, started.public_id)
    assert refund is not None and refund.stripe_refund_id
    confirmed = stripe.settle_refund(refund.stripe_refund_id, "succeeded")
    from datetime import timedelta

    from app.models.base import utcnow

    later = utcnow() + timedelta(hours=1)

    def act(i: int) -> object:
        if i % 5 == 0:
            return process_refunds(db, gateway, now=later)
        return deliver(client, "refund.updated", confirmed, event_id=f"evt_refund_{i}")

    with overlapping(db, at_least=2):
        results = run_together(30, act)
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert transfers(db, TransferKind.donation_refund) == 1
    assert donation(db, started.public_id).status == DonationStatus.refunded
    assert initiative(db, world.initiative_id).donated_cents == 0
    ledger_ok(db)


def test_donations_and_pledges_racing_for_the_target_never_block_or_overfund_pledges(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    # Target € 50,00: 12 vouchers of € 7,50 and 12 donations of € 5,00 arrive together.
    donations = [(start(db, world.initiative_id, 500)) for _ in range(12)]
    intents = [pay(stripe, d) for d in donations]

    def act(i: int) -> object:
        if i % 2:
            return client.post(
                "/api/v1/pledges", json={"code": world.codes[i], "initiative_id": world.initiative_id}
            )
        return deliver(client, "payment_intent.succeeded", intents[i // 2])

    with overlapping(db, at_least=2):
        responses = responses_only(run_together(24, act))  # type: ignore[arg-type]
    assert all(r.status_code in (200, 201, 409) for r in responses), [r.status_code for r in responses]
    final = initiative(db, world.initiative_id)
    # Every confirmed payment counts, whatever the target; voucher value never passes it.
    assert final.donated_cents == 12 * 500
    assert final.pledged_cents <= final.target_cents
    assert final.status == InitiativeStatus.funded
    ledger_ok(db)


def test_an_ending_racing_with_payments_leaves_no_paid_donation_unrefunded(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    donations = [start(db, world.initiative_id, 300) for _ in range(10)]
    intents = [pay(stripe, d) for d in donations]

    def act(i: int) -> object:
        if i == 10:
            return db.run_write(
                lambda s: transition(
                    s, world.initiative_id, InitiativeStatus.cancelled, actor="t", today=today()
                )
            )
        return deliver(client, "payment_intent.succeeded", intents[i])

    with overlapping(db, at_least=2):
        results = run_together(11, act)
    assert not [r for r in results if isinstance(r, BaseException)], results
    with db.read() as session:
        statuses = session.scalars(select(Donation.status)).all()
    assert sorted(statuses) == [DonationStatus.refunding] * 10
    ledger_ok(db)
    gateway = build_gateway(db.settings)
    assert gateway is not None
    assert process_refunds(db, gateway).succeeded == 10
    assert initiative(db, world.initiative_id).donated_cents == 0
    ledger_ok(db)
