"""When an initiative ends unfunded, its paid donations go back through Stripe: tracked until Stripe confirms,
retried when they fail, and only a confirmed refund moves money in the ledger."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.donations.gateway import build_gateway
from app.donations.refunds import process_refunds
from app.initiatives.service import transition
from app.kit.clock import today
from app.models import DonationStatus, InitiativeStatus, OutboxMessage, RefundStatus
from app.models.base import utcnow
from app.ticks import run_tick
from tests.cli_helpers import Cli
from tests.donation_helpers import (
    deliver,
    donation,
    initiative,
    ledger_ok,
    paid_donation,
    pay,
    refund_of,
    start,
)
from tests.factories import World
from tests.stripe_fake import StripeFake
from tests.stripe_fixtures import stripe_settings


@pytest.fixture
def settings(database_url: str, stripe: StripeFake) -> Settings:
    return stripe_settings(database_url, stripe)


def end(db: Database, initiative_id: int, status: InitiativeStatus = InitiativeStatus.cancelled) -> None:
    db.run_write(lambda s: transition(s, initiative_id, status, actor="test", reason="test", today=today()))


def refund_now(db: Database, **kw: object) -> object:
    gateway = build_gateway(db.settings)
    assert gateway is not None
    return process_refunds(db, gateway, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("ending", [InitiativeStatus.cancelled, InitiativeStatus.withdrawn])
def test_ending_unfunded_refunds_every_paid_donation(
    client: TestClient,
    db: Database,
    stripe: StripeFake,
    world: World,
    ending: InitiativeStatus,
    tmp_path: Path,
) -> None:
    first, _ = paid_donation(client, db, stripe, world.initiative_id, 1_500, email="donor@example.nl")
    second, _ = paid_donation(client, db, stripe, world.initiative_id, 2_000)
    unpaid = start(db, world.initiative_id, 900)
    end(db, world.initiative_id, ending)
    assert donation(db, first.public_id).status == DonationStatus.refunding
    assert refund_of(db, first.public_id).status == RefundStatus.requested  # type: ignore[union-attr]
    assert refund_of(db, unpaid.public_id) is None
    # The money stays on the initiative until Stripe confirms the refund.
    assert initiative(db, world.initiative_id).donated_cents == 3_500
    ledger_ok(db)

    report = refund_now(db)
    assert (report.sent, report.succeeded) == (2, 2)  # type: ignore[attr-defined]
    for started in (first, second):
        assert donation(db, started.public_id).status == DonationStatus.refunded
        refund = refund_of(db, started.public_id)
        assert refund is not None and refund.status == RefundStatus.succeeded
        assert stripe.refund(refund.stripe_refund_id or "")["status"] == "succeeded"  # Stripe has it too
    assert initiative(db, world.initiative_id).donated_cents == 0
    ledger_ok(db)
    with db.read() as session:
        subjects = session.scalars(
            select(OutboxMessage.subject).where(OutboxMessage.to_address == "donor@example.nl")
        ).all()
    assert any("teruggestort" in subject for subject in subjects)
    # Running again sends nothing more.
    assert refund_now(db).sent == 0  # type: ignore[attr-defined]
    assert Cli(db.settings.database_url, tmp_path)("ledger", "verify").returncode == 0


def test_the_tick_expires_and_refunds(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started, _ = paid_donation(client, db, stripe, world.initiative_id, 1_200)
    report = run_tick(db, today=today() + timedelta(days=40), actor="tick")
    assert world.initiative_id in report.initiatives_expired
    assert report.refunds is not None and report.refunds.succeeded == 1
    assert donation(db, started.public_id).status == DonationStatus.refunded
    ledger_ok(db)


def test_a_refused_refund_is_retried_later_and_visible(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started, _ = paid_donation(client, db, stripe, world.initiative_id)
    end(db, world.initiative_id)
    stripe.refunds = "error"
    report = refund_now(db)
    assert report.failed == 1 and "refused" in report.errors[0]  # type: ignore[attr-defined]
    refund = refund_of(db, started.public_id)
    assert refund is not None
    assert (refund.status, refund.failures) == (RefundStatus.requested, 1)
    assert "Refunds are refused" in refund.last_error
    assert refund.next_attempt_at is not None and refund.next_attempt_at > utcnow()
    assert initiative(db, world.initiative_id).donated_cents == 1_500  # nothing moved
    ledger_ok(db)
    # Not due yet: nothing is sent. Once due (and Stripe accepts), it goes through.
    stripe.refunds = "succeeded"
    assert refund_now(db).sent == 0  # type: ignore[attr-defined]
    assert refund_now(db, now=utcnow() + timedelta(hours=1)).succeeded == 1  # type: ignore[attr-defined]
    assert donation(db, started.public_id).status == DonationStatus.refunded
    ledger_ok(db)


def test_a_refund_stripe_reports_failed_is_made_again_with_a_new_key(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started, _ = paid_donation(client, db, stripe, world.initiative_id)
    end(db, world.initiative_id)
    stripe.refunds = "failed"
    refund_now(db)
    refund = refund_of(db, started.public_id)
    assert refund is not None
    assert (refund.status, refund.attempt, refund.failures) == (RefundStatus.failed, 2, 1)
    first_id = refund.stripe_refund_id
    stripe.refunds = "succeeded"
    refund_now(db, now=utcnow() + timedelta(hours=1))
    refund = refund_of(db, started.public_id)
    assert refund is not None and refund.status == RefundStatus.succeeded
    assert refund.stripe_refund_id != first_id
    ledger_ok(db)


def test_a_pending_refund_is_booked_when_stripe_confirms_it_once(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started, _ = paid_donation(client, db, stripe, world.initiative_id)
    end(db, world.initiative_id)
    stripe.refunds = "pending"
    assert refund_now(db).pending == 1  # type: ignore[attr-defined]
    refund = refund_of(db, started.public_id)
    assert refund is not None and refund.status == RefundStatus.pending
    assert initiative(db, world.initiative_id).donated_cents == 1_500
    ledger_ok(db)
    confirmed = stripe.settle_refund(refund.stripe_refund_id or "", "succeeded")
    stale = {**confirmed, "status": "pending"}
    for _ in range(3):
        assert deliver(client, "refund.updated", confirmed).status_code == 200
    assert deliver(client, "refund.updated", stale).json()["outcome"] == "refund succeeded"
    assert donation(db, started.public_id).status == DonationStatus.refunded
    assert initiative(db, world.initiative_id).donated_cents == 0
    ledger_ok(db)


def test_a_pending_refund_is_looked_up_when_no_webhook_comes(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started, _ = paid_donation(client, db, stripe, world.initiative_id)
    end(db, world.initiative_id)
    stripe.refunds = "pending"
    refund_now(db)
    refund = refund_of(db, started.public_id)
    assert refund is not None
    stripe.settle_refund(refund.stripe_refund_id or "", "succeeded")
    assert refund_now(db).succeeded == 0  # type: ignore[attr-defined]  # not due yet
    assert refund_now(db, now=utcnow() + timedelta(minutes=20)).succeeded == 1  # type: ignore[attr-defined]
    assert donation(db, started.public_id).status == DonationStatus.refunded
    ledger_ok(db)


def test_a_payment_that_arrives_after_the_end_is_recorded_and_refunded(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    started = start(db, world.initiative_id, 800)
    end(db, world.initiative_id, InitiativeStatus.cancelled)
    intent = pay(stripe, started)  # the donor was still on Stripe's page
    outcome = deliver(client, "payment_intent.succeeded", intent).json()["outcome"]
    assert outcome == "booked; initiative has ended, refund queued"
    assert donation(db, started.public_id).status == DonationStatus.refunding
    ledger_ok(db)
    refund_now(db)
    assert donation(db, started.public_id).status == DonationStatus.refunded
    assert initiative(db, world.initiative_id).status == InitiativeStatus.cancelled
    ledger_ok(db)


def test_refund_events_for_refunds_we_never_made_are_ignored(
    client: TestClient, db: Database, stripe: StripeFake, world: World
) -> None:
    for metadata in ({}, {"key": "buurtkas-refund-999-1"}, {"key": "buurtkas-refund-x-1"}, {"key": 5}):
        obj = {"id": "re_x", "object": "refund", "status": "succeeded", "amount": 100, "metadata": metadata}
        assert deliver(client, "refund.updated", obj).json()["outcome"].startswith("ignored")
    ledger_ok(db)
