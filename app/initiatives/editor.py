"""The initiator's side of an initiative: write a draft, change it, submit it, withdraw it, add photos.

Only the owner may act, and only in the statuses where the life cycle allows it; someone else's
initiative is reported as not found, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.initiatives import repository, service
from app.initiatives.errors import InitiativeInvalid, InitiativeNotFound, TransitionNotAllowed
from app.initiatives.photos import store_photo
from app.initiatives.service import NewInitiative
from app.initiatives.uploads import MAX_PHOTOS, PhotoRefused, read_photo
from app.models import Initiative, InitiativePhoto, InitiativeStatus, Organiser

EDITABLE = frozenset({InitiativeStatus.draft, InitiativeStatus.changes_requested})
WITHDRAWABLE = frozenset(
    {
        InitiativeStatus.draft,
        InitiativeStatus.submitted,
        InitiativeStatus.changes_requested,
        InitiativeStatus.published,
    }
)
MAX_ORGANISERS = 5


def owned(session: Session, initiative_id: int, account_id: int, *, for_update: bool = False) -> Initiative:
    """The initiative if `account_id` owns it; InitiativeNotFound otherwise (also for other people's)."""
    initiative = repository.get(session, initiative_id, for_update=for_update)
    if initiative is None or initiative.owner_account_id != account_id:
        raise InitiativeNotFound()
    return initiative


def check_organisers(organisers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Names and normalised e-mail addresses of the co-organisers; empty rows are skipped."""
    checked: list[tuple[str, str]] = []
    for name, email in organisers:
        name, email = name.strip(), email.strip()
        if not name and not email:
            continue
        if not 2 <= len(name) <= 120:
            raise InitiativeInvalid(
                "Geef elke mede-organisator een naam (2 tot 120 tekens).",
                "Give every co-organiser a name (2 to 120 characters).",
            )
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            raise InitiativeInvalid(
                f"Het e-mailadres van {name} klopt niet.", f"The e-mail address of {name} is not valid."
            ) from None
        checked.append((name, email))
    if len(checked) > MAX_ORGANISERS:
        raise InitiativeInvalid(
            f"U kunt hoogstens {MAX_ORGANISERS} mede-organisatoren opgeven.",
            f"You can add at most {MAX_ORGANISERS} co-organisers.",
        )
    return checked


def replace_organisers(session: Session, initiative_id: int, organisers: list[tuple[str, str]]) -> None:
    session.execute(delete(Organiser).where(Organiser.initiative_id == initiative_id))
    if organisers:
        session.execute(
            insert(Organiser),
            [{"initiative_id": initiative_id, "name": n, "email": e} for n, e in organisers],
        )


def create_draft(
    session: Session,
    data: NewInitiative,
    organisers: Sequence[tuple[str, str]],
    *,
    account_id: int,
    settings: Settings,
    today: date,
) -> int:
    """A new draft owned by `account_id`; returns its id."""
    checked = check_organisers(organisers)
    initiative_id = service.create_initiative(
        session,
        data,
        settings=settings,
        actor=f"account:{account_id}",
        today=today,
        owner_account_id=account_id,
    )
    replace_organisers(session, initiative_id, checked)
    return initiative_id


def update_draft(
    session: Session,
    initiative_id: int,
    data: NewInitiative,
    organisers: Sequence[tuple[str, str]],
    *,
    account_id: int,
    settings: Settings,
    today: date,
) -> None:
    """Change a draft (or an initiative whose changes were requested) by the same rules as creating it."""
    initiative = owned(session, initiative_id, account_id, for_update=True)
    if initiative.status not in EDITABLE:
        raise TransitionNotAllowed(
            "Dit initiatief kunt u nu niet wijzigen: het is al ingediend of gepubliceerd.",
            "You cannot change this initiative now: it has been submitted or published.",
        )
    checked = service.check_initiative(session, data, settings=settings, today=today)
    checked_organisers = check_organisers(organisers)
    session.execute(update(Initiative).where(Initiative.id == initiative_id).values(**checked.values))
    service.replace_budget_lines(session, initiative_id, checked.budget_lines)
    replace_organisers(session, initiative_id, checked_organisers)


def submit(session: Session, initiative_id: int, *, account_id: int, settings: Settings, today: date) -> None:
    """Send the initiative to the wijkregisseur, once it is complete enough to judge."""
    initiative = owned(session, initiative_id, account_id, for_update=True)
    check_complete(session, initiative, settings=settings)
    service.transition(
        session,
        initiative_id,
        InitiativeStatus.submitted,
        actor=f"account:{account_id}",
        today=today,
        settings=settings,
    )


def check_complete(session: Session, initiative: Initiative, *, settings: Settings) -> None:
    """Refuse an initiative that is not yet complete enough for the wijkregisseur to judge (or publish)."""
    initiative_id = initiative.id
    missing = []
    if len(initiative.summary.strip()) < 10:
        missing.append(("een korte samenvatting", "a short summary"))
    if len(initiative.description.strip()) < 30:
        missing.append(("een beschrijving van het plan", "a description of the plan"))
    if not repository.budget_lines(session, initiative_id):
        missing.append(("een begroting", "a budget"))
    count = session.scalar(
        select(func.count()).select_from(Organiser).where(Organiser.initiative_id == initiative_id)
    )
    if (count or 0) < settings.initiative_min_organisers:
        n = settings.initiative_min_organisers
        missing.append((f"minstens {n} mede-organisator(en)", f"at least {n} co-organiser(s)"))
    if missing:
        raise InitiativeInvalid(
            "Nog nodig voor het indienen: " + ", ".join(nl for nl, _ in missing) + ".",
            "Still needed before submitting: " + ", ".join(en for _, en in missing) + ".",
        )


def withdraw(session: Session, initiative_id: int, *, account_id: int, reason: str, today: date) -> None:
    """Stop the initiative; pledges made to it go back (the life cycle's rule for withdrawn)."""
    initiative = owned(session, initiative_id, account_id, for_update=True)
    if initiative.status not in WITHDRAWABLE:
        raise TransitionNotAllowed(
            "Dit initiatief kunt u niet meer intrekken.", "This initiative can no longer be withdrawn."
        )
    service.transition(
        session,
        initiative_id,
        InitiativeStatus.withdrawn,
        actor=f"account:{account_id}",
        reason=reason.strip()[:500],
        today=today,
    )


def add_photo(
    session: Session,
    initiative_id: int,
    data: bytes,
    alt_text: str,
    *,
    account_id: int,
    media_dir: Path,
) -> str:
    """Check, re-encode and attach a photo (at most MAX_PHOTOS); returns its stored name."""
    initiative = owned(session, initiative_id, account_id, for_update=True)
    if initiative.status not in EDITABLE | {InitiativeStatus.published, InitiativeStatus.funded}:
        raise TransitionNotAllowed(
            "Bij dit initiatief kunt u geen foto's meer toevoegen.", "You can no longer add photos here."
        )
    positions = list(
        session.scalars(
            select(InitiativePhoto.position).where(InitiativePhoto.initiative_id == initiative_id)
        )
    )
    if len(positions) >= MAX_PHOTOS:
        raise PhotoRefused(
            f"Een initiatief heeft hoogstens {MAX_PHOTOS} foto's. Verwijder er eerst een.",
            f"An initiative has at most {MAX_PHOTOS} photos. Remove one first.",
        )
    if not 3 <= len(alt_text.strip()) <= 200:
        raise PhotoRefused(
            "Beschrijf in een paar woorden wat er op de foto staat (voor wie hem niet kan zien).",
            "Describe in a few words what the photo shows (for people who cannot see it).",
        )
    image = read_photo(data)
    return store_photo(
        session,
        media_dir,
        initiative_id=initiative_id,
        position=max(positions, default=-1) + 1,
        image=image,
        alt_text=alt_text,
    )


def remove_photo(session: Session, initiative_id: int, photo_id: int, *, account_id: int) -> None:
    owned(session, initiative_id, account_id, for_update=True)
    session.execute(
        delete(InitiativePhoto).where(
            InitiativePhoto.id == photo_id, InitiativePhoto.initiative_id == initiative_id
        )
    )
    # Close the gap so the first remaining photo is the cover (position 0); the file stays on disk
    # (names are random and unlisted) until a clean-up removes files no row refers to.
    remaining = session.scalars(
        select(InitiativePhoto.id)
        .where(InitiativePhoto.initiative_id == initiative_id)
        .order_by(InitiativePhoto.position)
    ).all()
    for position, remaining_id in enumerate(remaining):
        session.execute(
            update(InitiativePhoto).where(InitiativePhoto.id == remaining_id).values(position=position)
        )
