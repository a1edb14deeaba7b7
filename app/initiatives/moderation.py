"""What a wijkregisseur (or an administrator) does with initiatives in the back office: approve, send back,
reject or stop them; create one on behalf of a resident who is not online; register paper vouchers handed in
at the wijkcentrum; and give the payout account for an initiative that has no owner account.

Every function takes the staff member's `Scope` and fetches the initiative through it: outside the scope
(or not existing at all) the answer is the same 404, before any input is looked at. Status changes go
through `service.transition`, which locks the row, records the transition and the audit event, returns the
pledges when the initiative is stopped, and queues the mail to the initiator.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.audit.service import record
from app.config import Settings
from app.initiatives import aftercare, editor, repository, service
from app.initiatives.aftercare import PaperVoucherBatch
from app.initiatives.categories import status_label
from app.initiatives.errors import InitiativeInvalid, TransitionNotAllowed
from app.initiatives.service import NewInitiative
from app.kit.ratelimit import FailureLimiter
from app.models import Initiative, InitiativeStatus
from app.staff.scope import Scope

MAX_REASON = 500
MIN_REASON = 3


@dataclass(frozen=True)
class Moderation:
    """One decision a wijkregisseur can take, from one status to another."""

    slug: str
    source: InitiativeStatus
    target: InitiativeStatus
    needs_reason: bool
    reason_nl: str = ""
    reason_en: str = ""


MODERATIONS: dict[str, Moderation] = {
    m.slug: m
    for m in (
        Moderation("approve", InitiativeStatus.submitted, InitiativeStatus.published, False),
        Moderation(
            "request-changes",
            InitiativeStatus.submitted,
            InitiativeStatus.changes_requested,
            True,
            "Schrijf de initiatiefnemer wat er anders moet",
            "Write to the initiator what needs to change",
        ),
        Moderation(
            "reject",
            InitiativeStatus.submitted,
            InitiativeStatus.rejected,
            True,
            "Geef de reden van de afwijzing",
            "Give the reason for the rejection",
        ),
        Moderation(
            "cancel",
            InitiativeStatus.published,
            InitiativeStatus.cancelled,
            True,
            "Geef de reden om het initiatief te stoppen",
            "Give the reason for stopping the initiative",
        ),
    )
}


def allowed_moderations(status: str) -> list[Moderation]:
    """The decisions that can be taken on an initiative with this status."""
    return [m for m in MODERATIONS.values() if m.source == status]


def in_scope(session: Session, scope: Scope, initiative_id: int, *, for_update: bool = False) -> Initiative:
    """The initiative if it exists and lies in the scope; the same 404 otherwise (ids cannot be probed)."""
    initiative = repository.get(session, initiative_id, for_update=for_update)
    if initiative is None:
        # The scope's own refusal, so an unknown id reads exactly like another wijk's item.
        dataclasses.replace(scope, is_admin=False, area_ids=frozenset()).require(None)
    assert initiative is not None
    scope.require(initiative.area_id)
    return initiative


def check_reason(moderation: Moderation, reason: str) -> str:
    """The reason or message to the initiator: required for every decision except approval."""
    reason = reason.strip()
    if not moderation.needs_reason:
        return ""
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        typed_nl = f" U schreef {len(reason)} tekens." if len(reason) > MAX_REASON else ""
        typed_en = f" You wrote {len(reason)} characters." if len(reason) > MAX_REASON else ""
        raise InitiativeInvalid(
            f"{moderation.reason_nl} ({MIN_REASON} tot {MAX_REASON} tekens).{typed_nl} Er is niets gewijzigd.",
            f"{moderation.reason_en} ({MIN_REASON} to {MAX_REASON} characters).{typed_en} Nothing was changed.",
        )
    return reason


def moderate(
    session: Session,
    scope: Scope,
    initiative_id: int,
    slug: str,
    *,
    reason: str,
    actor: str,
    settings: Settings,
    today: date,
) -> None:
    """Take the decision `slug` (see MODERATIONS) on an initiative in the scope.

    The row is locked first: of two directors (or two clicks) deciding at once, the second one waits, then
    finds the new status and is refused with TransitionNotAllowed; nothing is done twice."""
    moderation = MODERATIONS[slug]
    initiative = in_scope(session, scope, initiative_id, for_update=True)
    if initiative.status != moderation.source:
        raise _not_now(moderation, initiative.status)
    checked = check_reason(moderation, reason)
    service.transition(
        session,
        initiative_id,
        moderation.target,
        actor=actor,
        reason=checked,
        today=today,
        settings=settings,
    )


def _not_now(moderation: Moderation, status: str) -> TransitionNotAllowed:
    if moderation.source == InitiativeStatus.submitted:
        only_nl = "alleen een ingediend initiatief kunt u goedkeuren, terugsturen of afwijzen."
        only_en = "only a submitted initiative can be approved, sent back or rejected."
    else:
        only_nl = "alleen een gepubliceerd initiatief kunt u stoppen."
        only_en = "only a published initiative can be stopped."
    return TransitionNotAllowed(
        f"Dit kan niet meer: het initiatief heeft nu de status ‘{status_label(status)}’, en {only_nl} "
        "Misschien was een collega u net voor. Er is niets gewijzigd.",
        f"This is no longer possible: the initiative now has the status ‘{status.replace('_', ' ')}’, and "
        f"{only_en} Perhaps a colleague was just ahead of you. Nothing was changed.",
    )


def create_on_behalf(
    session: Session,
    data: NewInitiative,
    organisers: Sequence[tuple[str, str]],
    *,
    scope: Scope,
    staff_id: int,
    actor: str,
    publish: bool,
    settings: Settings,
    today: date,
) -> int:
    """An initiative entered by a wijkregisseur for a resident who is not online: no owner account, the same
    content rules as the initiator's editor, an area within the scope; saved as submitted (into the queue)
    or published at once. Returns its id."""
    area = areas.by_code(session, data.area_code.strip().upper())
    if area is not None and not scope.allows(area.id):
        raise InitiativeInvalid(
            "U kunt alleen een initiatief maken voor een gebied binnen uw wijken. Er is niets opgeslagen.",
            "You can only create an initiative for an area within your wijken. Nothing was saved.",
        )
    if not 2 <= len(data.initiator_name.strip()) <= 120:
        raise InitiativeInvalid(
            "Vul de naam van de initiatiefnemer in (2 tot 120 tekens).",
            "Enter the initiator's name (2 to 120 characters).",
        )
    if not data.budget_lines:
        raise InitiativeInvalid(
            "Vul de begroting in: de regels moeten samen het streefbedrag zijn.",
            "Fill in the budget: the lines must add up to the target.",
        )
    checked_organisers = editor.check_organisers(organisers)
    initiative_id = service.create_initiative(session, data, settings=settings, actor=actor, today=today)
    session.execute(
        update(Initiative).where(Initiative.id == initiative_id).values(created_by_staff_id=staff_id)
    )
    editor.replace_organisers(session, initiative_id, checked_organisers)
    initiative = repository.get(session, initiative_id)
    assert initiative is not None
    editor.check_complete(session, initiative, settings=settings)
    service.transition(
        session, initiative_id, InitiativeStatus.submitted, actor=actor, today=today, settings=settings
    )
    if publish:
        service.transition(
            session, initiative_id, InitiativeStatus.published, actor=actor, today=today, settings=settings
        )
    record(
        session,
        actor=actor,
        action="initiative.created_by_staff",
        subject_type="initiative",
        subject_id=initiative_id,
        after={
            "title": initiative.title,
            "area": area.code if area is not None else "",
            "target_cents": initiative.target_cents,
            "status": InitiativeStatus.published if publish else InitiativeStatus.submitted,
        },
    )
    return initiative_id


def paper_vouchers(
    session: Session,
    scope: Scope,
    initiative_id: int,
    codes_text: str,
    *,
    actor: str,
    settings: Settings,
    limiter: FailureLimiter,
    client: str,
    today: date,
) -> PaperVoucherBatch:
    """Paper vouchers handed in at the wijkcentrum: each code's whole balance goes to the (published)
    initiative, one savepoint per code, with a result per code (see aftercare.spend_paper_vouchers)."""
    initiative = in_scope(session, scope, initiative_id)
    if initiative.status != InitiativeStatus.published:
        raise TransitionNotAllowed(
            "Papieren vouchers kunt u alleen invoeren bij een gepubliceerd initiatief.",
            "Paper vouchers can only be entered for a published initiative.",
        )
    codes = aftercare.split_codes(codes_text)
    return aftercare.spend_paper_vouchers(
        session,
        initiative_id,
        codes,
        actor=actor,
        settings=settings,
        limiter=limiter,
        client=client,
        today=today,
    )


def set_payout_account(
    session: Session, scope: Scope, initiative_id: int, *, actor: str, iban: str, holder: str
) -> str:
    """The payout IBAN and account holder of a funded initiative that was created on a resident's behalf
    (it has no owner account, so nobody else can give them). Returns the IBAN formatted for display."""
    initiative = in_scope(session, scope, initiative_id, for_update=True)
    if initiative.owner_account_id is not None:
        raise TransitionNotAllowed(
            "De initiatiefnemer heeft een account en vult het rekeningnummer zelf in.",
            "The initiator has an account and enters the account number themselves.",
        )
    return aftercare.store_payout_account(session, initiative, actor=actor, iban=iban, holder=holder)
