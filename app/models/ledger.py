from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, created_column, id_column


class AccountKind(StrEnum):
    pool = "pool"
    """The municipality's pool for one period: it goes negative as vouchers are issued."""
    voucher = "voucher"
    initiative = "initiative"
    payout = "payout"
    """Money paid out to initiators' bank accounts: it only grows (one system account)."""
    clearing = "clearing"
    """Money that arrived from outside (a payment provider): it goes negative (one system account each)."""


class TransferKind(StrEnum):
    issue = "issue"  # pool → voucher
    pledge = "pledge"  # voucher → initiative
    pledge_return = "pledge_return"  # initiative → voucher (initiative ended unfunded)
    pledge_to_pool = "pledge_to_pool"  # initiative → pool (ditto, voucher no longer usable)
    expire = "expire"  # voucher → pool (period ended)
    reissue = "reissue"  # old voucher → new voucher
    payout = "payout"  # initiative → payout (the bank paid the initiator)
    donation = "donation"  # clearing → initiative (Stripe confirmed a donor's payment)
    donation_refund = "donation_refund"  # initiative → clearing (Stripe confirmed the refund)


class LedgerAccount(Base):
    """An account of the double-entry ledger. Only the ledger package writes `balance_cents`."""

    __tablename__ = "ledger_accounts"
    __table_args__ = (
        CheckConstraint("kind IN ('pool', 'voucher', 'initiative', 'payout', 'clearing')", name="kind"),
        # Only a pool or a clearing account may go below zero; the database refuses any overspend of a
        # voucher or initiative.
        CheckConstraint("kind IN ('pool', 'clearing') OR balance_cents >= 0", name="balance_not_negative"),
        CheckConstraint(
            "(CASE WHEN voucher_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN initiative_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN period_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN system_key IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_owner",
        ),
    )

    id: Mapped[int] = id_column()
    kind: Mapped[str] = mapped_column(String(20))
    voucher_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("vouchers.id"), unique=True)
    initiative_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("initiatives.id"), unique=True)
    period_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("voucher_periods.id"), unique=True)
    system_key: Mapped[str | None] = mapped_column(String(20), unique=True)
    """The name of a system account (`payout`, `stripe`) that belongs to no voucher, initiative or period."""
    balance_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    """In euro cents: credits minus debits."""


class LedgerTransfer(Base):
    """One movement of value: `amount_cents` leaves the debit account and arrives in the credit account."""

    __tablename__ = "ledger_transfers"
    __table_args__ = (
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="distinct_accounts"),
        Index("ix_ledger_transfers_debit_account_id", "debit_account_id"),
        Index("ix_ledger_transfers_credit_account_id", "credit_account_id"),
    )

    id: Mapped[int] = id_column()
    debit_account_id: Mapped[int] = mapped_column(IdType, ForeignKey("ledger_accounts.id"))
    credit_account_id: Mapped[int] = mapped_column(IdType, ForeignKey("ledger_accounts.id"))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    """In euro cents, always positive."""
    kind: Mapped[str] = mapped_column(String(20))
    pledge_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("pledges.id"), index=True)
    donation_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("donations.id"), index=True)
    created_at: Mapped[datetime] = created_column()
