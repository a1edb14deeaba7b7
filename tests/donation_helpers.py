"""Helpers for donation tests: start a donation against the local Stripe, pay it, deliver signed events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx2
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.db import Database
from app.donations import service
from app.donations.gateway import build_gateway
from app.ledger.verify import verify_ledger
from app.models import Donation, DonationRefund, Initiative, StripeEvent
from tests.stripe_fake import StripeFake, event_body, sign


@dataclass
class Started:
    public_id: str
    session_id: str


def start(db: Database, initiative_id: int, amount_cents: int = 1_500, **extra: Any) -> Started:
    public_id, checkout = service.start_donation(
        db,
        build_gateway(db.settings),
        initiative_id,
        service.DonationRequest(amount_cents=amount_cents, **extra),
    )
    return Started(public_id=public_id, session_id=checkout.session_id)


def pay(stripe: StripeFake, started: Started) -> dict[str, Any]:
    """Pay at the fake Stripe; returns the PaymentIntent (as Stripe would put it in an event)."""
    session = stripe.pay(started.session_id)
    return stripe.payment_intent(session["payment_intent"])


def deliver(
    client: TestClient | httpx2.Client,
    kind: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    timestamp: int | None = None,
) -> httpx2.Response:
    body = event_body(kind, obj, event_id=event_id)
    return client.post(
        "/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": sign(body, timestamp=timestamp), "Content-Type": "application/json"},
    )


def paid_donation(
    client: TestClient,
    db: Database,
    stripe: StripeFake,
    initiative_id: int,
    amount_cents: int = 1_500,
    **extra: Any,
) -> tuple[Started, dict[str, Any]]:
    started = start(db, initiative_id, amount_cents, **extra)
    intent = pay(stripe, started)
    response = deliver(client, "payment_intent.succeeded", intent)
    assert response.status_code == 200, response.text
    return started, intent


def donation(db: Database, public_id: str) -> Donation:
    with db.read() as session:
        return session.execute(select(Donation).where(Donation.public_id == public_id)).scalar_one()


def refund_of(db: Database, public_id: str) -> DonationRefund | None:
    with db.read() as session:
        return session.execute(
            select(DonationRefund).join(Donation).where(Donation.public_id == public_id)
        ).scalar_one_or_none()


def initiative(db: Database, initiative_id: int) -> Initiative:
    with db.read() as session:
        found = session.get(Initiative, initiative_id)
        assert found is not None
        return found


def events(db: Database) -> list[StripeEvent]:
    with db.read() as session:
        return list(session.scalars(select(StripeEvent).order_by(StripeEvent.id)))


def ledger_ok(db: Database) -> None:
    with db.read() as session:
        report = verify_ledger(session)
    assert report.violations == [], report.violations
    assert report.total_cents == 0


def state(db: Database) -> str:
    """Everything money-related, to show that a refused request changed nothing."""
    with db.read() as session:
        rows = {
            "donations": session.execute(select(Donation.public_id, Donation.status)).all(),
            "events": session.execute(select(StripeEvent.event_id, StripeEvent.deliveries)).all(),
            "initiatives": session.execute(
                select(Initiative.id, Initiative.donated_cents, Initiative.status)
            ).all(),
        }
    return json.dumps({k: [list(map(str, r)) for r in v] for k, v in rows.items()})
