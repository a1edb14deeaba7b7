"""Paying funded initiatives: approve (director or admin, in scope), export a SEPA file (admin), mark paid
(admin; the ledger moves the money and the initiator gets a mail).

Every step is one guarded statement, so a double click or two staff members at once change things once:
one payout per initiative (unique `initiative_id`), an export takes only payouts still `approved` (locked),
and marking paid moves the money only for the request whose `UPDATE … WHERE status = 'exported'` matched.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.db import rowcount
from app.initiatives.notifications import notify_owner
from app.ledger.service import InsufficientBalance, pay_out
from app.models import Initiative, Payout, PayoutBatch, PayoutStatus
from app.models.base import utcnow
from app.payouts import repository
from app.payouts.errors import (
    AlreadyApproved,
    BalanceChanged,
    BatchNotFound,
    NoIban,
    NotExported,
    NotFunded,
    NothingToExport,
    NothingToPay,
    PayoutNotFound,
)
from app.payouts.sepa import debtor_from, new_message_id, pain001
from app.staff.scope import Scope


def mask_iban(iban: str | None) -> str:
    """NL** **** **** 1234: enough to recognise an account, not enough to use it."""
    if not iban:
        return ""
    compact = "".join(iban.split()).upper()
    return f"{compact[:2]}** **** **** {compact[-4:]}"


def format_iban(iban: str | None) -> str:
    compact = "".join((iban or "").split()).upper()
    return " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))


def _end_to_end_id(initiative_id: int) -> str:
    return f"BK-{initiative_id}-{secrets.token_hex(5).upper()}"


def approve(session: Session, scope: Scope, initiative_id: int, *, staff_id: int, actor: str) -> Payout:
    """Approve paying what the initiative's account holds to the IBAN its initiator gave."""
    initiative = session.get(Initiative, initiative_id, with_for_update=True)
    if initiative is None:
        raise PayoutNotFound()
    scope.require(initiative.area_id)
    existing = session.scalar(select(Payout.id).where(Payout.initiative_id == initiative_id))
    if existing is not None:
        raise AlreadyApproved()
    if initiative.status not in repository.PAYABLE:
        raise NotFunded()
    holder = (initiative.payout_account_holder or "").strip()
    try:
        iban = IBAN(initiative.payout_iban or "").compact
    except SchwiftyException:
        raise NoIban() from None
    if len(holder) < 2:
        raise NoIban()
    amount = repository.initiative_balance(session, initiative_id)
    if amount <= 0 or amount != initiative.raised_cents - initiative.paid_out_cents:
        raise NothingToPay() if amount <= 0 else BalanceChanged()
    payout = Payout(
        initiative_id=initiative_id,
        amount_cents=amount,
        iban=iban,
        account_holder=holder[:70],
        status=PayoutStatus.approved,
        approved_by_staff_id=staff_id,
        end_to_end_id=_end_to_end_id(initiative_id),
    )
    try:
        with session.begin_nested():
            session.add(payout)
            session.flush()
    except IntegrityError:  # another approval of the same initiative committed first
        raise AlreadyApproved() from None
    record(
        session,
        actor=actor,
        action="payout.approved",
        subject_type="payout",
        subject_id=payout.id,
        after={
            "initiative_id": initiative_id,
            "amount_cents": amount,
            "iban_last4": iban[-4:],
            "end_to_end_id": payout.end_to_end_id,
            "status": PayoutStatus.approved.value,
        },
    )
    return payout


def export(session: Session, settings: Settings, *, staff_id: int, actor: str, today: date) -> PayoutBatch:
    """Put every approved payout not yet in a file into one new SEPA file (administrators only)."""
    payouts = repository.approved_for_export(session)
    if not payouts:
        raise NothingToExport()
    debtor = debtor_from(settings)
    ids = [payout.id for payout in payouts]
    rows = repository.file_rows(session, ids)
    now = utcnow()
    message_id = new_message_id(now)
    xml = pain001(debtor, rows, message_id=message_id, execution_date=today)
    total = sum(row.amount_cents for row in rows)
    batch_id = session.execute(
        insert(PayoutBatch)
        .values(
            message_id=message_id,
            created_at=now,
            created_by_staff_id=staff_id,
            payment_count=len(rows),
            total_cents=total,
            sepa_xml=xml,
        )
        .returning(PayoutBatch.id)
    ).scalar_one()
    moved = session.execute(
        update(Payout)
        .where(Payout.id.in_(ids), Payout.status == PayoutStatus.approved, Payout.batch_id.is_(None))
        .values(status=PayoutStatus.exported, batch_id=batch_id, exported_at=now)
        .execution_options(synchronize_session=False)
    )
    if rowcount(moved) != len(ids):  # another export took some of them: roll this one back whole
        raise NothingToExport()
    record(
        session,
        actor=actor,
        action="payout.exported",
        subject_type="payout_batch",
        subject_id=batch_id,
        after={
            "message_id": message_id,
            "payment_count": len(rows),
            "total_cents": total,
            "payout_ids": ids,
            "status": PayoutStatus.exported.value,
        },
    )
    batch = session.get(PayoutBatch, batch_id)
    assert batch is not None
    return batch


def batch(session: Session, batch_id: int) -> PayoutBatch:
    found = session.get(PayoutBatch, batch_id)
    if found is None:
        raise BatchNotFound()
    return found


@dataclass(frozen=True)
class PaidOutcome:
    paid: int
    """Payouts marked paid now (money moved)."""
    already: int
    """Payouts that were paid before: nothing moved again."""
    total_cents: int


def mark_paid(
    session: Session, settings: Settings, scope: Scope, payout_id: int, *, staff_id: int, actor: str
) -> PaidOutcome:
    """The bank paid this payout: book it (once, however often this is asked)."""
    found = repository.payout_area(session, payout_id)
    if found is None:
        raise PayoutNotFound()
    payout, area_id = found
    scope.require(area_id)
    if payout.status == PayoutStatus.approved:
        raise NotExported()
    return _pay(session, settings, [payout_id], staff_id=staff_id, actor=actor)


def mark_batch_paid(
    session: Session, settings: Settings, batch_id: int, *, staff_id: int, actor: str
) -> PaidOutcome:
    """The bank paid the whole file: book every payout in it that is not booked yet (administrators only)."""
    batch(session, batch_id)
    ids = list(session.scalars(select(Payout.id).where(Payout.batch_id == batch_id).order_by(Payout.id)))
    return _pay(session, settings, ids, staff_id=staff_id, actor=actor)


def _pay(
    session: Session, settings: Settings, payout_ids: list[int], *, staff_id: int, actor: str
) -> PaidOutcome:
    now = utcnow()
    paid = 0
    total = 0
    for payout_id in payout_ids:
        # Only the request whose UPDATE matches moves the money; any other sees `paid` and moves nothing.
        row = session.execute(
            update(Payout)
            .where(Payout.id == payout_id, Payout.status == PayoutStatus.exported)
            .values(status=PayoutStatus.paid, paid_at=now, paid_by_staff_id=staff_id)
            .returning(Payout.initiative_id, Payout.amount_cents, Payout.batch_id)
            .execution_options(synchronize_session=False)
        ).one_or_none()
        if row is None:
            continue
        initiative_id, amount, batch_id = int(row[0]), int(row[1]), row[2]
        try:
            pay_out(session, initiative_id=initiative_id, amount_cents=amount)
        except InsufficientBalance:
            raise BalanceChanged() from None
        record(
            session,
            actor=actor,
            action="payout.paid",
            subject_type="payout",
            subject_id=payout_id,
            before={"status": PayoutStatus.exported.value},
            after={
                "status": PayoutStatus.paid.value,
                "initiative_id": initiative_id,
                "amount_cents": amount,
                "batch_id": batch_id,
            },
        )
        notify_owner(session, settings, initiative_id, "payout_sent")
        paid += 1
        total += amount
    already = (
        int(
            session.scalar(
                select(func.count())
                .select_from(Payout)
                .where(Payout.id.in_(payout_ids), Payout.status == PayoutStatus.paid)
            )
            or 0
        )
        - paid
    )
    return PaidOutcome(paid=paid, already=already, total_cents=total)
