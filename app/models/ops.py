"""Operational tables: idempotency keys, rate-limit counters, the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, created_column, id_column


class IdempotencyKey(Base):
    """The first successful response to a request that carried an Idempotency-Key."""

    __tablename__ = "idempotency_keys"

    id: Mapped[int] = id_column()
    key: Mapped[str] = mapped_column(String(300), unique=True)
    """Endpoint and client key, e.g. `pledges:7f9c…`."""
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_column()


class RateCounter(Base):
    """Failed attempts per bucket (a client or everyone) in a fixed time window, shared by all processes."""

    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(120), primary_key=True)
    window_start: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class AuditEvent(Base):
    """Append-only record of who did what, when, with the state before and after. Triggers in the database
    refuse UPDATE and DELETE on this table (migration 0004)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = id_column()
    created_at: Mapped[datetime] = created_column()
    actor: Mapped[str] = mapped_column(String(80), index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(40))
    before: Mapped[str | None] = mapped_column(Text)
    after: Mapped[str | None] = mapped_column(Text)
