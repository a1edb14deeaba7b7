"""The administrators' payments page (`/staff/payments`) against the local Stripe: refunds that did not go
through (with "Nu opnieuw proberen"), Stripe events that went wrong, the latest donations with totals and
the Stripe clearing account. Directors get 403; bad ids and a missing CSRF token are clear 4xx answers that
change nothing; without a Stripe key the page says so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.donations import events
from app.donations.gateway import StripeGateway, build_gateway
from app.donations.refunds import process_refunds
from app.donations.service import DonationRequest, start_donation
from app.initiatives.service import transition
from app.kit.clock import today
from app.ledger.verify import verify_ledger
from app.main import create_app
from app.models import (
    AuditEvent,
    Donation,
    DonationRefund,
    DonationStatus,
    InitiativeStatus,
    RefundStatus,
    StripeEvent,
)
from app.models.base import utcnow
from tests.databases import test_settings
from tests.dbstate import snapshot
from tests.factories import World, build_world, make_initiative
from tests.pages_helpers import alert_text, form_fields, soup
from tests.staff_helpers import make_staff, staff_browser
from tests.stripe_fake import StripeFake, event_body, sign
from tests.stripe_fixtures import stripe_settings

PAGE = "/staff/payments"
VOLATILE = ("rate_counters", "staff_sessions", "audit_events")


@pytest.fixture
def settings(database_url: str, stripe: StripeFake) -> Settings:
    return stripe_settings(database_url, stripe)


@pytest.fixture
def world(db: Database, settings: Settings) -> World:
    return build_world(db, settings, households=3)


@pytest.fixture
def gateway(settings: Settings) -> StripeGateway:
    found = build_gateway(settings)
    assert found is not None
    return found


@pytest.fixture
def admin(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return staff_browser(
        client, db, make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    )


@pytest.fixture
def director(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return staff_browser(
        client, db, make_staff(db, settings, email="regisseur@almelo.nl", wijken=("WK014110",))
    )


def paid(db: Database, gateway: StripeGateway, stripe: StripeFake, initiative_id: int, cents: int) -> str:
    """A donation paid and booked the production way (a signed webhook); returns its public id."""
    public_id, checkout = start_donation(db, gateway, initiative_id, DonationRequest(amount_cents=cents))
    payment = stripe.pay(checkout.session_id)["payment_intent"]
    body = event_body("payment_intent.succeeded", stripe.payment_intent(payment))
    assert events.receive(db, body, sign(body)) == "booked"
    return public_id


@pytest.fixture
def failed_refund(
    db: Database, settings: Settings, gateway: StripeGateway, stripe: StripeFake, world: World
) -> int:
    """A donation to an initiative that was cancelled; Stripe refused its refund. Returns the refund id."""
    with db.write() as session:
        cancelled = make_initiative(session, settings, title="Buurtfeest gaat niet door")
    paid(db, gateway, stripe, cancelled, 2500)
    with db.write() as session:
        transition(
            session,
            cancelled,
            InitiativeStatus.cancelled,
            actor="test",
            reason="te weinig hulp",
            today=today(),
        )
    stripe.refunds = "error"
    report = process_refunds(db, gateway)
    assert report.failed == 1, report
    with db.read() as session:
        return int(session.execute(select(DonationRefund.id)).scalar_one())


def retry_form(page: Any, refund_id: int) -> dict[str, str]:
    return form_fields(page, f"/staff/payments/refunds/{refund_id}/retry")


def refund_row(db: Database, refund_id: int) -> DonationRefund:
    with db.read() as session:
        row = session.get(DonationRefund, refund_id)
        assert row is not None
        session.expunge(row)
        return row


def test_the_admin_sees_the_three_sections(
    admin: TestClient,
    db: Database,
    gateway: StripeGateway,
    stripe: StripeFake,
    world: World,
    failed_refund: int,
) -> None:
    paid(db, gateway, stripe, world.initiative_id, 1500)
    start_donation(db, gateway, world.initiative_id, DonationRequest(amount_cents=800))  # open, unpaid
    # an event refused (Stripe reports another amount) and one stuck unprocessed for five minutes
    wrong = event_body(
        "payment_intent.succeeded",
        {
            "id": "pi_raar",
            "object": "payment_intent",
            "amount_received": 1,
            "currency": "eur",
            "metadata": {"buurtkas_donation": _public_ids(db)[0]},
        },
    )
    assert events.receive(db, wrong, sign(wrong)).startswith("refused")
    with db.write() as session:
        session.add(
            StripeEvent(
                event_id="evt_blijft_hangen",
                type="charge.refund.updated",
                payload="{}",
                received_at=utcnow() - timedelta(minutes=5),
                deliveries=3,
                attempts=0,
                outcome="",
            )
        )
        session.add(
            StripeEvent(
                event_id="evt_net_binnen",
                type="refund.updated",
                payload="{}",
                received_at=utcnow(),
                deliveries=1,
                attempts=0,
                outcome="",
            )
        )

    page = admin.get(PAGE)
    assert page.status_code == 200, page.text
    html = soup(page)
    headings = [h.get_text(strip=True) for h in html.find_all("h2")]
    assert headings == [
        "Terugbetalingen die nog niet gelukt zijn",
        "Berichten van Stripe waarmee iets misging",
        "Donaties",
    ]
    row = html.find("tr", attrs={"data-refund": str(failed_refund)})
    assert row is not None
    text = row.get_text(" ", strip=True)
    assert "Buurtfeest gaat niet door" in text and "€ 25,00" in text and "Refunds are refused (test)" in text
    assert "Nog te versturen" in text and "Nu opnieuw proberen" in text
    events_text = html.find(attrs={"aria-labelledby": "events-caption"}).get_text(" ", strip=True)
    assert "refused: Stripe reports 1 eur" in events_text
    assert "evt_blijft_hangen" in events_text and "Nog niet verwerkt" in events_text
    assert "evt_net_binnen" not in events_text  # still within its first minute
    totals = {
        tr["data-total"]: [cell.get_text(strip=True) for cell in tr.find_all("td")]
        for tr in html.find_all("tr", attrs={"data-total": True})
    }
    assert totals == {"paid": ["1", "€ 15,00"], "refunding": ["1", "€ 25,00"], "refunded": ["0", "€ 0,00"]}
    assert "-€ 40,00" in html.find(attrs={"data-clearing": True}).get_text(" ", strip=True)
    donations = html.find_all("tr", attrs={"data-donation": True})
    assert len(donations) == 3
    assert "Open (nog niet betaald)" in donations[0].get_text(" ", strip=True)  # the newest first
    assert 'href="/staff/payments"' in page.text and "Betalingen" in page.text  # in the menu


def _public_ids(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.execute(select(Donation.public_id).order_by(Donation.id)).scalars())


def test_try_again_now_books_the_refund(
    admin: TestClient, db: Database, stripe: StripeFake, failed_refund: int
) -> None:
    # still refused: the page says so, with Stripe's message, and the refund stays open
    failed = admin.post(
        f"/staff/payments/refunds/{failed_refund}/retry", data=retry_form(admin.get(PAGE), failed_refund)
    )
    assert failed.status_code == 200 and failed.url.path == PAGE
    notice = " ".join(e.get_text(" ", strip=True) for e in soup(failed).select('[role="status"]'))
    assert "opnieuw niet gelukt" in notice and "Refunds are refused (test)" in notice
    assert refund_row(db, failed_refund).failures == 2

    stripe.refunds = "succeeded"
    done = admin.post(
        f"/staff/payments/refunds/{failed_refund}/retry", data=retry_form(admin.get(PAGE), failed_refund)
    )
    assert done.status_code == 200
    notice = " ".join(e.get_text(" ", strip=True) for e in soup(done).select('[role="status"]'))
    assert "is gelukt" in notice
    assert soup(done).find("tr", attrs={"data-refund": str(failed_refund)}) is None
    refund = refund_row(db, failed_refund)
    assert refund.status == RefundStatus.succeeded and refund.stripe_refund_id
    with db.read() as session:
        assert session.execute(select(Donation.status)).scalar_one() == DonationStatus.refunded
        assert verify_ledger(session).ok, verify_ledger(session).violations
        retries = (
            session.execute(
                select(AuditEvent.actor).where(
                    AuditEvent.action == "donation.refund_retry", AuditEvent.subject_id == str(failed_refund)
                )
            )
            .scalars()
            .all()
        )
    assert len(retries) == 2 and all(actor.startswith("staff:") for actor in retries)
    totals = {
        tr["data-total"]: tr.get_text(" ", strip=True)
        for tr in soup(done).find_all("tr", attrs={"data-total": True})
    }
    assert "€ 25,00" in totals["refunded"]
    assert "€ 0,00" in soup(done).find(attrs={"data-clearing": True}).get_text(" ", strip=True)


def test_bad_refund_ids_and_csrf_are_clear_refusals(
    admin: TestClient, db: Database, failed_refund: int
) -> None:
    token = retry_form(admin.get(PAGE), failed_refund)
    before = snapshot(db, skip=VOLATILE)
    for refund_id in ("0", "-1", "abc", "99999999999999999999", "1.5", "999999"):
        answer = admin.post(f"/staff/payments/refunds/{refund_id}/retry", data=token, follow_redirects=False)
        assert 400 <= answer.status_code < 500, f"{refund_id}: {answer.status_code}"
    assert admin.post("/staff/payments/refunds/999999/retry", data=token).status_code == 404
    no_token = admin.post(f"/staff/payments/refunds/{failed_refund}/retry", data={}, follow_redirects=False)
    assert no_token.status_code == 403 and "Formulier verlopen" in no_token.text
    forged = admin.post(
        f"/staff/payments/refunds/{failed_refund}/retry",
        data={"csrf_token": "x" * 40},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert snapshot(db, skip=VOLATILE) == before
    assert admin.get(f"{PAGE}?x=1").status_code == 200


def test_a_director_is_refused(
    director: TestClient, client: TestClient, db: Database, failed_refund: int
) -> None:
    assert director.get(PAGE, follow_redirects=False).status_code == 403
    token = form_fields(director.get("/staff"), "/staff/logout")["csrf_token"]
    before = snapshot(db, skip=VOLATILE)
    answer = director.post(
        f"/staff/payments/refunds/{failed_refund}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert snapshot(db, skip=VOLATILE) == before
    assert 'href="/staff/payments"' not in director.get("/staff").text
    signed_out = TestClient(client.app).get(PAGE, follow_redirects=False)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/staff/login")


def test_without_stripe_the_page_says_so(
    database_url: str, db: Database, settings: Settings, failed_refund: int
) -> None:
    with TestClient(create_app(test_settings(database_url), db)) as off:
        admin = staff_browser(
            off, db, make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
        )
        page = admin.get(PAGE)
        assert page.status_code == 200
        assert "Stripe is niet ingesteld" in page.text
        assert soup(page).find("tr", attrs={"data-refund": str(failed_refund)}) is not None
        assert (
            soup(page).find("form", attrs={"action": f"/staff/payments/refunds/{failed_refund}/retry"})
            is None
        )
        token = form_fields(page, "/staff/logout")["csrf_token"]
        before = snapshot(db, skip=VOLATILE)
        answer = admin.post(f"/staff/payments/refunds/{failed_refund}/retry", data={"csrf_token": token})
        assert answer.status_code == 409 and "STRIPE_API_KEY" in alert_text(answer)
        assert snapshot(db, skip=VOLATILE) == before
    with db.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(DonationRefund)
                .where(DonationRefund.status == RefundStatus.succeeded)
            )
            == 0
        )


def test_a_refund_that_already_succeeded_is_left_alone(
    admin: TestClient, db: Database, stripe: StripeFake, failed_refund: int
) -> None:
    token = retry_form(admin.get(PAGE), failed_refund)
    stripe.refunds = "succeeded"
    assert admin.post(f"/staff/payments/refunds/{failed_refund}/retry", data=token).status_code == 200
    before = snapshot(db, skip=VOLATILE)
    again = admin.post(f"/staff/payments/refunds/{failed_refund}/retry", data=token)
    assert again.status_code == 200 and "was al gelukt" in again.text
    assert snapshot(db, skip=VOLATILE) == before
