"""`buurtkas tick`: the scheduled work, safe to run from several machines at once (mail included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.accounts.service import purge_expired as purge_expired_sign_ins
from app.db import Database
from app.donations import events as stripe_events
from app.donations.gateway import build_gateway
from app.donations.refunds import RefundReport, process_refunds
from app.initiatives.notifications import remind_deadlines
from app.initiatives.service import expire_past_deadline
from app.kit.ratelimit import purge_old_windows
from app.mail.sender import SendReport, send_due
from app.staff.service import purge_sessions as purge_staff_sessions
from app.vouchers.service import expire_ended_periods

_TICK_LOCK = 0x42554B54  # "BUKT": one advisory lock id for the whole tick


@dataclass
class TickReport:
    ran: bool = True
    initiatives_expired: list[int] = field(default_factory=list)
    periods_closed: list[tuple[str, int, int]] = field(default_factory=list)
    counters_purged: int = 0
    sessions_purged: int = 0
    deadline_reminders: int = 0
    tokens_purged: int = 0
    mail: SendReport = field(default_factory=SendReport)
    events_retried: int = 0
    refunds: RefundReport | None = None

    def summary(self) -> str:
        if not self.ran:
            return "tick: another tick is running; nothing done"
        parts = [f"{len(self.initiatives_expired)} initiative(s) expired"]
        if self.deadline_reminders:
            parts.append(f"{self.deadline_reminders} deadline reminder(s) queued")
        parts += [
            f"period {name!r} closed: {count} vouchers expired, {cents} cents to the pool"
            for name, count, cents in self.periods_closed
        ]
        parts.append(f"{self.counters_purged} old rate counters purged")
        parts.append(f"{self.sessions_purged} expired sessions and {self.tokens_purged} used links removed")
        if self.events_retried:
            parts.append(f"{self.events_retried} Stripe event(s) retried")
        if self.refunds is not None:
            parts.append(self.refunds.summary())
        parts.append(self.mail.summary())
        return "tick: " + "; ".join(parts)


def _acquire(session: Session) -> bool:
    """PostgreSQL: a transaction-scoped advisory lock; SQLite: BEGIN IMMEDIATE already serialises."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _TICK_LOCK}).scalar())


def run_tick(db: Database, *, today: date, actor: str) -> TickReport:
    def work(session: Session) -> TickReport:
        report = TickReport()
        if not _acquire(session):
            report.ran = False
            return report
        report.initiatives_expired = expire_past_deadline(
            session, today=today, actor=actor, settings=db.settings
        )
        report.deadline_reminders = remind_deadlines(session, db.settings, today=today)
        report.periods_closed = expire_ended_periods(session, today=today, actor=actor)
        report.sessions_purged, report.tokens_purged = purge_expired_sign_ins(session)
        report.sessions_purged += purge_staff_sessions(session)
        stripe_events.purge_signatures(session, db.settings)
        return report

    report = db.run_write(work)
    if report.ran:
        report.counters_purged = purge_old_windows(db)
        # Stripe calls happen outside any transaction; each answer is booked in its own.
        gateway = build_gateway(db.settings)
        if gateway is not None:
            report.events_retried = stripe_events.process_pending(db)
            report.refunds = process_refunds(db, gateway)
        # Last, after the work above committed: whatever it wrote to the outbox goes out in this tick.
        report.mail = send_due(db, db.settings)
    return report
