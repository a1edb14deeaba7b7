"""Donations: starting one (a row, then Stripe's payment page) and booking what Stripe reports about it.

A donation counts only when Stripe's signed webhook confirms it. Booking is one guarded UPDATE on the
donation (`open`/`failed`/`expired` → `paid`) plus the ledger transfer in the same transaction, so however
often and in whatever order the events arrive, the money moves once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.db import Database, rowcount
from app.donations import receipts, refunds
from app.donations.gateway import Checkout, GatewayError, StripeGateway
from app.errors import AppError, Conflict, InvalidInput, NotFound
from app.i18n import format_cents
from app.initiatives import states
from app.initiatives.errors import InitiativeNotFound
from app.ledger import service as ledger
from app.models import Donation, DonationStatus, Initiative, InitiativeStatus
from app.models.base import utcnow

_URLSAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
"""The characters of a `secrets.token_urlsafe` public id."""
ACCEPTING = frozenset({InitiativeStatus.published, InitiativeStatus.funded})
"""Statuses in which an initiative takes donations (a funded one may go past its target)."""
CHECKOUT_LIFETIME = timedelta(hours=1)
"""How long Stripe's payment page stays valid (Stripe allows 30 minutes to 24 hours)."""
BOOKABLE = (DonationStatus.open, DonationStatus.failed, DonationStatus.expired)
"""A confirmed payment counts from any of these: a late success after a failure is still money."""


class DonationsOff(NotFound):
    slug = "donations-off"
    title = "Doneren staat uit"
    title_en = "Donations are switched off"
    message = "Doneren met iDEAL of een betaalkaart is in deze gemeente niet ingeschakeld."
    message_en = "Donating with iDEAL or a card is not switched on in this municipality."


class NotAccepting(Conflict):
    slug = "not-accepting-donations"
    message = "Dit initiatief neemt nu geen donaties aan."
    message_en = "This initiative does not take donations now."


class DonationNotFound(NotFound):
    slug = "donation-not-found"
    message = "Deze donatie bestaat niet."
    message_en = "This donation does not exist."


class PaymentUnavailable(AppError):
    status = 503
    slug = "payment-unavailable"
    title = "Betalen lukt nu niet"
    title_en = "Payment not available now"
    message = (
        "Betalen lukt nu even niet. Er is niets afgeschreven. Probeer het over een paar minuten opnieuw."
    )
    message_en = "Payment is not possible right now. Nothing was charged. Please try again in a few minutes."


@dataclass(frozen=True)
class DonationRequest:
    amount_cents: int
    donor_name: str = ""
    email: str | None = None
    locale: str = "nl"


def check_request(settings: Settings, request: DonationRequest) -> DonationRequest:
    """The request with its name and address cleaned, or InvalidInput naming the field."""
    low, high = settings.donation_min_cents, settings.donation_max_cents
    if not low <= request.amount_cents <= high:
        raise InvalidInput(
            f"Kies een bedrag van {format_cents(low, 'nl')} tot {format_cents(high, 'nl')}.",
            f"Choose an amount from {format_cents(low, 'en')} to {format_cents(high, 'en')}.",
            field="amount_cents",
        )
    name = " ".join(request.donor_name.split())
    if len(name) > 70 or any(not ch.isprintable() for ch in name):
        raise InvalidInput(
            "Een naam is hoogstens 70 tekens.", "A name is at most 70 characters.", field="donor_name"
        )
    email = (request.email or "").strip() or None
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            raise InvalidInput(
                "Dit e-mailadres klopt niet. Laat het leeg als u geen bewijs wilt.",
                "This e-mail address is not valid. Leave it empty if you want no receipt.",
                field="email",
            ) from None
        if len(email) > 254:
            raise InvalidInput(
                "Dit e-mailadres is te lang.", "This e-mail address is too long.", field="email"
            )
    locale = request.locale if request.locale in ("nl", "en") else "nl"
    return DonationRequest(amount_cents=request.amount_cents, donor_name=name, email=email, locale=locale)


def start_donation(
    db: Database, gateway: StripeGateway | None, initiative_id: int, request: DonationRequest
) -> tuple[str, Checkout]:
    """Record an open donation and create Stripe's payment page for it; returns the donation's public id
    and where to send the donor."""
    if gateway is None:
        raise DonationsOff()
    settings = db.settings
    request = check_request(settings, request)

    def create(session: Session) -> tuple[str, str]:
        initiative = session.get(Initiative, initiative_id)
        if initiative is None or initiative.status not in states.PUBLIC:
            raise InitiativeNotFound()
        if initiative.status not in ACCEPTING:
            raise NotAccepting()
        public_id = secrets.token_urlsafe(16)
        session.add(
            Donation(
                public_id=public_id,
                initiative_id=initiative_id,
                amount_cents=request.amount_cents,
                donor_name=request.donor_name,
                email=request.email,
                locale=request.locale,
                status=DonationStatus.open,
            )
        )
        return public_id, initiative.title

    public_id, title = db.run_write(create)
    description = (
        f"Donation to {title}" if request.locale == "en" else f"Donatie aan {title}"
    ) + f" ({settings.municipality_name})"
    try:
        checkout = gateway.create_checkout(
            public_id=public_id,
            amount_cents=request.amount_cents,
            description=description,
            locale=request.locale,
            success_url=f"{settings.base_url}/donations/{public_id}",
            cancel_url=f"{settings.base_url}/initiatives/{initiative_id}/donate?cancelled=1",
            email=request.email,
            expires_at=utcnow() + CHECKOUT_LIFETIME,
        )
    except GatewayError:
        db.run_write(lambda s: _close(s, public_id, DonationStatus.failed, only_open=True))
        raise PaymentUnavailable() from None

    def attach(session: Session) -> None:
        session.execute(
            update(Donation)
            .where(Donation.public_id == public_id, Donation.checkout_session_id.is_(None))
            .values(checkout_session_id=checkout.session_id)
        )

    db.run_write(attach)
    return public_id, checkout


def _close(session: Session, public_id: str, status: DonationStatus, *, only_open: bool) -> int:
    allowed = (DonationStatus.open,) if only_open else (DonationStatus.open, DonationStatus.expired)
    return rowcount(
        session.execute(
            update(Donation)
            .where(Donation.public_id == public_id, Donation.status.in_(allowed))
            .values(status=status, closed_at=utcnow())
        )
    )


# ------------------------------------------------------------------------------------------ booking events


def _find(session: Session, public_id: str | None, payment_intent_id: str | None) -> Donation | None:
    if public_id:
        statement = select(Donation).where(Donation.public_id == public_id)
    elif payment_intent_id:
        statement = select(Donation).where(Donation.payment_intent_id == payment_intent_id)
    else:
        return None
    return session.execute(statement.with_for_update()).scalar_one_or_none()


def confirm_payment(
    session: Session,
    settings: Settings,
    *,
    public_id: str | None,
    payment_intent_id: str | None,
    amount_cents: int,
    currency: str,
) -> str:
    """Stripe says the donor paid: book it once. Returns what happened, for the event inbox."""
    donation = _find(session, public_id, payment_intent_id)
    if donation is None:
        return "ignored: unknown payment"
    if currency.lower() != "eur" or amount_cents != donation.amount_cents:
        return (
            f"refused: Stripe reports {amount_cents} {currency}, donation {donation.public_id} expects"
            f" {donation.amount_cents} eur"
        )
    if payment_intent_id and donation.payment_intent_id not in (None, payment_intent_id):
        return f"refused: donation {donation.public_id} was paid by another payment"
    booked = session.execute(
        update(Donation)
        .where(Donation.id == donation.id, Donation.status.in_(BOOKABLE))
        .values(
            status=DonationStatus.paid,
            paid_at=utcnow(),
            closed_at=None,
            payment_intent_id=payment_intent_id or donation.payment_intent_id,
        )
    )
    if rowcount(booked) != 1:
        return f"already booked ({donation.status})"
    became_funded = ledger.receive_donation(
        session,
        initiative_id=donation.initiative_id,
        donation_id=donation.id,
        amount_cents=donation.amount_cents,
    )
    record(
        session,
        actor="stripe",
        action="donation.paid",
        subject_type="initiative",
        subject_id=donation.initiative_id,
        after={
            "donation": donation.public_id,
            "amount_cents": donation.amount_cents,
            "payment": payment_intent_id,
        },
    )
    if became_funded:
        from app.initiatives.service import record_funded  # imports this package's refunds

        record_funded(session, donation.initiative_id, actor="stripe", settings=settings)
    status = session.execute(
        select(Initiative.status).where(Initiative.id == donation.initiative_id)
    ).scalar_one()
    receipts.paid(session, settings, donation)
    if status not in states.PUBLIC:
        # Paid after the initiative ended (or, should it ever happen, before it was public): the money is
        # recorded, then goes straight back.
        refunds.queue_refunds(session, donation.initiative_id)
        return "booked; initiative has ended, refund queued"
    return "booked"


def attach_payment(session: Session, *, public_id: str | None, payment_intent_id: str | None) -> str:
    """A completed checkout whose payment is still on its way (e.g. a bank transfer): remember the payment."""
    if not public_id or not payment_intent_id:
        return "ignored: no payment yet"
    done = session.execute(
        update(Donation)
        .where(Donation.public_id == public_id, Donation.payment_intent_id.is_(None))
        .values(payment_intent_id=payment_intent_id)
    )
    return "waiting for payment" if rowcount(done) else "ignored: payment already known"


def payment_failed(session: Session, *, public_id: str | None, payment_intent_id: str | None) -> str:
    donation = _find(session, public_id, payment_intent_id)
    if donation is None:
        return "ignored: unknown payment"
    done = session.execute(
        update(Donation)
        .where(Donation.id == donation.id, Donation.status == DonationStatus.open)
        .values(status=DonationStatus.failed, closed_at=utcnow())
    )
    return "failed" if rowcount(done) else f"ignored: donation is {donation.status}"


def checkout_expired(session: Session, *, public_id: str | None) -> str:
    if not public_id:
        return "ignored: unknown payment"
    return (
        "expired"
        if _close(session, public_id, DonationStatus.expired, only_open=True)
        else "ignored: not open"
    )


def get_by_public_id(session: Session, public_id: str) -> Donation:
    donation = (
        session.execute(select(Donation).where(Donation.public_id == public_id)).scalar_one_or_none()
        if 10 <= len(public_id) <= 32 and all(ch in _URLSAFE for ch in public_id)
        else None
    )
    if donation is None:
        raise DonationNotFound()
    return donation
