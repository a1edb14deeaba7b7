"""Automatic news: an initiative that is published, and one that reaches its target (by a voucher pledge or
by a Stripe donation), gets one item in its area's news, never two."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database
from app.initiatives.service import NewInitiative, announce, create_initiative, record_funded, transition
from app.kit.clock import today
from app.models import InitiativeStatus, NewsItem, NewsKind
from tests.donation_helpers import ledger_ok, paid_donation
from tests.factories import World, area_id, make_initiative
from tests.stripe_fake import StripeFake
from tests.stripe_fixtures import stripe_settings


def items(db: Database, initiative_id: int) -> list[NewsItem]:
    with db.read() as session:
        return list(
            session.scalars(
                select(NewsItem).where(NewsItem.initiative_id == initiative_id).order_by(NewsItem.id)
            )
        )


def kinds(db: Database, initiative_id: int) -> list[str]:
    return [item.kind for item in items(db, initiative_id)]


def feed_titles(client: TestClient, code: str) -> list[str]:
    return [item["title"] for item in client.get(f"/feeds/{code}.json").json()["items"]]


def test_publishing_adds_one_item(client: TestClient, db: Database, world: World) -> None:
    [published] = items(db, world.initiative_id)
    assert published.kind == NewsKind.published
    assert published.title == "Nieuw initiatief: Nieuwe bankjes in het park"
    assert "€ 50,00" in published.body
    with db.read() as session:
        assert published.area_id == area_id(session, "BU01411000")
    assert not published.hidden
    assert "Nieuw initiatief: Nieuwe bankjes in het park" in feed_titles(client, "BU01411000")


def test_changes_requested_then_published_adds_one_item(
    db: Database, settings: Settings, world: World
) -> None:
    day = today()

    def create(session: Session) -> int:
        return create_initiative(
            session,
            NewInitiative(
                title="Moestuin aan de Wierdensestraat",
                area_code="BU01411001",
                target_cents=8_000,
                deadline=day + timedelta(days=30),
                summary="Samen groente kweken op het braakliggende stuk.",
            ),
            settings=settings,
            actor="test",
            today=day,
        )

    initiative_id = db.run_write(create)
    for target in (
        InitiativeStatus.submitted,
        InitiativeStatus.changes_requested,
        InitiativeStatus.submitted,
    ):
        db.run_write(lambda s, t=target: transition(s, initiative_id, t, actor="test", today=day))
        assert kinds(db, initiative_id) == []
    db.run_write(lambda s: transition(s, initiative_id, InitiativeStatus.published, actor="test", today=day))
    [item] = items(db, initiative_id)
    assert item.kind == NewsKind.published
    assert item.body.startswith("Samen groente kweken op het braakliggende stuk.")
    # asked again (a second path that publishes, a retry): still one
    assert db.run_write(lambda s: announce(s, initiative_id, NewsKind.published)) is None
    assert kinds(db, initiative_id) == ["published"]


def test_a_pledge_that_reaches_the_target_adds_a_funded_item(
    client: TestClient, db: Database, world: World
) -> None:
    status = ""
    for code in world.codes:
        response = client.post("/api/v1/pledges", json={"code": code, "initiative_id": world.initiative_id})
        assert response.status_code == 201, response.text
        status = response.json()["initiative"]["status"]
        if status == "funded":
            break
        assert kinds(db, world.initiative_id) == ["published"]
    assert status == "funded"
    published, funded = items(db, world.initiative_id)
    assert (published.kind, funded.kind) == ("published", "funded")
    assert funded.title == "Doel gehaald: Nieuwe bankjes in het park"
    assert "€ 50,00" in funded.body
    assert feed_titles(client, "BU01411000")[0] == "Doel gehaald: Nieuwe bankjes in het park"
    # the automatic step recorded again (it is not, but if it were): no second item
    db.run_write(lambda s: record_funded(s, world.initiative_id, actor="test"))
    assert kinds(db, world.initiative_id) == ["published", "funded"]


def test_a_pledge_that_does_not_reach_the_target_adds_nothing(
    client: TestClient, db: Database, world: World
) -> None:
    response = client.post(
        "/api/v1/pledges", json={"code": world.codes[0], "initiative_id": world.initiative_id}
    )
    assert response.status_code == 201
    assert kinds(db, world.initiative_id) == ["published"]


class TestFundedByDonation:
    @pytest.fixture
    def settings(self, database_url: str, stripe: StripeFake) -> Settings:
        return stripe_settings(database_url, stripe)

    def test_a_donation_that_reaches_the_target_adds_a_funded_item(
        self, client: TestClient, db: Database, stripe: StripeFake, world: World, settings: Settings
    ) -> None:
        initiative_id = db.run_write(
            lambda s: make_initiative(
                s, settings, area_code="BU01411800", target_cents=6_000, title="Speeltuin opknappen"
            )
        )
        paid_donation(client, db, stripe, initiative_id, 2_500)
        assert kinds(db, initiative_id) == ["published"]
        paid_donation(client, db, stripe, initiative_id, 4_000)  # past the target: donations may overshoot
        published, funded = items(db, initiative_id)
        assert (published.kind, funded.kind) == ("published", "funded")
        assert funded.title == "Doel gehaald: Speeltuin opknappen"
        assert "€ 65,00" in funded.body and "€ 60,00" in funded.body
        paid_donation(client, db, stripe, initiative_id, 1_000)
        assert kinds(db, initiative_id) == ["published", "funded"]
        assert "Doel gehaald: Speeltuin opknappen" in feed_titles(client, "WK014118")
        ledger_ok(db)
