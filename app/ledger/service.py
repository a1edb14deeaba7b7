"""Moving value between accounts.

Every movement is one `ledger_transfers` row plus two balance updates in the same transaction. The
debit side is a guarded `UPDATE … WHERE balance_cents >= :amount`, and CHECK constraints refuse a negative
voucher or initiative balance, so even a bug elsewhere cannot overspend. Pools may go negative: a pool's
debit is the value the municipality has put into circulation for its period; so may a clearing account: its
debit is the money that arrived from outside (Stripe) and is now on initiatives.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Table, bindparam, case, func, insert, literal, select, update
from sqlalchemy.orm import Session

from app.db import rowcount, upsert_insert
from app.models import (
    AccountKind,
    Initiative,
    InitiativeStatus,
    LedgerAccount,
    LedgerTransfer,
    TransferKind,
    Voucher,
)
from app.models.base import UTCDateTime, utcnow

accounts: Table = LedgerAccount.__table__  # type: ignore[assignment]
transfers: Table = LedgerTransfer.__table__  # type: ignore[assignment]
initiatives: Table = Initiative.__table__  # type: ignore[assignment]
vouchers: Table = Voucher.__table__  # type: ignore[assignment]


class InsufficientBalance(Exception):
    """The debit account does not hold the amount (any more): nothing moved."""


class NoRoomLeft(Exception):
    """The initiative is not open, or the amount would push its voucher value past the target."""


def open_account(
    session: Session,
    kind: AccountKind,
    *,
    voucher_id: int | None = None,
    initiative_id: int | None = None,
    period_id: int | None = None,
) -> int:
    """Create an empty account and return its id."""
    return session.execute(
        insert(accounts)
        .values(
            kind=kind,
            voucher_id=voucher_id,
            initiative_id=initiative_id,
            period_id=period_id,
            balance_cents=0,
        )
        .returning(accounts.c.id)
    ).scalar_one()


def account_id_for(
    session: Session,
    *,
    voucher_id: int | None = None,
    initiative_id: int | None = None,
    period_id: int | None = None,
) -> int:
    column, value = (
        (accounts.c.voucher_id, voucher_id)
        if voucher_id is not None
        else (accounts.c.initiative_id, initiative_id)
        if initiative_id is not None
        else (accounts.c.period_id, period_id)
    )
    return session.execute(select(accounts.c.id).where(column == value)).scalar_one()


_DEBIT = (
    update(accounts)
    .where(
        accounts.c.id == bindparam("debit_id"),
        accounts.c.kind.in_([AccountKind.pool.value, AccountKind.clearing.value])
        | (accounts.c.balance_cents >= bindparam("amount")),
    )
    .values(balance_cents=accounts.c.balance_cents - bindparam("amount"))
    .returning(accounts.c.balance_cents)
)
_CREDIT = (
    update(accounts)
    .where(accounts.c.id == bindparam("credit_id"))
    .values(balance_cents=accounts.c.balance_cents + bindparam("amount"))
)
_TRANSFER = insert(transfers).values(
    debit_account_id=bindparam("debit_id"),
    credit_account_id=bindparam("credit_id"),
    amount_cents=bindparam("amount"),
    kind=bindparam("kind"),
    pledge_id=bindparam("pledge_id"),
    donation_id=bindparam("donation_id"),
    created_at=bindparam("now", type_=UTCDateTime()),
)
_REACHES = (
    initiatives.c.pledged_cents + initiatives.c.donated_cents + bindparam("amount")
    >= initiatives.c.target_cents
)
_RESERVE = (
    update(initiatives)
    .where(
        initiatives.c.id == bindparam("initiative_id"),
        initiatives.c.status == InitiativeStatus.published.value,
        (initiatives.c.deadline.is_(None)) | (initiatives.c.deadline >= bindparam("today")),
        initiatives.c.pledged_cents + initiatives.c.donated_cents + bindparam("amount")
        <= initiatives.c.target_cents,
    )
    .values(
        pledged_cents=initiatives.c.pledged_cents + bindparam("amount"),
        status=case((_REACHES, literal(InitiativeStatus.funded.value)), else_=initiatives.c.status),
        funded_at=case((_REACHES, bindparam("now", type_=UTCDateTime())), else_=initiatives.c.funded_at),
    )
    .returning(
        initiatives.c.pledged_cents + initiatives.c.donated_cents,
        initiatives.c.target_cents,
        initiatives.c.status,
    )
)


def transfer(
    session: Session,
    *,
    debit_account_id: int,
    credit_account_id: int,
    amount_cents: int,
    kind: TransferKind,
    pledge_id: int | None = None,
    donation_id: int | None = None,
) -> int:
    """Move `amount_cents` from one account to another; returns the debit account's new balance."""
    if amount_cents <= 0:
        raise ValueError("a transfer moves a positive amount")
    conn = session.connection()
    new_debit_balance = conn.execute(
        _DEBIT, {"debit_id": debit_account_id, "amount": amount_cents}
    ).scalar_one_or_none()
    if new_debit_balance is None:
        raise InsufficientBalance()
    conn.execute(_CREDIT, {"credit_id": credit_account_id, "amount": amount_cents})
    conn.execute(
        _TRANSFER,
        {
            "debit_id": debit_account_id,
            "credit_id": credit_account_id,
            "amount": amount_cents,
            "kind": str(kind),
            "pledge_id": pledge_id,
            "donation_id": donation_id,
            "now": utcnow(),
        },
    )
    return new_debit_balance


def reserve_room(
    session: Session, *, initiative_id: int, amount_cents: int, today: date
) -> tuple[int, int, str]:
    """Count `amount_cents` of voucher value towards an open initiative, or raise NoRoomLeft.

    One guarded UPDATE: the initiative must be published, before its deadline, and the amount must fit
    under the target. It becomes `funded` in the same statement when it reaches the target.
    Returns (raised_cents, target_cents, status) after the update.
    """
    row = (
        session.connection()
        .execute(
            _RESERVE,
            {"initiative_id": initiative_id, "amount": amount_cents, "today": today, "now": utcnow()},
        )
        .one_or_none()
    )
    if row is None:
        raise NoRoomLeft()
    return int(row[0]), int(row[1]), str(row[2])


def release_pledged(session: Session, *, initiative_id: int, amount_cents: int) -> None:
    """Stop counting returned voucher value towards an initiative (it ended unfunded)."""
    result = session.execute(
        update(initiatives)
        .where(initiatives.c.id == initiative_id, initiatives.c.pledged_cents >= amount_cents)
        .values(pledged_cents=initiatives.c.pledged_cents - amount_cents)
    )
    if rowcount(result) != 1:
        raise InsufficientBalance()


def issue_to_new_vouchers(session: Session, *, pool_account_id: int, period_id: int, value_cents: int) -> int:
    """Open an account for every voucher of the period that has none and credit it from the pool, set-based.

    Three statements whatever the number of vouchers. A just-opened account is recognised as one holding
    exactly the face value without ever having been credited: any other account got its value by a transfer.
    Returns the number of vouchers credited.
    """
    has_account = select(accounts.c.id).where(accounts.c.voucher_id == vouchers.c.id).exists()
    # Counted first: an INSERT … SELECT's rowcount is not reported by every driver.
    issued = int(
        session.scalar(select(func.count()).where(vouchers.c.period_id == period_id, ~has_account)) or 0
    )
    session.execute(
        insert(accounts).from_select(
            ["kind", "voucher_id", "balance_cents"],
            select(literal(AccountKind.voucher.value), vouchers.c.id, literal(value_cents))
            .where(vouchers.c.period_id == period_id, ~has_account)
            .order_by(vouchers.c.id),
        )
    )
    credited = select(transfers.c.id).where(transfers.c.credit_account_id == accounts.c.id).exists()
    session.execute(
        insert(transfers).from_select(
            ["debit_account_id", "credit_account_id", "amount_cents", "kind", "created_at"],
            select(
                literal(pool_account_id),
                accounts.c.id,
                literal(value_cents),
                literal(TransferKind.issue.value),
                literal(utcnow(), UTCDateTime()),
            )
            .join(vouchers, vouchers.c.id == accounts.c.voucher_id)
            .where(vouchers.c.period_id == period_id, accounts.c.balance_cents == value_cents, ~credited)
            .order_by(accounts.c.id),
        )
    )
    session.execute(
        update(accounts)
        .where(accounts.c.id == pool_account_id)
        .values(balance_cents=accounts.c.balance_cents - value_cents * issued)
    )
    return issued


PAYOUT_ACCOUNT = "payout"
"""`system_key` of the one account that receives what was paid to initiators' bank accounts."""


def system_account_id(session: Session, key: str, kind: AccountKind) -> int:
    """The id of the system account `key`, opened on first use.

    Two transactions that use it for the first time at once open one account: the insert does nothing when
    the unique `system_key` is taken (PostgreSQL waits for the other transaction and then sees its row).
    """
    found = session.execute(select(accounts.c.id).where(accounts.c.system_key == key)).scalar_one_or_none()
    if found is not None:
        return int(found)
    session.execute(
        upsert_insert(session)(accounts)
        .values(kind=kind, system_key=key, balance_cents=0)
        .on_conflict_do_nothing(index_elements=[accounts.c.system_key])
    )
    return int(session.execute(select(accounts.c.id).where(accounts.c.system_key == key)).scalar_one())


def pay_out(session: Session, *, initiative_id: int, amount_cents: int) -> int:
    """The bank paid `amount_cents` of the initiative's money to the initiator: count it as paid out and move
    it from the initiative's account to the payout account, in the caller's transaction.

    Both steps are guarded: `paid_out_cents` never passes what was raised, and the debit never takes more
    than the initiative account holds. Raises InsufficientBalance (nothing moved; roll back) otherwise.
    Returns the initiative account's new balance.
    """
    if amount_cents <= 0:
        raise ValueError("a payout moves a positive amount")
    counted = session.execute(
        update(initiatives)
        .where(
            initiatives.c.id == initiative_id,
            initiatives.c.paid_out_cents + amount_cents
            <= initiatives.c.pledged_cents + initiatives.c.donated_cents,
        )
        .values(paid_out_cents=initiatives.c.paid_out_cents + amount_cents)
    )
    if rowcount(counted) != 1:
        raise InsufficientBalance()
    return transfer(
        session,
        debit_account_id=account_id_for(session, initiative_id=initiative_id),
        credit_account_id=system_account_id(session, PAYOUT_ACCOUNT, AccountKind.payout),
        amount_cents=amount_cents,
        kind=TransferKind.payout,
    )


STRIPE_CLEARING = "stripe"
"""`system_key` of the clearing account for money that arrived through Stripe (it goes negative)."""


def receive_donation(session: Session, *, initiative_id: int, donation_id: int, amount_cents: int) -> bool:
    """Stripe confirmed a donor's payment: count it on the initiative and move it from the Stripe clearing
    account to the initiative's account, in the caller's transaction.

    A donation may take the initiative past its target; a published initiative that reaches its target
    with it becomes funded (returns True then). It never touches voucher pledges already counted.
    """
    if amount_cents <= 0:
        raise ValueError("a donation moves a positive amount")
    reaches = (
        initiatives.c.pledged_cents + initiatives.c.donated_cents + amount_cents >= initiatives.c.target_cents
    )
    becomes_funded = (initiatives.c.status == InitiativeStatus.published.value) & reaches
    before = session.execute(
        select(initiatives.c.status).where(initiatives.c.id == initiative_id).with_for_update()
    ).scalar_one()
    status = session.execute(
        update(initiatives)
        .where(initiatives.c.id == initiative_id)
        .values(
            donated_cents=initiatives.c.donated_cents + amount_cents,
            status=case((becomes_funded, literal(InitiativeStatus.funded.value)), else_=initiatives.c.status),
            funded_at=case((becomes_funded, literal(utcnow(), UTCDateTime())), else_=initiatives.c.funded_at),
        )
        .returning(initiatives.c.status)
    ).scalar_one()
    transfer(
        session,
        debit_account_id=system_account_id(session, STRIPE_CLEARING, AccountKind.clearing),
        credit_account_id=account_id_for(session, initiative_id=initiative_id),
        amount_cents=amount_cents,
        kind=TransferKind.donation,
        donation_id=donation_id,
    )
    return before != status


def return_donation(session: Session, *, initiative_id: int, donation_id: int, amount_cents: int) -> None:
    """Stripe confirmed the refund of a donation: stop counting it and move it from the initiative's account
    back to the Stripe clearing account. Guarded like a payout; raises InsufficientBalance (roll back)."""
    if amount_cents <= 0:
        raise ValueError("a refund moves a positive amount")
    counted = session.execute(
        update(initiatives)
        .where(
            initiatives.c.id == initiative_id,
            initiatives.c.donated_cents >= amount_cents,
            initiatives.c.paid_out_cents
            <= initiatives.c.pledged_cents + initiatives.c.donated_cents - amount_cents,
        )
        .values(donated_cents=initiatives.c.donated_cents - amount_cents)
    )
    if rowcount(counted) != 1:
        raise InsufficientBalance()
    transfer(
        session,
        debit_account_id=account_id_for(session, initiative_id=initiative_id),
        credit_account_id=system_account_id(session, STRIPE_CLEARING, AccountKind.clearing),
        amount_cents=amount_cents,
        kind=TransferKind.donation_refund,
        donation_id=donation_id,
    )
