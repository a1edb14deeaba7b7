"""Creating initiatives and moving them through their life cycle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.audit.service import record
from app.config import Settings
from app.donations.refunds import queue_refunds
from app.initiatives import notifications, repository, states
from app.initiatives.errors import InitiativeInvalid, InitiativeNotFound, TransitionNotAllowed
from app.kit.money import format_cents
from app.ledger import service as ledger
from app.models import (
    AccountKind,
    BudgetLine,
    Initiative,
    InitiativeStatus,
    InitiativeTransition,
    LedgerAccount,
    NewsItem,
    NewsKind,
    Pledge,
    TransferKind,
    Voucher,
    VoucherPeriod,
    VoucherStatus,
)
from app.models.base import utcnow
from app.news.service import post_news

MAX_DEADLINE_DAYS = 365
DEFAULT_DEADLINE_DAYS = 60


@dataclass(frozen=True)
class NewInitiative:
    title: str
    area_code: str
    target_cents: int
    deadline: date | None = None
    summary: str = ""
    description: str = ""
    category: str = ""
    initiator_name: str = ""
    budget_lines: tuple[tuple[str, int], ...] = ()
    """(description, amount in cents); when given they must add up to the target."""


@dataclass(frozen=True)
class CheckedInitiative:
    """An initiative's fields after every rule passed: what create and update write."""

    values: dict[str, object]
    budget_lines: list[tuple[str, int]]


def check_initiative(
    session: Session, data: NewInitiative, *, settings: Settings, today: date
) -> CheckedInitiative:
    """The rules for an initiative's content (title, area, target bounds, deadline window, budget)."""
    title = data.title.strip()
    if not 3 <= len(title) <= 120:
        raise InitiativeInvalid(
            "De titel moet 3 tot 120 tekens hebben.", "The title must be 3 to 120 characters."
        )
    area = areas.by_code(session, data.area_code.strip().upper())
    if area is None:
        raise InitiativeInvalid(
            f"Gebied {data.area_code!r} bestaat niet.", f"Area {data.area_code!r} does not exist."
        )
    low, high = settings.initiative_min_target_cents, settings.initiative_max_target_cents
    if not low <= data.target_cents <= high:
        raise InitiativeInvalid(
            f"Het streefbedrag moet tussen {format_cents(low)} en {format_cents(high)} liggen.",
            f"The target must be between {format_cents(low, 'en')} and {format_cents(high, 'en')}.",
        )
    deadline = data.deadline or today + timedelta(days=DEFAULT_DEADLINE_DAYS)
    if not today <= deadline <= today + timedelta(days=MAX_DEADLINE_DAYS):
        raise InitiativeInvalid(
            f"De einddatum moet tussen vandaag en {MAX_DEADLINE_DAYS} dagen vanaf nu liggen.",
            f"The deadline must be between today and {MAX_DEADLINE_DAYS} days from now.",
        )
    lines = [(text.strip()[:200], amount) for text, amount in data.budget_lines]
    if lines and (
        sum(amount for _, amount in lines) != data.target_cents
        or any(amount <= 0 or not text for text, amount in lines)
    ):
        raise InitiativeInvalid(
            "De begrotingsregels moeten elk een omschrijving en een positief bedrag hebben en samen het "
            "streefbedrag zijn.",
            "Each budget line needs a description and a positive amount, and together they must equal "
            "the target.",
        )
    values: dict[str, object] = {
        "title": title,
        "summary": data.summary.strip()[:300],
        "description": data.description[:20_000],
        "category": data.category.strip()[:40],
        "area_id": area.id,
        "target_cents": data.target_cents,
        "deadline": deadline,
        "initiator_name": data.initiator_name.strip()[:120],
    }
    return CheckedInitiative(values=values, budget_lines=lines)


def replace_budget_lines(session: Session, initiative_id: int, lines: list[tuple[str, int]]) -> None:
    session.execute(delete(BudgetLine).where(BudgetLine.initiative_id == initiative_id))
    if lines:
        session.execute(
            insert(BudgetLine),
            [
                {"initiative_id": initiative_id, "position": i, "description": text, "amount_cents": amount}
                for i, (text, amount) in enumerate(lines)
            ],
        )


def create_initiative(
    session: Session,
    data: NewInitiative,
    *,
    settings: Settings,
    actor: str,
    today: date,
    owner_account_id: int | None = None,
) -> int:
    """Create a draft initiative with its ledger account; returns its id."""
    checked = check_initiative(session, data, settings=settings, today=today)
    initiative_id = session.execute(
        insert(Initiative)
        .values(
            **checked.values,
            pledged_cents=0,
            donated_cents=0,
            status=InitiativeStatus.draft,
            owner_account_id=owner_account_id,
            created_at=utcnow(),
        )
        .returning(Initiative.id)
    ).scalar_one()
    replace_budget_lines(session, initiative_id, checked.budget_lines)
    ledger.open_account(session, AccountKind.initiative, initiative_id=initiative_id)
    _record_transition(session, initiative_id, None, InitiativeStatus.draft, actor=actor, reason="")
    return initiative_id


def transition(
    session: Session,
    initiative_id: int,
    target: InitiativeStatus,
    *,
    actor: str,
    reason: str = "",
    today: date,
    settings: Settings | None = None,
) -> None:
    """Move an initiative to `target` if its life cycle allows it; unfunded endings return every pledge.
    With `settings`, the initiator gets an e-mail about the change (queued in this transaction)."""
    initiative = repository.get(session, initiative_id, for_update=True)
    if initiative is None:
        raise InitiativeNotFound()
    if not states.can_move(initiative.status, target):
        raise TransitionNotAllowed(
            f"Een initiatief met status {initiative.status!r} kan niet naar {target.value!r}.",
            f"An initiative with status {initiative.status!r} cannot move to {target.value!r}.",
        )
    if target == InitiativeStatus.funded:
        raise TransitionNotAllowed(
            "Een initiatief wordt vanzelf gefinancierd als het streefbedrag is gehaald.",
            "An initiative becomes funded by itself when it reaches its target.",
        )
    source = initiative.status
    values: dict[str, object] = {"status": target}
    if target == InitiativeStatus.published:
        values["published_at"] = utcnow()
    if target in states.ENDS_UNFUNDED or target in (InitiativeStatus.completed, InitiativeStatus.rejected):
        values["closed_at"] = utcnow()
    session.execute(update(Initiative).where(Initiative.id == initiative_id).values(**values))
    _record_transition(session, initiative_id, source, target, actor=actor, reason=reason)
    if target in states.ENDS_UNFUNDED:
        return_pledges(session, initiative_id, today=today)
        queue_refunds(session, initiative_id)
    if target == InitiativeStatus.published:
        announce(session, initiative_id, NewsKind.published)
    if settings is not None and target in notifications.NOTIFIED:
        notifications.notify_owner(session, settings, initiative_id, target, reason)


def return_pledges(session: Session, initiative_id: int, *, today: date) -> int:
    """Give every open pledge back to its voucher (or its replacement), or to the pool if that has expired."""
    initiative_account = ledger.account_id_for(session, initiative_id=initiative_id)
    returned = 0
    for pledge in repository.open_pledges(session, initiative_id):
        voucher_id, period_id, usable = _live_voucher(session, pledge.voucher_id, today)
        destination = (
            ledger.account_id_for(session, voucher_id=voucher_id)
            if usable
            else ledger.account_id_for(session, period_id=period_id)
        )
        ledger.transfer(
            session,
            debit_account_id=initiative_account,
            credit_account_id=destination,
            amount_cents=pledge.amount_cents,
            kind=TransferKind.pledge_return if usable else TransferKind.pledge_to_pool,
            pledge_id=pledge.id,
        )
        session.execute(update(Pledge).where(Pledge.id == pledge.id).values(returned_at=utcnow()))
        returned += pledge.amount_cents
    if returned:
        ledger.release_pledged(session, initiative_id=initiative_id, amount_cents=returned)
    return returned


def _live_voucher(session: Session, voucher_id: int, today: date) -> tuple[int, int, bool]:
    """Follow replacements to the voucher that now holds the household's balance: (id, period, usable)."""
    for _ in range(100):
        # FOR SHARE on the voucher and its period (PostgreSQL): a concurrent reissue (FOR UPDATE on the
        # voucher) or period close (FOR UPDATE on the period) either finishes before we read, or waits until
        # the value is back, so it never lands on a voucher that was replaced or expired meanwhile.
        row = session.execute(
            select(Voucher.status, Voucher.replaced_by_id, Voucher.period_id, VoucherPeriod.ends_on)
            .join(VoucherPeriod, VoucherPeriod.id == Voucher.period_id)
            .where(Voucher.id == voucher_id)
            .with_for_update(read=True)
        ).one()
        if row.status == VoucherStatus.replaced and row.replaced_by_id is not None:
            voucher_id = row.replaced_by_id
            continue
        return voucher_id, row.period_id, row.status == VoucherStatus.active and row.ends_on >= today
    raise RuntimeError(f"voucher {voucher_id}: replacement chain too long")


def expire_past_deadline(
    session: Session, *, today: date, actor: str, settings: Settings | None = None
) -> list[int]:
    """Published initiatives whose deadline has passed unfunded become expired; their pledges go back."""
    expired = []
    for initiative_id in repository.past_deadline(session, today):
        transition(
            session,
            initiative_id,
            InitiativeStatus.expired,
            actor=actor,
            reason="deadline passed",
            today=today,
            settings=settings,
        )
        expired.append(initiative_id)
    return expired


def record_funded(
    session: Session, initiative_id: int, *, actor: str, settings: Settings | None = None
) -> None:
    """Record the automatic published → funded step (the pledge that reached the target made it)."""
    _record_transition(
        session,
        initiative_id,
        InitiativeStatus.published,
        InitiativeStatus.funded,
        actor=actor,
        reason="target reached",
    )
    announce(session, initiative_id, NewsKind.funded)
    if settings is not None:
        notifications.notify_owner(session, settings, initiative_id, InitiativeStatus.funded)


def announce(session: Session, initiative_id: int, kind: NewsKind) -> int | None:
    """The automatic news item for an initiative that was published or reached its target, in its area's news;
    at most one per initiative and kind (None when it exists already).

    It runs inside the money transactions (a pledge or donation that reached the target), where the
    initiative's row is already locked: one indexed look-up and one insert, no further locks."""
    exists = session.execute(
        select(NewsItem.id).where(NewsItem.initiative_id == initiative_id, NewsItem.kind == kind).limit(1)
    ).scalar_one_or_none()
    if exists is not None:
        return None
    row = session.execute(
        select(
            Initiative.title,
            Initiative.summary,
            Initiative.area_id,
            Initiative.target_cents,
            Initiative.pledged_cents,
            Initiative.donated_cents,
        ).where(Initiative.id == initiative_id)
    ).one()
    # Stored in Dutch, like every news item; the feeds and pages show them as written.
    if kind == NewsKind.published:
        title = f"Nieuw initiatief: {row.title}"
        summary = row.summary.strip()
        body = (f"{summary}\n\n" if summary else "") + (
            f"Het streefbedrag is {format_cents(row.target_cents)}. Steun het met uw voucher."
        )
    else:
        raised = row.pledged_cents + row.donated_cents
        title = f"Doel gehaald: {row.title}"
        body = (
            f"Het streefbedrag van {format_cents(row.target_cents)} is gehaald: samen is "
            f"{format_cents(raised)} bijeengebracht. Dank aan iedereen die meedeed!"
        )
    return post_news(
        session, area_id=row.area_id, initiative_id=initiative_id, kind=kind, title=title, body=body
    )


def _record_transition(
    session: Session, initiative_id: int, source: str | None, target: str, *, actor: str, reason: str
) -> None:
    session.execute(
        insert(InitiativeTransition).values(
            initiative_id=initiative_id,
            from_status=source,
            to_status=target,
            actor=actor,
            reason=reason[:500],
            created_at=utcnow(),
        )
    )
    record(
        session,
        actor=actor,
        action=f"initiative.{target}",
        subject_type="initiative",
        subject_id=initiative_id,
        before={"status": source} if source else None,
        after={"status": target, "reason": reason} if reason else {"status": target},
    )


def initiative_balance(session: Session, initiative_id: int) -> int:
    return session.execute(
        select(LedgerAccount.balance_cents).where(LedgerAccount.initiative_id == initiative_id)
    ).scalar_one()


def create_and_maybe_publish(
    session: Session, data: NewInitiative, *, publish: bool, settings: Settings, actor: str, today: date
) -> int:
    """Create an initiative; with `publish`, submit and publish it at once (staff or CLI acting)."""
    initiative_id = create_initiative(session, data, settings=settings, actor=actor, today=today)
    if publish:
        transition(session, initiative_id, InitiativeStatus.submitted, actor=actor, today=today)
        transition(session, initiative_id, InitiativeStatus.published, actor=actor, today=today)
    return initiative_id
