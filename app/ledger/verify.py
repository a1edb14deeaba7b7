"""`buurtkas ledger verify`: every invariant of the ledger, checked with set-based queries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from app.ledger.donations_check import verify_donations
from app.models import (
    AccountKind,
    Initiative,
    InitiativeStatus,
    LedgerAccount,
    LedgerTransfer,
    Payout,
    PayoutStatus,
    Pledge,
    TransferKind,
    Voucher,
    VoucherStatus,
)

_SHOWN = 20  # violations listed per check; the count is always complete


@dataclass
class VerifyReport:
    accounts: int = 0
    transfers: int = 0
    total_cents: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations


def verify_ledger(session: Session) -> VerifyReport:
    """Check that balances equal the sum of the ledger and that no rule of money is broken."""
    report = VerifyReport()
    acc, tr = LedgerAccount, LedgerTransfer
    report.accounts = session.scalar(select(func.count()).select_from(acc)) or 0
    report.transfers = session.scalar(select(func.count()).select_from(tr)) or 0

    def add(check: str, rows: Sequence[Any]) -> None:
        for row in rows[:_SHOWN]:
            report.violations.append(f"{check}: {tuple(row)}")
        if len(rows) > _SHOWN:
            report.violations.append(f"{check}: … and {len(rows) - _SHOWN} more")

    # 1. Every balance equals credits minus debits.
    legs = union_all(
        select(tr.credit_account_id.label("account_id"), tr.amount_cents.label("delta")),
        select(tr.debit_account_id.label("account_id"), (-tr.amount_cents).label("delta")),
    ).subquery()
    sums = (
        select(legs.c.account_id, func.sum(legs.c.delta).label("total"))
        .group_by(legs.c.account_id)
        .subquery()
    )
    add(
        "balance differs from the sum of its transfers (account, balance, sum)",
        session.execute(
            select(acc.id, acc.balance_cents, func.coalesce(sums.c.total, 0))
            .outerjoin(sums, sums.c.account_id == acc.id)
            .where(acc.balance_cents != func.coalesce(sums.c.total, 0))
        ).all(),
    )

    # 2. All accounts together hold zero.
    report.total_cents = int(session.scalar(select(func.coalesce(func.sum(acc.balance_cents), 0))) or 0)
    if report.total_cents != 0:
        report.violations.append(f"the accounts together hold {report.total_cents} cents, not 0")

    # 3. No voucher, initiative or payout account below zero (pools and clearing accounts may be).
    add(
        "negative balance (account, kind, balance)",
        session.execute(
            select(acc.id, acc.kind, acc.balance_cents).where(
                acc.kind.notin_([AccountKind.pool, AccountKind.clearing]), acc.balance_cents < 0
            )
        ).all(),
    )

    # 4. Every voucher has exactly one account; replaced and expired vouchers hold nothing.
    add(
        "voucher without an account (voucher)",
        session.execute(
            select(Voucher.id).outerjoin(acc, acc.voucher_id == Voucher.id).where(acc.id.is_(None))
        ).all(),
    )
    add(
        "a replaced or expired voucher still holds value (voucher, status, balance)",
        session.execute(
            select(Voucher.id, Voucher.status, acc.balance_cents)
            .join(acc, acc.voucher_id == Voucher.id)
            .where(Voucher.status != VoucherStatus.active, acc.balance_cents != 0)
        ).all(),
    )

    # 5. An initiative's account holds exactly what counts towards it; the counters agree with the pledges.
    open_pledges = (
        select(Pledge.initiative_id, func.sum(Pledge.amount_cents).label("total"))
        .where(Pledge.returned_at.is_(None))
        .group_by(Pledge.initiative_id)
        .subquery()
    )
    add(
        "initiative account differs from pledged + donated - paid out"
        " (initiative, balance, pledged, donated, paid out)",
        session.execute(
            select(
                Initiative.id,
                acc.balance_cents,
                Initiative.pledged_cents,
                Initiative.donated_cents,
                Initiative.paid_out_cents,
            )
            .join(acc, acc.initiative_id == Initiative.id)
            .where(
                acc.balance_cents
                != Initiative.pledged_cents + Initiative.donated_cents - Initiative.paid_out_cents
            )
        ).all(),
    )
    add(
        "initiative's pledged amount differs from its open pledges (initiative, pledged, pledges)",
        session.execute(
            select(Initiative.id, Initiative.pledged_cents, func.coalesce(open_pledges.c.total, 0))
            .outerjoin(open_pledges, open_pledges.c.initiative_id == Initiative.id)
            .where(Initiative.pledged_cents != func.coalesce(open_pledges.c.total, 0))
        ).all(),
    )
    add(
        "voucher value past the target (initiative, pledged, target)",
        session.execute(
            select(Initiative.id, Initiative.pledged_cents, Initiative.target_cents).where(
                Initiative.pledged_cents > Initiative.target_cents
            )
        ).all(),
    )
    raised = Initiative.pledged_cents + Initiative.donated_cents
    add(
        "status does not match the money (initiative, status, raised, target)",
        session.execute(
            select(Initiative.id, Initiative.status, raised, Initiative.target_cents).where(
                or_(
                    and_(Initiative.status == InitiativeStatus.published, raised >= Initiative.target_cents),
                    and_(
                        Initiative.status.in_([InitiativeStatus.funded, InitiativeStatus.completed]),
                        raised < Initiative.target_cents,
                    ),
                    and_(
                        Initiative.status.notin_(
                            [InitiativeStatus.published, InitiativeStatus.funded, InitiativeStatus.completed]
                        ),
                        Initiative.pledged_cents != 0,
                    ),
                )
            )
        ).all(),
    )

    # 6. Each pledge was moved by exactly one pledge transfer of its amount, and returned at most once.
    pledge_moves = (
        select(
            tr.pledge_id,
            func.sum(case((tr.kind == TransferKind.pledge, tr.amount_cents), else_=0)).label("given"),
            func.count().label("moves"),
        )
        .where(tr.pledge_id.is_not(None))
        .group_by(tr.pledge_id)
        .subquery()
    )
    add(
        "pledge and its transfers disagree (pledge, amount, given, moves, returned)",
        session.execute(
            select(
                Pledge.id,
                Pledge.amount_cents,
                func.coalesce(pledge_moves.c.given, 0),
                func.coalesce(pledge_moves.c.moves, 0),
                Pledge.returned_at.is_not(None),
            )
            .outerjoin(pledge_moves, pledge_moves.c.pledge_id == Pledge.id)
            .where(
                or_(
                    func.coalesce(pledge_moves.c.given, 0) != Pledge.amount_cents,
                    and_(Pledge.returned_at.is_(None), func.coalesce(pledge_moves.c.moves, 0) != 1),
                    and_(Pledge.returned_at.is_not(None), func.coalesce(pledge_moves.c.moves, 0) != 2),
                )
            )
        ).all(),
    )
    _verify_payouts(session, add)
    verify_donations(session, add)
    return report


def _verify_payouts(session: Session, add: Callable[[str, Sequence[Any]], None]) -> None:
    """7. Paid payouts and the ledger agree: one payout transfer of its amount for each paid payout (and none
    for any other), the payout account holds their sum, and no initiative is paid more than it raised."""
    acc, tr = LedgerAccount, LedgerTransfer
    debit, credit = aliased(LedgerAccount), aliased(LedgerAccount)
    raised = Initiative.pledged_cents + Initiative.donated_cents
    add(
        "paid out more than raised (initiative, paid out, raised)",
        session.execute(
            select(Initiative.id, Initiative.paid_out_cents, raised).where(Initiative.paid_out_cents > raised)
        ).all(),
    )
    paid = (
        select(Payout.initiative_id, func.sum(Payout.amount_cents).label("total"))
        .where(Payout.status == PayoutStatus.paid)
        .group_by(Payout.initiative_id)
        .subquery()
    )
    add(
        "paid out differs from the paid payouts (initiative, paid out, paid payouts)",
        session.execute(
            select(Initiative.id, Initiative.paid_out_cents, func.coalesce(paid.c.total, 0))
            .outerjoin(paid, paid.c.initiative_id == Initiative.id)
            .where(Initiative.paid_out_cents != func.coalesce(paid.c.total, 0))
        ).all(),
    )
    add(
        "payout transfer not from an initiative to the payout account (transfer, from kind, to kind)",
        session.execute(
            select(tr.id, debit.kind, credit.kind)
            .join(debit, debit.id == tr.debit_account_id)
            .join(credit, credit.id == tr.credit_account_id)
            .where(
                or_(
                    and_(
                        tr.kind == TransferKind.payout,
                        or_(debit.kind != AccountKind.initiative, credit.kind != AccountKind.payout),
                    ),
                    and_(tr.kind != TransferKind.payout, credit.kind == AccountKind.payout),
                )
            )
        ).all(),
    )
    moves = (
        select(
            acc.initiative_id.label("initiative_id"),
            func.count().label("moves"),
            func.sum(tr.amount_cents).label("total"),
        )
        .join(acc, acc.id == tr.debit_account_id)
        .where(tr.kind == TransferKind.payout)
        .group_by(acc.initiative_id)
        .subquery()
    )
    is_paid = Payout.status == PayoutStatus.paid
    add(
        "payout and its transfers disagree (payout, status, amount, moves, moved)",
        session.execute(
            select(
                Payout.id,
                Payout.status,
                Payout.amount_cents,
                func.coalesce(moves.c.moves, 0),
                func.coalesce(moves.c.total, 0),
            )
            .outerjoin(moves, moves.c.initiative_id == Payout.initiative_id)
            .where(
                or_(
                    and_(
                        is_paid,
                        or_(
                            func.coalesce(moves.c.moves, 0) != 1,
                            func.coalesce(moves.c.total, 0) != Payout.amount_cents,
                        ),
                    ),
                    and_(~is_paid, func.coalesce(moves.c.moves, 0) != 0),
                )
            )
        ).all(),
    )
    add(
        "payout transfer without a payout (initiative, moves, moved)",
        session.execute(
            select(moves.c.initiative_id, moves.c.moves, moves.c.total)
            .outerjoin(Payout, Payout.initiative_id == moves.c.initiative_id)
            .where(Payout.id.is_(None))
        ).all(),
    )
    payout_balance = func.coalesce(
        select(func.sum(acc.balance_cents)).where(acc.kind == AccountKind.payout).scalar_subquery(), 0
    )
    paid_total = func.coalesce(select(func.sum(Payout.amount_cents)).where(is_paid).scalar_subquery(), 0)
    add(
        "the payout account differs from the paid payouts (balance, paid payouts)",
        session.execute(select(payout_balance, paid_total).where(payout_balance != paid_total)).all(),
    )
