"""Reconciling our books with Stripe: every payment and refund on either side, and every difference.

Our side is what we booked: donations paid on or after the day (status paid, refunding or refunded, with
their `donation` ledger transfer) and refunds that succeeded on or after it (with their `donation_refund`
transfer). Stripe's side is the PaymentIntents and refunds created on or after the day. The two windows do
not line up exactly (a payment created at 23:58 and confirmed at 00:01 falls in ours and not in Stripe's),
so Stripe's lists are fetched from before the oldest of our items (whose rows always exist before their
Stripe objects), and every Stripe item is looked up in our records by id, whatever its date, before
anything is called missing.

Only the treasurer's question is answered here: does every cent agree? Nothing is changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import stripe
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from app.db import Database
from app.donations.gateway import GatewayError, StripeGateway, StripePayment, StripeRefund
from app.kit.clock import AMSTERDAM
from app.kit.money import format_cents
from app.models import Donation, DonationRefund, DonationStatus, LedgerTransfer, RefundStatus
from app.models.ledger import TransferKind

BOOKED = (DonationStatus.paid, DonationStatus.refunding, DonationStatus.refunded)
"""Donation statuses whose payment we booked (the money reached the initiative at some point)."""
CLOCK_SLACK = timedelta(minutes=10)
"""Our clock and Stripe's may differ a little: Stripe's lists start this much earlier."""
EARLIEST = date(2000, 1, 1)
CHUNK = 500


class BadSince(ValueError):
    """The `--since` day cannot be used (not a date, before 2000, or in the future)."""


def parse_since(value: str, today: date) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise BadSince(f"--since: {value!r} is not a date like 2027-03-31") from None
    if day < EARLIEST:
        raise BadSince(f"--since: {day} is before {EARLIEST}; Buurtkas has no payments that old")
    if day > today:
        raise BadSince(f"--since: {day} lies in the future (today is {today})")
    return day


def start_of(day: date) -> datetime:
    """Midnight at the start of `day` in Amsterdam, in UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=AMSTERDAM).astimezone(UTC)


def euros(cents: int) -> str:
    return format_cents(cents, "en")


def when(moment: datetime | None) -> str:
    return moment.astimezone(AMSTERDAM).strftime("%Y-%m-%d %H:%M") if moment is not None else "?"


@dataclass(frozen=True)
class OurDonation:
    id: int
    public_id: str
    status: str
    amount_cents: int
    payment_intent_id: str | None
    created_at: datetime
    paid_at: datetime | None
    ledger_cents: int
    """What the ledger moved for it in `donation` transfers."""

    @property
    def booked(self) -> bool:
        return self.status in BOOKED

    @property
    def name(self) -> str:
        return f"donation {self.public_id} (#{self.id})"


@dataclass(frozen=True)
class OurRefund:
    id: int
    donation: OurDonation
    status: str
    amount_cents: int
    stripe_refund_id: str | None
    created_at: datetime
    succeeded_at: datetime | None
    ledger_cents: int
    """What the ledger moved back for its donation in `donation_refund` transfers."""


@dataclass
class Reconciliation:
    since: date
    differences: list[str] = field(default_factory=list)
    stripe_payments: int = 0
    stripe_paid_cents: int = 0
    stripe_refunds: int = 0
    stripe_refunded_cents: int = 0
    booked_payments: int = 0
    booked_paid_cents: int = 0
    booked_refunds: int = 0
    booked_refunded_cents: int = 0

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        count = len(self.differences)
        return (
            f"reconciled since {self.since}: Stripe {self.stripe_payments} succeeded payment(s)"
            f" {euros(self.stripe_paid_cents)}, {self.stripe_refunds} succeeded refund(s)"
            f" {euros(self.stripe_refunded_cents)}; Buurtkas {self.booked_payments} booked donation(s)"
            f" {euros(self.booked_paid_cents)}, {self.booked_refunds} booked refund(s)"
            f" {euros(self.booked_refunded_cents)}; "
            + ("no differences" if not count else f"{count} difference{'s' if count != 1 else ''}")
        )


# ------------------------------------------------------------------------------------------- our records


def _chunks(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(set(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _ledger_sums(session: Session, kind: TransferKind, donation_ids: Iterable[int]) -> dict[int, int]:
    sums: dict[int, int] = {}
    ids = sorted(set(donation_ids))
    for start in range(0, len(ids), CHUNK):
        rows = session.execute(
            select(LedgerTransfer.donation_id, func.sum(LedgerTransfer.amount_cents))
            .where(LedgerTransfer.kind == kind, LedgerTransfer.donation_id.in_(ids[start : start + CHUNK]))
            .group_by(LedgerTransfer.donation_id)
        ).all()
        sums.update({int(donation_id or 0): int(total or 0) for donation_id, total in rows})
    return sums


def _donations(session: Session, condition: Any) -> dict[int, OurDonation]:
    rows = session.execute(select(Donation).where(condition).order_by(Donation.id)).scalars().all()
    ledger = _ledger_sums(session, TransferKind.donation, (row.id for row in rows))
    return {
        row.id: OurDonation(
            id=row.id,
            public_id=row.public_id,
            status=row.status,
            amount_cents=row.amount_cents,
            payment_intent_id=row.payment_intent_id,
            created_at=row.created_at,
            paid_at=row.paid_at,
            ledger_cents=ledger.get(row.id, 0),
        )
        for row in rows
    }


def _refunds(session: Session, condition: Any) -> dict[int, OurRefund]:
    rows = session.execute(
        select(DonationRefund, Donation)
        .join(Donation, Donation.id == DonationRefund.donation_id)
        .where(condition)
        .order_by(DonationRefund.id)
    ).all()
    donation_ids = [donation.id for _refund, donation in rows]
    paid = _ledger_sums(session, TransferKind.donation, donation_ids)
    returned = _ledger_sums(session, TransferKind.donation_refund, donation_ids)
    found = {}
    for refund, donation in rows:
        ours = OurDonation(
            id=donation.id,
            public_id=donation.public_id,
            status=donation.status,
            amount_cents=donation.amount_cents,
            payment_intent_id=donation.payment_intent_id,
            created_at=donation.created_at,
            paid_at=donation.paid_at,
            ledger_cents=paid.get(donation.id, 0),
        )
        found[refund.id] = OurRefund(
            id=refund.id,
            donation=ours,
            status=refund.status,
            amount_cents=refund.amount_cents,
            stripe_refund_id=refund.stripe_refund_id,
            created_at=refund.created_at,
            succeeded_at=refund.succeeded_at,
            ledger_cents=returned.get(donation.id, 0),
        )
    return found


def _donations_named(
    session: Session, payment_ids: Iterable[str], public_ids: Iterable[str]
) -> dict[int, OurDonation]:
    """Our donations (any status, any date) that Stripe's items name by payment or by metadata."""
    found: dict[int, OurDonation] = {}
    for chunk in _chunks(payment_ids):
        found.update(_donations(session, Donation.payment_intent_id.in_(chunk)))
    for chunk in _chunks(value for value in public_ids if 0 < len(value) <= 32):
        found.update(_donations(session, Donation.public_id.in_(chunk)))
    return found


def _refunds_named(
    session: Session, refund_ids: Iterable[str], payment_ids: Iterable[str]
) -> dict[int, OurRefund]:
    found: dict[int, OurRefund] = {}
    for chunk in _chunks(refund_ids):
        found.update(_refunds(session, DonationRefund.stripe_refund_id.in_(chunk)))
    for chunk in _chunks(payment_ids):
        found.update(_refunds(session, Donation.payment_intent_id.in_(chunk)))
    return found


# ----------------------------------------------------------------------------------------- Stripe's lists


def _fetch(items: Iterable[Any]) -> list[Any]:
    """All of a Stripe list, with a failure on a later page reported like one on the first."""
    try:
        return list(items)
    except stripe.StripeError as exc:
        raise GatewayError(f"{type(exc).__name__}: {exc.user_message or str(exc)}"[:480]) from exc


# ----------------------------------------------------------------------------------------- the comparison


def reconcile(db: Database, gateway: StripeGateway, since: date) -> Reconciliation:
    """Compare our booked payments and refunds since `since` (an Amsterdam day) with Stripe's.
    Raises GatewayError when Stripe cannot be asked."""
    start = start_of(since)
    with db.read() as session:
        donations = _donations(session, and_(Donation.status.in_(BOOKED), Donation.paid_at >= start))
        refunds = _refunds(
            session,
            and_(DonationRefund.status == RefundStatus.succeeded, DonationRefund.succeeded_at >= start),
        )
    payments_from = min([start, *(d.created_at for d in donations.values())]) - CLOCK_SLACK
    refunds_from = min([start, *(r.created_at for r in refunds.values())]) - CLOCK_SLACK
    stripe_payments: list[StripePayment] = _fetch(gateway.payments_since(payments_from))
    stripe_refunds: list[StripeRefund] = _fetch(gateway.refunds_since(refunds_from))
    payments_in_window = [p for p in stripe_payments if p.created >= start]
    refunds_in_window = [r for r in stripe_refunds if r.created >= start]
    with db.read() as session:
        named = _donations_named(
            session,
            [p.payment_intent_id for p in payments_in_window]
            + [r.payment_intent_id for r in refunds_in_window if r.payment_intent_id],
            [p.donation_public_id for p in payments_in_window if p.donation_public_id],
        )
        named_refunds = _refunds_named(
            session,
            [r.refund_id for r in refunds_in_window],
            [r.payment_intent_id for r in refunds_in_window if r.payment_intent_id],
        )

    report = Reconciliation(since=since)
    succeeded = [p for p in payments_in_window if p.status == "succeeded"]
    report.stripe_payments = len(succeeded)
    report.stripe_paid_cents = sum(p.amount_cents for p in succeeded)
    report.booked_payments = len(donations)
    report.booked_paid_cents = sum(d.amount_cents for d in donations.values())
    refunded = [r for r in refunds_in_window if r.status == "succeeded"]
    report.stripe_refunds = len(refunded)
    report.stripe_refunded_cents = sum(r.amount_cents for r in refunded)
    report.booked_refunds = len(refunds)
    report.booked_refunded_cents = sum(r.amount_cents for r in refunds.values())

    report.differences += _compare_payments(donations, {**named, **donations}, stripe_payments, succeeded)
    report.differences += _compare_refunds(
        refunds, {**named_refunds, **refunds}, {**named, **donations}, stripe_refunds, refunded
    )
    return report


def _compare_payments(
    in_scope: dict[int, OurDonation],
    known: dict[int, OurDonation],
    stripe_payments: list[StripePayment],
    succeeded: list[StripePayment],
) -> list[str]:
    differences: list[str] = []
    by_payment = {d.payment_intent_id: d for d in known.values() if d.payment_intent_id}
    by_public = {d.public_id: d for d in known.values()}
    at_stripe = {p.payment_intent_id: p for p in stripe_payments}
    compared = set(in_scope)

    for payment in sorted(succeeded, key=lambda p: (p.created, p.payment_intent_id)):
        what = (
            f"Stripe payment {payment.payment_intent_id} of {euros(payment.amount_cents)}"
            f" (created {when(payment.created)})"
        )
        donation = by_payment.get(payment.payment_intent_id) or (
            by_public.get(payment.donation_public_id) if payment.donation_public_id else None
        )
        if donation is None:
            whose = (
                f"names donation {payment.donation_public_id}, which Buurtkas does not know"
                if payment.donation_public_id
                else "is unknown to Buurtkas"
            )
            differences.append(f"{what} succeeded and {whose}: not booked")
        elif not donation.booked:
            differences.append(
                f"{what} succeeded for {donation.name}, but Buurtkas has not booked it"
                f" (the donation is {donation.status})"
            )
        elif donation.payment_intent_id != payment.payment_intent_id:
            differences.append(
                f"{what} succeeded for {donation.name}, which Buurtkas booked with another payment"
                f" ({donation.payment_intent_id}): this one is not booked (paid twice?)"
            )
        elif donation.id not in compared:
            compared.add(donation.id)
            differences += _compare_donation(donation, payment)

    for donation in sorted(in_scope.values(), key=lambda d: d.id):
        booked_with = at_stripe.get(donation.payment_intent_id or "")
        if donation.payment_intent_id is None:
            differences.append(
                f"{donation.name} of {euros(donation.amount_cents)} is booked (paid {when(donation.paid_at)})"
                " without a Stripe payment"
            )
        elif booked_with is None:
            differences.append(
                f"{donation.name} of {euros(donation.amount_cents)} is booked (paid {when(donation.paid_at)})"
                f" with Stripe payment {donation.payment_intent_id}, which Stripe does not have"
            )
        else:
            differences += _compare_donation(donation, booked_with)
        if donation.payment_intent_id is None or booked_with is None:
            differences += _compare_ledger(donation)
    return differences


def _compare_donation(donation: OurDonation, payment: StripePayment) -> list[str]:
    differences = []
    booked = f"{donation.name} is booked (paid {when(donation.paid_at)})"
    if payment.status != "succeeded":
        differences.append(
            f"{booked}, but Stripe shows its payment {payment.payment_intent_id} as {payment.status or '?'},"
            " not succeeded"
        )
    if payment.amount_cents != donation.amount_cents:
        differences.append(
            f"{donation.name}: Buurtkas booked {euros(donation.amount_cents)}, Stripe has"
            f" {euros(payment.amount_cents)} for payment {payment.payment_intent_id}"
        )
    if payment.currency.lower() != "eur":
        differences.append(
            f"{donation.name}: Stripe payment {payment.payment_intent_id} is in {payment.currency or '?'},"
            " not in euros"
        )
    return differences + _compare_ledger(donation)


def _compare_ledger(donation: OurDonation) -> list[str]:
    if donation.ledger_cents == donation.amount_cents:
        return []
    return [
        f"{donation.name}: the ledger moved {euros(donation.ledger_cents)} to the initiative for it, not"
        f" {euros(donation.amount_cents)}"
    ]


def _compare_refunds(
    in_scope: dict[int, OurRefund],
    known: dict[int, OurRefund],
    donations: dict[int, OurDonation],
    stripe_refunds: list[StripeRefund],
    succeeded: list[StripeRefund],
) -> list[str]:
    differences: list[str] = []
    by_refund = {r.stripe_refund_id: r for r in known.values() if r.stripe_refund_id}
    by_payment = {r.donation.payment_intent_id: r for r in known.values() if r.donation.payment_intent_id}
    donation_by_payment = {d.payment_intent_id: d for d in donations.values() if d.payment_intent_id}
    at_stripe = {r.refund_id: r for r in stripe_refunds}
    compared = set(in_scope)

    for refund in sorted(succeeded, key=lambda r: (r.created, r.refund_id)):
        what = (
            f"Stripe refund {refund.refund_id} of {euros(refund.amount_cents)} (created {when(refund.created)},"
            f" payment {refund.payment_intent_id or '?'})"
        )
        ours = by_refund.get(refund.refund_id) or by_payment.get(refund.payment_intent_id or "")
        if ours is None:
            donation = donation_by_payment.get(refund.payment_intent_id or "")
            whose = f"for {donation.name}" if donation is not None else "unknown to Buurtkas"
            differences.append(f"{what} succeeded {whose}, but Buurtkas has not booked a refund: not booked")
        elif ours.stripe_refund_id != refund.refund_id and ours.status == RefundStatus.succeeded:
            differences.append(
                f"{what} succeeded for {ours.donation.name}, which Buurtkas refunded with another refund"
                f" ({ours.stripe_refund_id}): this one is not booked (refunded twice?)"
            )
        elif ours.status != RefundStatus.succeeded:
            differences.append(
                f"{what} succeeded for {ours.donation.name}, but Buurtkas has not booked it"
                f" (our refund #{ours.id} is {ours.status})"
            )
        elif ours.id not in compared:
            compared.add(ours.id)
            differences += _compare_refund(ours, refund)

    for ours in sorted(in_scope.values(), key=lambda r: r.id):
        found = at_stripe.get(ours.stripe_refund_id or "")
        booked = (
            f"refund #{ours.id} of {ours.donation.name} ({euros(ours.amount_cents)}, booked"
            f" {when(ours.succeeded_at)})"
        )
        if found is None:
            differences.append(
                f"{booked} as Stripe refund {ours.stripe_refund_id or '(none)'}, which Stripe does not have"
            )
            differences += _compare_refund_ledger(ours)
        else:
            differences += _compare_refund(ours, found)
    return differences


def _compare_refund(ours: OurRefund, refund: StripeRefund) -> list[str]:
    differences = []
    name = f"refund #{ours.id} of {ours.donation.name}"
    if refund.status != "succeeded":
        differences.append(
            f"{name} is booked (on {when(ours.succeeded_at)}), but Stripe shows {refund.refund_id} as"
            f" {refund.status or '?'}, not succeeded"
        )
    if refund.amount_cents != ours.amount_cents:
        differences.append(
            f"{name}: Buurtkas booked {euros(ours.amount_cents)}, Stripe refunded"
            f" {euros(refund.amount_cents)} in {refund.refund_id}"
        )
    if refund.payment_intent_id and refund.payment_intent_id != ours.donation.payment_intent_id:
        differences.append(
            f"{name}: Stripe refund {refund.refund_id} belongs to payment {refund.payment_intent_id}, not"
            f" to the donation's payment {ours.donation.payment_intent_id or '(none)'}"
        )
    return differences + _compare_refund_ledger(ours)


def _compare_refund_ledger(ours: OurRefund) -> list[str]:
    if ours.ledger_cents == ours.amount_cents:
        return []
    return [
        f"refund #{ours.id} of {ours.donation.name}: the ledger moved {euros(ours.ledger_cents)} back for it,"
        f" not {euros(ours.amount_cents)}"
    ]
