"""`buurtkas payments reconcile` against the local Stripe (localstripe behind the Checkout proxy).

Payments are booked the way production books them: a signed `payment_intent.succeeded` event through the
webhook inbox. Each kind of difference is made on one side only and must be printed (exit 1); a clean state
exits 0; a bad day, a missing key or an unreachable Stripe exit 2 with a clear message and no traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from app.config import Settings
from app.db import Database
from app.donations import events
from app.donations.gateway import StripeGateway, StripePayment, StripeRefund, build_gateway
from app.donations.reconcile import reconcile, start_of
from app.donations.refunds import process_refunds
from app.donations.service import DonationRequest, start_donation
from app.initiatives.service import transition
from app.kit.clock import today
from app.models import Donation, DonationRefund, DonationStatus, InitiativeStatus, RefundStatus
from app.models.base import utcnow
from tests.cli_helpers import Cli, Result, failure_problems, ok
from tests.factories import World, build_world, make_initiative
from tests.stripe_fake import (
    API_KEY,
    CARD_DECLINED,
    CARD_OK,
    WEBHOOK_SECRET,
    StripeFake,
    event_body,
    free_port,
    sign,
)
from tests.stripe_fixtures import stripe_settings


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
def cli(database_url: str, stripe: StripeFake, tmp_path: Path) -> Cli:
    runner = Cli(database_url, tmp_path)
    runner.env.update(
        STRIPE_API_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET, STRIPE_API_BASE=stripe.api_base
    )
    return runner


def donate(
    db: Database, gateway: StripeGateway, stripe: StripeFake, initiative_id: int, cents: int = 1500
) -> tuple[str, str]:
    """A donation paid at Stripe (not booked yet); returns its public id and PaymentIntent id."""
    public_id, checkout = start_donation(db, gateway, initiative_id, DonationRequest(amount_cents=cents))
    session = stripe.pay(checkout.session_id)
    assert session["payment_status"] == "paid"
    return public_id, str(session["payment_intent"])


def deliver(db: Database, stripe: StripeFake, payment_intent_id: str) -> str:
    body = event_body("payment_intent.succeeded", stripe.payment_intent(payment_intent_id))
    return events.receive(db, body, sign(body))


def booked(
    db: Database, gateway: StripeGateway, stripe: StripeFake, initiative_id: int, cents: int = 1500
) -> tuple[str, str]:
    public_id, payment = donate(db, gateway, stripe, initiative_id, cents)
    assert deliver(db, stripe, payment) == "booked"
    return public_id, payment


def refunded(
    db: Database, settings: Settings, gateway: StripeGateway, stripe: StripeFake, world: World
) -> tuple[str, str]:
    """A donation to a second initiative that is then cancelled, and its refund confirmed by Stripe."""
    with db.write() as session:
        other = make_initiative(session, settings, title="Speeltuin opknappen")
    public_id, payment = booked(db, gateway, stripe, other, 2500)
    with db.write() as session:
        transition(
            session, other, InitiativeStatus.cancelled, actor="test", reason="gaat niet door", today=today()
        )
    report = process_refunds(db, gateway)
    assert report.succeeded == 1, report
    return public_id, payment


def differences(result: Result) -> list[str]:
    assert "Traceback" not in result.stderr, str(result)
    lines = result.stdout.strip().splitlines()
    assert lines and lines[-1].startswith("reconciled since "), str(result)
    return lines[:-1]


def test_a_clean_state_agrees(
    cli: Cli, db: Database, settings: Settings, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    empty = ok(cli("payments", "reconcile", "--since", today().isoformat()))
    assert empty.stdout.strip().endswith("no differences"), str(empty)

    booked(db, gateway, stripe, world.initiative_id, 1500)
    booked(db, gateway, stripe, world.initiative_id, 700)
    refunded(db, settings, gateway, stripe, world)
    start_donation(db, gateway, world.initiative_id, DonationRequest(amount_cents=900))  # left unpaid
    _public, declined = start_donation(db, gateway, world.initiative_id, DonationRequest(amount_cents=900))
    stripe.pay(declined.session_id, card=CARD_DECLINED)

    result = ok(cli("payments", "reconcile", "--since", (today() - timedelta(days=3)).isoformat()))
    assert differences(result) == []
    summary = result.stdout.strip().splitlines()[-1]
    assert "Stripe 3 succeeded payment(s) €47.00, 1 succeeded refund(s) €25.00" in summary, summary
    assert "Buurtkas 3 booked donation(s) €47.00, 1 booked refund(s) €25.00" in summary, summary
    assert summary.endswith("no differences")


def test_a_payment_stripe_took_that_was_never_booked(
    cli: Cli, db: Database, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    booked(db, gateway, stripe, world.initiative_id)
    public_id, payment = donate(db, gateway, stripe, world.initiative_id, 1200)  # the webhook never came
    # and one made in Stripe's dashboard, with no donation behind it
    method = stripe._ls(
        "POST",
        "/v1/payment_methods",
        {
            "type": "card",
            "card[number]": CARD_OK,
            "card[exp_month]": "12",
            "card[exp_year]": "2031",
            "card[cvc]": "123",
        },
    )
    stranger = stripe._ls(
        "POST",
        "/v1/payment_intents",
        {"amount": "999", "currency": "eur", "payment_method": method["id"], "confirm": "true"},
    )["id"]

    result = cli("payments", "reconcile", "--since", today().isoformat())
    assert result.returncode == 1, str(result)
    lines = differences(result)
    assert len(lines) == 2, lines
    ours = next(line for line in lines if payment in line)
    assert "€12.00" in ours and public_id in ours and "not booked" in ours and "open" in ours
    unknown = next(line for line in lines if stranger in line)
    assert "€9.99" in unknown and "unknown to Buurtkas" in unknown
    assert result.stdout.strip().splitlines()[-1].endswith("2 differences")

    # once the webhook comes, only the stranger is left
    assert deliver(db, stripe, payment) == "booked"
    again = cli("payments", "reconcile", "--since", today().isoformat())
    assert again.returncode == 1 and [line for line in differences(again) if stranger in line] == differences(
        again
    )


def test_a_booked_donation_whose_amount_differs(
    cli: Cli, db: Database, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    public_id, payment = booked(db, gateway, stripe, world.initiative_id, 1500)
    with db.write() as session:
        session.execute(update(Donation).where(Donation.public_id == public_id).values(amount_cents=2000))
    result = cli("payments", "reconcile", "--since", today().isoformat())
    assert result.returncode == 1, str(result)
    lines = differences(result)
    assert any(
        public_id in line and "Buurtkas booked €20.00, Stripe has €15.00" in line and payment in line
        for line in lines
    ), lines
    assert any("the ledger moved €15.00" in line and "not €20.00" in line for line in lines), lines


def test_a_booked_donation_stripe_does_not_have(
    cli: Cli, db: Database, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    public_id, _payment = booked(db, gateway, stripe, world.initiative_id, 1500)
    with db.write() as session:
        session.execute(
            update(Donation).where(Donation.public_id == public_id).values(payment_intent_id="pi_nergens")
        )
    result = cli("payments", "reconcile", "--since", today().isoformat())
    assert result.returncode == 1, str(result)
    lines = differences(result)
    assert any(public_id in line and "pi_nergens, which Stripe does not have" in line for line in lines), (
        lines
    )
    # and Stripe's payment now names a donation booked with another payment
    assert any(_payment in line and "not booked" in line for line in lines), lines


def test_a_refund_at_stripe_that_was_not_booked(
    cli: Cli, db: Database, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    public_id, payment = booked(db, gateway, stripe, world.initiative_id, 1500)
    refund = gateway.create_refund(payment_intent_id=payment, amount_cents=500, key="dashboard-1")
    assert refund.status == "succeeded"
    result = cli("payments", "reconcile", "--since", today().isoformat())
    assert result.returncode == 1, str(result)
    lines = differences(result)
    assert len(lines) == 1, lines
    assert refund.refund_id in lines[0] and public_id in lines[0] and "€5.00" in lines[0]
    assert "not booked" in lines[0]
    assert "1 succeeded refund(s) €5.00" in result.stdout and "0 booked refund(s)" in result.stdout


def test_a_booked_refund_stripe_does_not_have(
    cli: Cli, db: Database, settings: Settings, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    public_id, _payment = refunded(db, settings, gateway, stripe, world)
    assert (
        ok(cli("payments", "reconcile", "--since", today().isoformat()))
        .stdout.strip()
        .endswith("no differences")
    )
    with db.write() as session:
        real = session.execute(select(DonationRefund.stripe_refund_id)).scalar_one()
        session.execute(update(DonationRefund).values(stripe_refund_id="re_nergens"))
    result = cli("payments", "reconcile", "--since", today().isoformat())
    assert result.returncode == 1, str(result)
    lines = differences(result)
    assert any(public_id in line and "re_nergens, which Stripe does not have" in line for line in lines), (
        lines
    )
    assert any(str(real) in line and "refunded twice" in line for line in lines), lines


def test_a_booked_refund_stripe_shows_as_not_succeeded(
    cli: Cli, db: Database, settings: Settings, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    public_id, _payment = refunded(db, settings, gateway, stripe, world)
    with db.read() as session:
        refund_id = session.execute(select(DonationRefund.stripe_refund_id)).scalar_one()
    assert refund_id is not None
    stripe.settle_refund(refund_id, "failed")  # Stripe changed its mind after we booked it
    result = cli("payments", "reconcile", "--since", today().isoformat())
    assert result.returncode == 1, str(result)
    assert any(
        public_id in line and f"Stripe shows {refund_id} as failed" in line for line in differences(result)
    ), str(result)


@pytest.mark.parametrize(
    ("since", "message"),
    [
        ("gisteren", "'gisteren' is not a date like 2027-03-31"),
        ("2026-13-01", "is not a date like"),
        ("", "is not a date like"),
        ("1999-12-31", "is before 2000-01-01"),
        ((today() + timedelta(days=1)).isoformat(), "lies in the future"),
    ],
)
def test_a_bad_day_is_refused(cli: Cli, since: str, message: str) -> None:
    result = cli("payments", "reconcile", "--since", since)
    assert not failure_problems(result, ["--since", message], exit_code=2)
    assert result.stdout == ""


def test_without_a_stripe_key_nothing_is_compared(cli: Cli) -> None:
    cli.env.pop("STRIPE_API_KEY")
    for args in (("reconcile", "--since", today().isoformat()), ("refunds",)):
        result = cli("payments", *args)
        assert not failure_problems(
            result, ["Stripe is not configured (STRIPE_API_KEY is empty)"], exit_code=2
        )


def test_an_unreachable_stripe_is_a_clear_error(cli: Cli) -> None:
    cli.env["STRIPE_API_BASE"] = f"http://127.0.0.1:{free_port()}"
    result = cli("payments", "reconcile", "--since", today().isoformat())
    assert not failure_problems(result, ["Stripe could not be asked", "nothing was compared"], exit_code=2)


def test_refunds_command_sends_due_refunds(
    cli: Cli, db: Database, settings: Settings, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    public_id, _payment = booked(db, gateway, stripe, world.initiative_id, 1500)
    with db.write() as session:
        transition(
            session,
            world.initiative_id,
            InitiativeStatus.cancelled,
            actor="test",
            reason="stop",
            today=today(),
        )
    stripe.refunds = "error"
    failed = cli("payments", "refunds")
    assert failed.returncode == 1 and "Traceback" not in failed.stderr, str(failed)
    assert "Refunds are refused (test)" in failed.stderr and "1 failed" in failed.stdout
    with db.write() as session:  # due again now
        session.execute(update(DonationRefund).values(next_attempt_at=utcnow()))
    stripe.refunds = "succeeded"
    done = ok(cli("payments", "refunds"))
    assert "1 confirmed" in done.stdout, str(done)
    with db.read() as session:
        assert session.execute(
            select(Donation.status).where(Donation.public_id == public_id)
        ).scalar_one() == (DonationStatus.refunded)
        assert session.execute(select(DonationRefund.status)).scalar_one() == RefundStatus.succeeded
    assert (
        ok(cli("payments", "reconcile", "--since", today().isoformat()))
        .stdout.strip()
        .endswith("no differences")
    )


# --- the edge of the day: Stripe's window and ours do not line up -----------------------------------------


class ListedGateway:
    """Stripe's lists as given, filtered by `created` like Stripe does."""

    def __init__(self, payments: list[StripePayment], refunds: list[StripeRefund]) -> None:
        self.payments, self.refunds = payments, refunds
        self.asked: list[datetime] = []

    def payments_since(self, since: datetime) -> Iterator[StripePayment]:
        self.asked.append(since)
        return iter([p for p in self.payments if p.created >= since])

    def refunds_since(self, since: datetime) -> Iterator[StripeRefund]:
        return iter([r for r in self.refunds if r.created >= since])


def test_a_payment_created_before_midnight_and_paid_after_agrees(
    db: Database, gateway: StripeGateway, stripe: StripeFake, world: World
) -> None:
    public_id, payment = booked(db, gateway, stripe, world.initiative_id, 1500)
    day = today()
    midnight = start_of(day)
    with db.write() as session:
        session.execute(
            update(Donation)
            .where(Donation.public_id == public_id)
            .values(created_at=midnight - timedelta(minutes=3), paid_at=midnight + timedelta(minutes=1))
        )
    late = StripePayment(payment, public_id, 1500, "eur", "succeeded", midnight - timedelta(minutes=2))
    listed = ListedGateway([late], [])
    report = reconcile(db, listed, day)  # type: ignore[arg-type]
    assert report.differences == [], report.differences
    assert listed.asked[0] < midnight - timedelta(minutes=3)
    # it counts on our side (paid today), not on Stripe's (created yesterday)
    assert (report.booked_payments, report.stripe_payments) == (1, 0)
    # paid yesterday and created yesterday: outside both windows, not a difference either
    with db.write() as session:
        session.execute(
            update(Donation)
            .where(Donation.public_id == public_id)
            .values(paid_at=midnight - timedelta(minutes=1))
        )
    assert reconcile(db, listed, day).differences == []  # type: ignore[arg-type]
    # a day earlier, Stripe without it: a difference
    report = reconcile(db, ListedGateway([], []), day - timedelta(days=1))  # type: ignore[arg-type]
    assert len(report.differences) == 1 and "which Stripe does not have" in report.differences[0]
