from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdType, UTCDateTime, created_column, id_column


class StaffRole(StrEnum):
    director = "director"
    """A wijkregisseur: acts only within the wijken granted (and gemeente-wide items if granted)."""
    admin = "admin"
    """A beheerder: everything, everywhere."""


class StaffMember(Base):
    """A municipal employee with a back-office account: password (argon2) and TOTP are both required."""

    __tablename__ = "staff_members"
    __table_args__ = (
        CheckConstraint("role IN ('director', 'admin')", name="role"),
        CheckConstraint("failed_attempts >= 0", name="failed_attempts_not_negative"),
    )

    id: Mapped[int] = id_column()
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """None until the invited employee sets a password."""
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    """The TOTP secret, encrypted with a key derived from SECRET_KEY (a database dump alone is not enough)."""
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_totp_step: Mapped[int | None] = mapped_column(BigInteger)
    """The 30-second step of the last accepted code: a code is accepted once."""
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    gemeente_wide: Mapped[bool] = mapped_column(Boolean, default=False)
    """A director who may also act on items for the whole gemeente."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(5), default="nl")
    created_at: Mapped[datetime] = created_column()
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class StaffArea(Base):
    """A wijk a director is responsible for (and with it, its buurten)."""

    __tablename__ = "staff_areas"

    staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff_members.id"), primary_key=True)
    area_id: Mapped[int] = mapped_column(IdType, ForeignKey("areas.id"), primary_key=True)


class StaffSession(Base):
    """A signed-in back-office session: only the token's SHA-256 is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = id_column()
    staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff_members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = created_column()
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
