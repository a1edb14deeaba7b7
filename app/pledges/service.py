"""The pledge: voucher value to a published initiative, never past its target, never twice."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Table, bindparam, insert
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.config import Settings, VoucherScope
from app.errors import ServiceBusy
from app.initiatives import repository as initiatives
from app.initiatives import service as initiative_service
from app.initiatives.errors import InitiativeAlreadyFunded, InitiativeNotFound, InitiativeNotOpen
from app.initiatives.states import PUBLIC
from app.kit.ratelimit import FailureLimit
from app.ledger import service as ledger
from app.mail.outbox import enqueue
from app.models import InitiativeStatus, Pledge, TransferKind
from app.models.base import UTCDateTime, utcnow
from app.pledges import repository
from app.pledges.errors import (
    EmailAddressInvalid,
    OutsideVoucherArea,
    PledgeTooSmall,
    ReceiptNotFound,
    VoucherChanged,
)
from app.vouchers import service as vouchers
from app.vouchers.errors import VoucherInsufficient
from app.vouchers.repository import VoucherView

MAX_ROOM_ATTEMPTS = 50
RECEIPT_MAIL_LIMIT = FailureLimit(scope="receipt-mail", per_client=5, total=2_000, window_seconds=3_600)
"""Mails per receipt (the limiter's "client") and for all receipts together, per hour; every send counts."""
_PLEDGES: Table = Pledge.__table__  # type: ignore[assignment]
_INSERT_PLEDGE = (
    insert(_PLEDGES)
    .values(
        voucher_id=bindparam("voucher_id"),
        initiative_id=bindparam("initiative_id"),
        amount_cents=bindparam("amount_cents"),
        created_at=bindparam("now", type_=UTCDateTime()),
    )
    .returning(_PLEDGES.c.id)
)


@dataclass(frozen=True)
class PledgeResult:
    id: int
    amount_cents: int
    voucher_balance_cents: int
    initiative_id: int
    raised_cents: int
    target_cents: int
    status: str


def create_pledge(
    session: Session,
    *,
    code: str,
    initiative_id: int,
    amount_cents: int | None,
    settings: Settings,
    today: date,
    actor: str = "household",
) -> PledgeResult:
    """Give `amount_cents` (default: all that fits) from the voucher with `code` to an initiative."""
    voucher = vouchers.lookup(session, code)
    return pledge_from_voucher(
        session,
        voucher=voucher,
        initiative_id=initiative_id,
        amount_cents=amount_cents,
        settings=settings,
        today=today,
        actor=actor,
    )


def pledge_from_voucher(
    session: Session,
    *,
    voucher: VoucherView,
    initiative_id: int,
    amount_cents: int | None,
    settings: Settings,
    today: date,
    actor: str = "household",
) -> PledgeResult:
    target = _check_pledge(session, voucher, initiative_id, amount_cents, settings, today)
    wanted = amount_cents if amount_cents is not None else voucher.balance_cents

    # Reserve room under the target with a guarded UPDATE; if someone else got there first, read again
    # and lower the amount to what is still needed, until it fits or nothing is needed any more.
    raised, target_cents, status = target.raised_cents, target.target_cents, target.status
    for _ in range(MAX_ROOM_ATTEMPTS):
        _ensure_open(status, raised, target_cents, target.deadline, today)
        amount = min(wanted, target_cents - raised)
        try:
            raised, target_cents, status = ledger.reserve_room(
                session, initiative_id=initiative_id, amount_cents=amount, today=today
            )
            break
        except ledger.NoRoomLeft:
            fresh = initiatives.pledge_target(session, initiative_id)
            assert fresh is not None
            raised, target_cents, status = fresh.raised_cents, fresh.target_cents, fresh.status
    else:
        raise ServiceBusy(
            "Het is heel druk bij dit initiatief. Probeer het zo nog eens.", "Very busy; try again."
        )

    pledge_id = (
        session.connection()
        .execute(
            _INSERT_PLEDGE,
            {
                "voucher_id": voucher.id,
                "initiative_id": initiative_id,
                "amount_cents": amount,
                "now": utcnow(),
            },
        )
        .scalar_one()
    )
    try:
        balance = ledger.transfer(
            session,
            debit_account_id=voucher.account_id,
            credit_account_id=target.account_id,
            amount_cents=amount,
            kind=TransferKind.pledge,
            pledge_id=pledge_id,
        )
    except ledger.InsufficientBalance as exc:
        raise VoucherChanged() from exc
    if status == InitiativeStatus.funded:
        initiative_service.record_funded(session, initiative_id, actor=actor, settings=settings)
    return PledgeResult(
        id=pledge_id,
        amount_cents=amount,
        voucher_balance_cents=balance,
        initiative_id=initiative_id,
        raised_cents=raised,
        target_cents=target_cents,
        status=status,
    )


@dataclass(frozen=True)
class PledgePreview:
    """What a pledge would do now: the amount after lowering to what is still needed."""

    amount_cents: int
    voucher_balance_after_cents: int
    still_needed_cents: int


def preview_pledge(
    session: Session,
    *,
    voucher: VoucherView,
    initiative_id: int,
    amount_cents: int | None,
    settings: Settings,
    today: date,
) -> PledgePreview:
    """Check a pledge by the same rules as `pledge_from_voucher`, without moving anything."""
    target = _check_pledge(session, voucher, initiative_id, amount_cents, settings, today)
    needed = target.target_cents - target.raised_cents
    wanted = amount_cents if amount_cents is not None else voucher.balance_cents
    amount = min(wanted, needed)
    return PledgePreview(
        amount_cents=amount,
        voucher_balance_after_cents=voucher.balance_cents - amount,
        still_needed_cents=needed,
    )


def _check_pledge(
    session: Session,
    voucher: VoucherView,
    initiative_id: int,
    amount_cents: int | None,
    settings: Settings,
    today: date,
) -> initiatives.PledgeTarget:
    """Every rule a pledge must meet before money moves; returns the initiative as read now."""
    vouchers.ensure_spendable(voucher, today)
    target = initiatives.pledge_target(session, initiative_id)
    if target is None or target.status not in PUBLIC:
        raise InitiativeNotFound()
    _ensure_open(target.status, target.raised_cents, target.target_cents, target.deadline, today)
    if settings.voucher_scope != VoucherScope.gemeente:
        _ensure_in_scope(session, settings.voucher_scope, voucher.buurt_id, target.area_id)
    if amount_cents is not None:
        if amount_cents > voucher.balance_cents:
            raise VoucherInsufficient(voucher.balance_cents)
        if amount_cents < settings.min_pledge_cents and amount_cents != voucher.balance_cents:
            minimum = settings.min_pledge_cents
            raise PledgeTooSmall(
                f"Geef minstens € {minimum // 100},{minimum % 100:02d}, of het hele tegoed.",
                f"Give at least €{minimum // 100}.{minimum % 100:02d}, or the whole balance.",
            )
    return target


def _ensure_open(status: str, raised: int, target: int, deadline: date | None, today: date) -> None:
    if status in (InitiativeStatus.funded, InitiativeStatus.completed) or (
        status == InitiativeStatus.published and raised >= target
    ):
        raise InitiativeAlreadyFunded()
    if status != InitiativeStatus.published or (deadline is not None and deadline < today):
        raise InitiativeNotOpen()


def _ensure_in_scope(session: Session, scope: VoucherScope, buurt_id: int, initiative_area_id: int) -> None:
    home = areas.lineage_ids(session, buurt_id)  # buurt, wijk, gemeente
    if not within_scope(scope, home, areas.lineage_ids(session, initiative_area_id)):
        raise OutsideVoucherArea()


def within_scope(scope: VoucherScope, home: Sequence[int], target: Sequence[int]) -> bool:
    """May a voucher from `home` (its buurt's lineage: buurt, wijk, gemeente) support an initiative whose
    area has lineage `target`? Its own buurt or anything above it always; with scope wijk also the rest of
    its wijk; with scope gemeente anything."""
    if scope == VoucherScope.gemeente or target[0] in home:
        return True
    return scope == VoucherScope.wijk and len(home) >= 2 and home[1] in target


def receipt_mail_address(text: str) -> str:
    """The household's own address for its receipt, normalised; syntax only, no DNS lookup."""
    try:
        return validate_email(text, check_deliverability=False).normalized
    except EmailNotValidError:
        raise EmailAddressInvalid() from None


def queue_receipt_mail(
    session: Session, settings: Settings, *, pledge_id: int, to: str, locale: str, receipt_url: str
) -> int:
    """Write the receipt of a pledge to the outbox for `to`; the address is blanked once it is sent."""
    pledge = repository.get(session, pledge_id)
    if pledge is None:
        raise ReceiptNotFound()
    card = initiatives.card(session, pledge.initiative_id, statuses=list(InitiativeStatus))
    return enqueue(
        session,
        settings,
        kind="receipt",
        to=to,
        locale=locale,
        context={
            "title": card.title if card is not None else "",
            "amount_cents": pledge.amount_cents,
            "receipt_url": receipt_url,
        },
    )
