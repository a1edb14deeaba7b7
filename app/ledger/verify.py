"""`buurtkas ledger verify`: every invariant of the ledger, checked with set-based queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, or_, select, union_all
from sqlalchemy.orm import Session

from app.models import (
    AccountKind,
    Initiative,
    InitiativeStatus,
    LedgerAccount,
    LedgerTransfer,
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

    # 3. No voucher or initiative account below zero.
    add(
        "negative balance (account, kind, balance)",
        session.execute(
            select(acc.id, acc.kind, acc.balance_cents).where(
                acc.kind != AccountKind.pool, acc.balance_cents < 0
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
        "initiative account differs from pledged + donated (initiative, balance, pledged, donated)",
        session.execute(
            select(Initiative.id, acc.balance_cents, Initiative.pledged_cents, Initiative.donated_cents)
            .join(acc, acc.initiative_id == Initiative.id)
            .where(acc.balance_cents != Initiative.pledged_cents + Initiative.donated_cents)
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
    return report
