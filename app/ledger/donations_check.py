"""`buurtkas ledger verify`, part 8: donations and their refunds agree with the ledger."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from app.initiatives.states import ENDS_UNFUNDED
from app.models import (
    AccountKind,
    Donation,
    DonationRefund,
    DonationStatus,
    Initiative,
    InitiativeStatus,
    LedgerAccount,
    LedgerTransfer,
    RefundStatus,
    TransferKind,
)

BOOKED = (DonationStatus.paid, DonationStatus.refunding, DonationStatus.refunded)
"""Donations whose payment Stripe confirmed (the money arrived, whatever happened after)."""
COUNTING = (DonationStatus.paid, DonationStatus.refunding)
"""Donations whose money is on the initiative (not refunded yet)."""


def verify_donations(session: Session, add: Callable[[str, Sequence[Any]], None]) -> None:
    acc, tr = LedgerAccount, LedgerTransfer
    debit, credit = aliased(LedgerAccount), aliased(LedgerAccount)
    counting = (
        select(Donation.initiative_id, func.sum(Donation.amount_cents).label("total"))
        .where(Donation.status.in_(COUNTING))
        .group_by(Donation.initiative_id)
        .subquery()
    )
    add(
        "initiative's donated amount differs from its confirmed donations (initiative, donated, donations)",
        session.execute(
            select(Initiative.id, Initiative.donated_cents, func.coalesce(counting.c.total, 0))
            .outerjoin(counting, counting.c.initiative_id == Initiative.id)
            .where(Initiative.donated_cents != func.coalesce(counting.c.total, 0))
        ).all(),
    )
    moves = (
        select(
            tr.donation_id,
            func.sum(case((tr.kind == TransferKind.donation, 1), else_=0)).label("in_count"),
            func.sum(case((tr.kind == TransferKind.donation, tr.amount_cents), else_=0)).label("in_total"),
            func.sum(case((tr.kind == TransferKind.donation_refund, 1), else_=0)).label("out_count"),
            func.sum(case((tr.kind == TransferKind.donation_refund, tr.amount_cents), else_=0)).label(
                "out_total"
            ),
        )
        .where(tr.donation_id.is_not(None))
        .group_by(tr.donation_id)
        .subquery()
    )
    in_count, in_total = func.coalesce(moves.c.in_count, 0), func.coalesce(moves.c.in_total, 0)
    out_count, out_total = func.coalesce(moves.c.out_count, 0), func.coalesce(moves.c.out_total, 0)
    booked = Donation.status.in_(BOOKED)
    refunded = Donation.status == DonationStatus.refunded
    add(
        "donation and its transfers disagree (donation, status, amount, received, refunded)",
        session.execute(
            select(Donation.id, Donation.status, Donation.amount_cents, in_total, out_total)
            .outerjoin(moves, moves.c.donation_id == Donation.id)
            .where(
                or_(
                    and_(booked, or_(in_count != 1, in_total != Donation.amount_cents)),
                    and_(~booked, in_count != 0),
                    and_(refunded, or_(out_count != 1, out_total != Donation.amount_cents)),
                    and_(~refunded, out_count != 0),
                )
            )
        ).all(),
    )
    add(
        "donation transfer not between the Stripe clearing account and an initiative (transfer, from, to)",
        session.execute(
            select(tr.id, debit.kind, credit.kind)
            .join(debit, debit.id == tr.debit_account_id)
            .join(credit, credit.id == tr.credit_account_id)
            .where(
                or_(
                    and_(
                        tr.kind == TransferKind.donation,
                        or_(debit.kind != AccountKind.clearing, credit.kind != AccountKind.initiative),
                    ),
                    and_(
                        tr.kind == TransferKind.donation_refund,
                        or_(debit.kind != AccountKind.initiative, credit.kind != AccountKind.clearing),
                    ),
                    and_(
                        tr.kind.in_([TransferKind.donation, TransferKind.donation_refund]),
                        tr.donation_id.is_(None),
                    ),
                )
            )
        ).all(),
    )
    clearing = func.coalesce(
        select(func.sum(acc.balance_cents)).where(acc.kind == AccountKind.clearing).scalar_subquery(), 0
    )
    outstanding = func.coalesce(
        select(func.sum(Donation.amount_cents)).where(Donation.status.in_(COUNTING)).scalar_subquery(), 0
    )
    add(
        "the Stripe clearing account differs from the confirmed, unrefunded donations (balance, donations)",
        session.execute(select(clearing, outstanding).where(clearing != -outstanding)).all(),
    )
    add(
        "a refunding donation has no refund, or a refund's state disagrees with its donation"
        " (donation, status, refund status)",
        session.execute(
            select(Donation.id, Donation.status, DonationRefund.status)
            .outerjoin(DonationRefund, DonationRefund.donation_id == Donation.id)
            .where(
                or_(
                    and_(Donation.status == DonationStatus.refunding, DonationRefund.id.is_(None)),
                    and_(
                        Donation.status == DonationStatus.refunding,
                        DonationRefund.status == RefundStatus.succeeded,
                    ),
                    and_(
                        refunded,
                        or_(DonationRefund.id.is_(None), DonationRefund.status != RefundStatus.succeeded),
                    ),
                    and_(
                        ~Donation.status.in_([DonationStatus.refunding, DonationStatus.refunded]),
                        DonationRefund.id.is_not(None),
                    ),
                )
            )
        ).all(),
    )
    ended = [*ENDS_UNFUNDED, InitiativeStatus.rejected]
    add(
        "a paid donation of an initiative that ended unfunded is not being refunded (donation, initiative, status)",
        session.execute(
            select(Donation.id, Initiative.id, Initiative.status)
            .join(Initiative, Initiative.id == Donation.initiative_id)
            .where(Donation.status == DonationStatus.paid, Initiative.status.in_(ended))
        ).all(),
    )
