from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class InitiativeStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    changes_requested = "changes_requested"
    published = "published"
    funded = "funded"
    completed = "completed"
    rejected = "rejected"
    withdrawn = "withdrawn"
    expired = "expired"
    cancelled = "cancelled"


_STATUSES = ", ".join(f"'{status}'" for status in InitiativeStatus)


class Initiative(Base):
    """A neighbourhood initiative that collects voucher value (and donations) towards a target."""

    __tablename__ = "initiatives"
    __table_args__ = (
        CheckConstraint("target_cents > 0", name="target_positive"),
        CheckConstraint("pledged_cents >= 0", name="pledged_not_negative"),
        # Voucher value never pushes an initiative past its target; the database refuses it too.
        CheckConstraint("pledged_cents <= target_cents", name="pledged_within_target"),
        CheckConstraint("donated_cents >= 0", name="donated_not_negative"),
        CheckConstraint("paid_out_cents >= 0", name="paid_out_not_negative"),
        CheckConstraint(f"status IN ({_STATUSES})", name="status"),
    )

    id: Mapped[int] = id_column()
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(40), default="")
    area_id: Mapped[int] = mapped_column(IdType, ForeignKey("areas.id"), index=True)
    target_cents: Mapped[int] = mapped_column(BigInteger)
    """Amount to raise, in euro cents."""
    pledged_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    """Voucher value currently counted towards the target, in euro cents."""
    donated_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    """Confirmed donor money, in euro cents (may go past the target)."""
    paid_out_cents: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Paid to the initiator's bank account, in euro cents (the initiative account holds raised − paid out)."""
    status: Mapped[str] = mapped_column(String(20), default=InitiativeStatus.draft, index=True)
    deadline: Mapped[date | None] = mapped_column(Date)
    """Last day on which it can collect; unfunded after it, it expires."""
    initiator_name: Mapped[str] = mapped_column(String(120), default="")
    owner_account_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("accounts.id"), index=True)
    """The initiator's account (none for initiatives staff created on a resident's behalf)."""
    created_by_staff_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff_members.id"))
    """The director who entered it on behalf of a resident who is not online."""
    payout_iban: Mapped[str | None] = mapped_column(String(34))
    payout_account_holder: Mapped[str | None] = mapped_column(String(70))
    created_at: Mapped[datetime] = created_column()
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    funded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def raised_cents(self) -> int:
        return self.pledged_cents + self.donated_cents


class InitiativeTransition(Base):
    """Every change of an initiative's status, with who made it and why."""

    __tablename__ = "initiative_transitions"

    id: Mapped[int] = id_column()
    initiative_id: Mapped[int] = mapped_column(IdType, ForeignKey("initiatives.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = created_column()


class BudgetLine(Base):
    """One line of an initiative's budget; the lines add up to the target."""

    __tablename__ = "initiative_budget_lines"
    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = id_column()
    initiative_id: Mapped[int] = mapped_column(IdType, ForeignKey("initiatives.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    """In euro cents."""


class InitiativePhoto(Base):
    """A re-encoded photo of an initiative, stored as a file under the media directory."""

    __tablename__ = "initiative_photos"
    __table_args__ = (UniqueConstraint("initiative_id", "position"),)

    id: Mapped[int] = id_column()
    initiative_id: Mapped[int] = mapped_column(IdType, ForeignKey("initiatives.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(80), unique=True)
    """Random storage name with its extension; never the uploader's file name."""
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    alt_text: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_column()


class Organiser(Base):
    """A co-organiser of an initiative (the municipality sets how many are needed)."""

    __tablename__ = "initiative_organisers"

    id: Mapped[int] = id_column()
    initiative_id: Mapped[int] = mapped_column(IdType, ForeignKey("initiatives.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str] = mapped_column(String(254))
