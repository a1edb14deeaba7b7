"""Retention: initiators' and donors' personal data goes a set time after their initiative closed.

An initiative is closed when it is completed, rejected, expired, cancelled or withdrawn; `closed_at` says
since when. RETENTION_DAYS (365) after that, `buurtkas retention run` removes, in one transaction:

- the co-organisers (names and e-mail addresses) and the initiator's name on the initiative;
- the payout account (IBAN and holder) on the initiative, and on its payout once the bank paid it (an
  unpaid payout keeps it), also inside the stored SEPA file (that payment's name and IBAN);
- the owner's account (e-mail address, name, password, sessions, links) when it has no other initiative
  that is still open or closed for less than the retention time; the account stays, anonymised, so the
  initiative keeps its owner id;
- the donors' names and e-mail addresses on donations that are settled (paid, refunded, failed, expired;
  a refund still under way keeps them), and the Stripe events about them (their payload);
- sent or failed e-mails to any of these addresses from before the cut-off (pending ones are kept).

Kept: the ledger, every amount, the initiatives' titles, texts and photos, and the audit log (append-only;
it names people by id and holds only the last four IBAN digits). A second run changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, not_, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from app.audit.service import record
from app.config import Settings
from app.db import Database
from app.models import (
    Account,
    AccountSession,
    AccountToken,
    Donation,
    DonationStatus,
    Initiative,
    InitiativeStatus,
    Organiser,
    OutboxMessage,
    OutboxStatus,
    Payout,
    PayoutBatch,
    PayoutStatus,
    StripeEvent,
)

DEFAULT_RETENTION_DAYS = 365
CLOSED = (
    InitiativeStatus.completed,
    InitiativeStatus.rejected,
    InitiativeStatus.expired,
    InitiativeStatus.cancelled,
    InitiativeStatus.withdrawn,
)
SETTLED_DONATIONS = (
    DonationStatus.paid,
    DonationStatus.refunded,
    DonationStatus.failed,
    DonationStatus.expired,
)
REMOVED_DOMAIN = "verwijderd.invalid"
REMOVED = "VERWIJDERD"
REDACTED_EVENT = '{"redacted": true}'


def removed_address(account_id: int) -> str:
    """The e-mail address of an anonymised account: unique, never deliverable (.invalid, RFC 2606)."""
    return f"account-{account_id}@{REMOVED_DOMAIN}"


@dataclass
class RetentionReport:
    cutoff: datetime
    days: int
    dry_run: bool = False
    initiatives: int = 0
    """Closed initiatives past the cut-off whose initiator name or payout account was removed."""
    organisers: int = 0
    accounts: int = 0
    accounts_kept: list[int] = field(default_factory=list)
    """Owners of such initiatives who keep their data for another initiative (ids)."""
    payouts: int = 0
    payout_files: int = 0
    donations: int = 0
    stripe_events: int = 0
    mails: int = 0

    @property
    def changed(self) -> bool:
        return any(
            (
                self.initiatives,
                self.organisers,
                self.accounts,
                self.payouts,
                self.payout_files,
                self.donations,
                self.stripe_events,
                self.mails,
            )
        )

    def counts(self) -> dict[str, int]:
        return {
            "initiatives": self.initiatives,
            "organisers": self.organisers,
            "accounts": self.accounts,
            "payouts": self.payouts,
            "payout_files": self.payout_files,
            "donations": self.donations,
            "stripe_events": self.stripe_events,
            "mails": self.mails,
        }

    def lines(self) -> list[str]:
        verb = "would remove" if self.dry_run else "removed"
        lines = [
            f"retention: personal data of initiatives closed before {self.cutoff:%Y-%m-%d %H:%M} UTC"
            f" ({self.days} days)",
            f"  initiatives (initiator name, payout account): {self.initiatives}",
            f"  co-organisers: {self.organisers}",
            f"  accounts anonymised: {self.accounts}"
            + (f" (kept for another initiative: {len(self.accounts_kept)})" if self.accounts_kept else ""),
            f"  paid payouts (IBAN, holder): {self.payouts}, in {self.payout_files} SEPA file(s)",
            f"  donations (donor name, e-mail): {self.donations}; Stripe events: {self.stripe_events}",
            f"  sent e-mails to these addresses: {self.mails}",
        ]
        if not self.changed:
            lines.append("retention: nothing to remove")
        elif self.dry_run:
            lines.append("retention: dry run, nothing changed")
        else:
            lines.append(f"retention: {verb} the data above; ledger, amounts and audit log untouched")
        return lines


def _rows(result: object) -> int:
    assert isinstance(result, CursorResult)
    return max(int(result.rowcount or 0), 0)


class _DryRun(Exception):
    def __init__(self, report: RetentionReport) -> None:
        super().__init__("dry run")
        self.report = report


def retention_days(settings: Settings) -> int:
    return settings.retention_days


def run(db: Database, *, now: datetime, days: int, actor: str, dry_run: bool = False) -> RetentionReport:
    """One transaction; a dry run does all of it and rolls it back, so it counts exactly what a run would."""

    def work(session: Session) -> RetentionReport:
        report = run_retention(session, now=now, days=days, actor=actor)
        if dry_run:
            report.dry_run = True
            raise _DryRun(report)
        return report

    try:
        return db.run_write(work)
    except _DryRun as stopped:
        return stopped.report


def run_retention(session: Session, *, now: datetime, days: int, actor: str) -> RetentionReport:
    """Remove what the retention rules say is due, in the caller's transaction; returns what it did."""
    if days < 0:
        raise ValueError("retention days must not be negative")
    cutoff = now - timedelta(days=days)
    report = RetentionReport(cutoff=cutoff, days=days)
    past_cutoff = and_(
        Initiative.status.in_([status.value for status in CLOSED]),
        Initiative.closed_at.is_not(None),
        Initiative.closed_at <= cutoff,
    )
    due = list(session.scalars(select(Initiative.id).where(past_cutoff).order_by(Initiative.id)))
    if not due:
        return report
    addresses: set[str] = set()

    # co-organisers
    addresses.update(session.scalars(select(Organiser.email).where(Organiser.initiative_id.in_(due))))
    report.organisers = _rows(session.execute(delete(Organiser).where(Organiser.initiative_id.in_(due))))

    # payouts the bank paid: their IBAN and holder, also in the stored SEPA file
    paid = session.execute(
        select(Payout.id, Payout.batch_id, Payout.end_to_end_id).where(
            Payout.initiative_id.in_(due),
            Payout.status == PayoutStatus.paid,
            or_(Payout.iban != "", Payout.account_holder != ""),
        )
    ).all()
    if paid:
        session.execute(
            update(Payout).where(Payout.id.in_([row[0] for row in paid])).values(iban="", account_holder="")
        )
        report.payouts = len(paid)
        by_batch: dict[int, list[str]] = {}
        for _, batch_id, end_to_end_id in paid:
            if batch_id is not None:
                by_batch.setdefault(int(batch_id), []).append(end_to_end_id)
        for batch_id, end_to_end_ids in sorted(by_batch.items()):
            xml = session.scalar(select(PayoutBatch.sepa_xml).where(PayoutBatch.id == batch_id)) or ""
            cleaned = scrub_sepa(xml, end_to_end_ids)
            if cleaned != xml:
                session.execute(
                    update(PayoutBatch).where(PayoutBatch.id == batch_id).values(sepa_xml=cleaned)
                )
                report.payout_files += 1

    # the initiative's own fields: the initiator's name; the payout account unless a payout still needs it
    unpaid_payout = exists().where(Payout.initiative_id == Initiative.id, Payout.status != PayoutStatus.paid)
    holds_name = Initiative.initiator_name != ""
    holds_account = or_(Initiative.payout_iban.is_not(None), Initiative.payout_account_holder.is_not(None))
    report.initiatives = _rows(
        session.execute(
            update(Initiative)
            .where(Initiative.id.in_(due), or_(holds_name, and_(holds_account, not_(unpaid_payout))))
            .values(
                initiator_name="",
                payout_iban=_unless_unpaid(Initiative.payout_iban, unpaid_payout),
                payout_account_holder=_unless_unpaid(Initiative.payout_account_holder, unpaid_payout),
            )
            .execution_options(synchronize_session=False)
        )
    )

    # owners' accounts, when no other initiative of theirs is open or recently closed
    owners = sorted(
        {
            int(owner)
            for owner in session.scalars(
                select(Initiative.owner_account_id).where(
                    Initiative.id.in_(due), Initiative.owner_account_id.is_not(None)
                )
            )
            if owner is not None
        }
    )
    live = set(
        session.scalars(
            select(Initiative.owner_account_id).where(
                Initiative.owner_account_id.in_(owners), not_(past_cutoff)
            )
        )
    )
    report.accounts_kept = [owner for owner in owners if owner in live]
    for account_id in (owner for owner in owners if owner not in live):
        email = session.scalar(select(Account.email).where(Account.id == account_id))
        placeholder = removed_address(account_id)
        if email is None or email == placeholder:
            continue
        addresses.add(email)
        session.execute(delete(AccountSession).where(AccountSession.account_id == account_id))
        session.execute(delete(AccountToken).where(AccountToken.account_id == account_id))
        session.execute(
            update(Account)
            .where(Account.id == account_id)
            .values(email=placeholder, display_name="", password_hash=None, email_verified_at=None)
        )
        report.accounts += 1

    # donors, once their donation is settled, and the Stripe events that name them
    donations = session.execute(
        select(Donation.id, Donation.email, Donation.public_id, Donation.checkout_session_id).where(
            Donation.initiative_id.in_(due),
            Donation.status.in_([status.value for status in SETTLED_DONATIONS]),
            or_(Donation.donor_name != "", Donation.email.is_not(None)),
        )
    ).all()
    if donations:
        session.execute(
            update(Donation)
            .where(Donation.id.in_([row[0] for row in donations]))
            .values(donor_name="", email=None)
        )
        report.donations = len(donations)
        addresses.update(row[1] for row in donations if row[1])
        report.stripe_events = _scrub_events(session, _markers(row[2:] for row in donations))

    # what was sent to them (pending messages still go out)
    lowered = sorted({address.strip().lower() for address in addresses if address and address.strip()})
    for start in range(0, len(lowered), 500):
        report.mails += _rows(
            session.execute(
                delete(OutboxMessage).where(
                    func.lower(OutboxMessage.to_address).in_(lowered[start : start + 500]),
                    OutboxMessage.status != OutboxStatus.pending,
                    OutboxMessage.created_at <= cutoff,
                )
            )
        )

    if report.changed:
        record(
            session,
            actor=actor,
            action="retention.run",
            subject_type="retention",
            subject_id=f"{cutoff:%Y-%m-%d}",
            after={"days": days, "cutoff": cutoff.isoformat(), **report.counts()},
        )
    return report


def _unless_unpaid(column: object, unpaid_payout: object) -> object:
    from sqlalchemy import case

    return case((unpaid_payout, column), else_=None)  # type: ignore[arg-type]


def _markers(values: Iterable[tuple[object, ...]]) -> list[str]:
    return sorted({str(value) for row in values for value in row if value})


def _scrub_events(session: Session, markers: list[str]) -> int:
    """Empty the payload of processed Stripe events that mention one of the donations (by id)."""
    if not markers:
        return 0
    changed = 0
    for start in range(0, len(markers), 100):
        mentions = or_(
            *(
                StripeEvent.payload.contains(marker, autoescape=True)
                for marker in markers[start : start + 100]
            )
        )
        changed += _rows(
            session.execute(
                update(StripeEvent)
                .where(StripeEvent.processed_at.is_not(None), StripeEvent.payload != REDACTED_EVENT, mentions)
                .values(payload=REDACTED_EVENT)
                .execution_options(synchronize_session=False)
            )
        )
    return changed


_TRANSACTION = re.compile(r"<CdtTrfTxInf>.*?</CdtTrfTxInf>", re.DOTALL)
_CREDITOR_NAME = re.compile(r"(<Cdtr>\s*<Nm>)[^<]*(</Nm>)")
_CREDITOR_IBAN = re.compile(r"(<CdtrAcct>\s*<Id>\s*<IBAN>)[^<]*(</IBAN>)")


def scrub_sepa(xml: str, end_to_end_ids: Iterable[str]) -> str:
    """The SEPA file with the creditor's name and IBAN replaced in the payments with these EndToEndIds."""
    wanted = {f"<EndToEndId>{end_to_end_id}</EndToEndId>" for end_to_end_id in end_to_end_ids}

    def clean(match: re.Match[str]) -> str:
        block = match.group(0)
        if not any(marker in block for marker in wanted):
            return block
        block = _CREDITOR_NAME.sub(rf"\g<1>{REMOVED}\g<2>", block)
        return _CREDITOR_IBAN.sub(rf"\g<1>{REMOVED}\g<2>", block)

    return _TRANSACTION.sub(clean, xml)
