"""Without a Stripe key, donations are off: their routes answer 404 with a clear message, all else works."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.config import Settings
from app.db import Database
from app.kit.clock import today
from app.ticks import run_tick
from tests.factories import World
from tests.stripe_fake import event_body, sign


def test_the_donation_api_answers_404_with_a_clear_message(client: TestClient, world: World) -> None:
    response = client.post(f"/api/v1/initiatives/{world.initiative_id}/donations", json={"amount_cents": 500})
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/donations-off"
    assert "niet ingeschakeld" in response.json()["detail"]
    english = client.post(
        f"/api/v1/initiatives/{world.initiative_id}/donations",
        json={"amount_cents": 500},
        headers={"Accept-Language": "en"},
    )
    assert "not switched on" in english.json()["detail"]


def test_the_webhook_answers_404(client: TestClient, world: World) -> None:
    body = event_body("payment_intent.succeeded", {"id": "pi_1", "object": "payment_intent"})
    response = client.post("/webhooks/stripe", content=body, headers={"Stripe-Signature": sign(body)})
    assert response.status_code == 404
    assert response.json()["type"] == "/problems/donations-off"


def test_pledges_and_the_tick_work_without_stripe(client: TestClient, db: Database, world: World) -> None:
    pledge = client.post(
        "/api/v1/pledges", json={"code": world.codes[0], "initiative_id": world.initiative_id}
    )
    assert pledge.status_code == 201
    report = run_tick(db, today=today(), actor="tick")
    assert report.ran and report.refunds is None


def test_a_key_without_a_webhook_secret_refuses_to_start() -> None:
    with pytest.raises(ValidationError, match="STRIPE_WEBHOOK_SECRET"):
        Settings(_env_file=None, stripe_api_key="sk_test_x")  # type: ignore[call-arg]
