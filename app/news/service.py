"""Writing news items (the back office and the automatic items build on this).

Staff posts (kind `post`) are written, scheduled and edited here; any item (also an initiator's update or
an automatic item) can be hidden and restored. Every staff change is recorded in the audit log in the same
transaction. A news item belongs to its area, an initiative's item to the initiative's area: that area
decides who in the back office may see and act on it (404 outside the scope).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from PIL import Image
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from app.audit.service import record
from app.errors import Conflict, InvalidInput
from app.initiatives.photos import JPEG_QUALITY, MAX_SIDE
from app.initiatives.uploads import read_photo
from app.kit.clock import AMSTERDAM
from app.models import Area, AreaKind, NewsItem, NewsKind
from app.models.base import utcnow
from app.news import repository
from app.staff.scope import Scope

MAX_TITLE = 160
MAX_BODY = 20_000
MAX_ALT = 200
MIN_ALT = 3
MAX_SCHEDULE_DAYS = 366


def post_news(
    session: Session,
    *,
    area_id: int,
    kind: NewsKind,
    title: str,
    body: str,
    author_name: str = "",
    initiative_id: int | None = None,
    published_at: datetime | None = None,
    image_filename: str | None = None,
    image_alt: str = "",
    author_staff_id: int | None = None,
) -> int:
    """Add a news item for an area; it shows from `published_at` (default: now)."""
    now = utcnow()
    shown_from = published_at or now
    return session.execute(
        insert(NewsItem)
        .values(
            area_id=area_id,
            initiative_id=initiative_id,
            kind=kind,
            title=title.strip()[:160],
            body=body,
            author_name=author_name.strip()[:120],
            published_at=shown_from,
            hidden=False,
            image_filename=image_filename,
            image_alt=image_alt.strip()[:MAX_ALT],
            author_staff_id=author_staff_id,
            created_at=now,
            updated_at=max(now, shown_from),
        )
        .returning(NewsItem.id)
    ).scalar_one()


class NewsInvalid(InvalidInput):
    slug = "news-invalid"
    title = "Bericht niet opgeslagen"
    title_en = "News item not saved"


class NewsNotEditable(Conflict):
    slug = "news-not-editable"
    title = "Kan niet worden bewerkt"
    title_en = "Cannot be edited"
    message = (
        "Alleen berichten die medewerkers schreven kunt u bewerken. "
        "Berichten van initiatiefnemers en automatische berichten kunt u wel verbergen."
    )
    message_en = (
        "Only items written by staff can be edited. Items by initiators and automatic items can be hidden."
    )


@dataclass(frozen=True)
class PostInput:
    """A staff post as typed: text fields unparsed, so the form can show them again after an error."""

    title: str = ""
    body: str = ""
    area_id: str = ""
    publish: str = "now"
    """`now` or `later` (then `publish_date` and `publish_time`, Europe/Amsterdam)."""
    publish_date: str = ""
    publish_time: str = ""
    image: bytes = b""
    image_alt: str = ""
    remove_image: bool = False


@dataclass(frozen=True)
class _Checked:
    title: str
    body: str
    area_id: int
    publish_at: datetime | None
    """None: publish now (or, for an item already public, keep its moment)."""


def scheduled_moment(date_text: str, time_text: str, *, now: datetime) -> datetime:
    """The UTC moment for a date and time in Amsterdam; it must lie in the future (within a year)."""
    try:
        day = date.fromisoformat(date_text.strip())
        clock = time.fromisoformat(time_text.strip() or "09:00")
    except ValueError:
        raise NewsInvalid(
            "Vul een datum (jjjj-mm-dd) en een tijd (uu:mm) in voor het inplannen.",
            "Enter a date (yyyy-mm-dd) and a time (hh:mm) to schedule the item.",
        ) from None
    moment = datetime.combine(day, clock.replace(second=0, microsecond=0, tzinfo=None), tzinfo=AMSTERDAM)
    moment_utc = moment.astimezone(now.tzinfo)
    if moment_utc <= now:
        raise NewsInvalid(
            "Dit moment is al voorbij. Kies een moment in de toekomst, of kies ‘Nu publiceren’.",
            "This moment has passed. Choose a moment in the future, or choose ‘Publish now’.",
        )
    if moment_utc > now + timedelta(days=MAX_SCHEDULE_DAYS):
        raise NewsInvalid(
            "Plan een bericht hoogstens een jaar vooruit.", "Schedule an item at most a year ahead."
        )
    return moment_utc


def _check(session: Session, data: PostInput, scope: Scope, *, now: datetime) -> _Checked:
    title = data.title.strip()
    body = data.body.strip()
    if not 3 <= len(title) <= MAX_TITLE:
        raise NewsInvalid(
            f"Geef het bericht een titel van 3 tot {MAX_TITLE} tekens.",
            f"Give the item a title of 3 to {MAX_TITLE} characters.",
        )
    if not body:
        raise NewsInvalid("Schrijf de tekst van het bericht.", "Write the text of the item.")
    if len(body) > MAX_BODY:
        raise NewsInvalid(
            f"De tekst is te lang: hoogstens {MAX_BODY:,} tekens.".replace(",", "."),
            f"The text is too long: at most {MAX_BODY:,} characters.",
        )
    area_id = int(data.area_id) if data.area_id.isdigit() and len(data.area_id) < 12 else None
    kind = session.scalar(select(Area.kind).where(Area.id == area_id)) if area_id is not None else None
    if (
        area_id is None
        or kind not in {AreaKind.buurt, AreaKind.wijk, AreaKind.gemeente}
        or not scope.allows(area_id)
    ):
        raise NewsInvalid(
            "Kies voor welke buurt, wijk of gemeente het bericht is.",
            "Choose the buurt, wijk or gemeente the item is for.",
        )
    if data.publish == "later":
        publish_at: datetime | None = scheduled_moment(data.publish_date, data.publish_time, now=now)
    elif data.publish == "now":
        publish_at = None
    else:
        raise NewsInvalid("Kies wanneer het bericht verschijnt.", "Choose when the item appears.")
    alt = data.image_alt.strip()
    if data.image and not MIN_ALT <= len(alt) <= MAX_ALT:
        raise NewsInvalid(
            "Beschrijf in een paar woorden wat er op de afbeelding staat (voor wie hem niet kan zien).",
            "Describe in a few words what the image shows (for people who cannot see it).",
        )
    return _Checked(title=title, body=body, area_id=area_id, publish_at=publish_at)


def store_image(media_dir: Path, image: Image.Image) -> str:
    """Write `image` as a fresh JPEG (no metadata, at most MAX_SIDE pixels) under a random name."""
    picture = image.convert("RGB")
    picture.thumbnail((MAX_SIDE, MAX_SIDE))
    name = f"{secrets.token_urlsafe(18)}.jpg"
    media_dir.mkdir(parents=True, exist_ok=True)
    partial = media_dir / f".{name}.part"
    picture.save(partial, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    os.replace(partial, media_dir / name)
    return name


def _state(item: NewsItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "body": item.body,
        "area_id": item.area_id,
        "published_at": item.published_at,
        "hidden": item.hidden,
        "image_filename": item.image_filename,
        "image_alt": item.image_alt,
    }


def create_post(
    session: Session,
    data: PostInput,
    *,
    scope: Scope,
    actor: str,
    staff_id: int,
    author_name: str,
    media_dir: Path,
    now: datetime | None = None,
) -> int:
    """A new staff post; refused with NewsInvalid (or PhotoRefused) before anything is stored."""
    moment = now or utcnow()
    checked = _check(session, data, scope, now=moment)
    image_name = store_image(media_dir, read_photo(data.image)) if data.image else None
    news_id = post_news(
        session,
        area_id=checked.area_id,
        kind=NewsKind.post,
        title=checked.title,
        body=checked.body,
        author_name=author_name,
        published_at=checked.publish_at or moment,
        image_filename=image_name,
        image_alt=data.image_alt if image_name else "",
        author_staff_id=staff_id,
    )
    item = session.get(NewsItem, news_id)
    assert item is not None
    record(
        session,
        actor=actor,
        action="news.created",
        subject_type="news",
        subject_id=news_id,
        after=_state(item),
    )
    return news_id


def item_in_scope(session: Session, news_id: int, scope: Scope, *, for_update: bool = False) -> NewsItem:
    """The item, if the staff member's scope covers its area (an initiative's item: the initiative's)."""
    found = repository.get_with_scope_area(session, news_id, for_update=for_update)
    if found is None:
        scope.require(None)
    assert found is not None
    item, area_id = found
    scope.require(area_id)
    return item


def update_post(
    session: Session,
    news_id: int,
    data: PostInput,
    *,
    scope: Scope,
    actor: str,
    media_dir: Path,
    now: datetime | None = None,
) -> None:
    moment = now or utcnow()
    item = item_in_scope(session, news_id, scope, for_update=True)
    if item.kind != NewsKind.post:
        raise NewsNotEditable()
    checked = _check(session, data, scope, now=moment)
    if data.image and data.remove_image:
        raise NewsInvalid(
            "Kies een nieuwe afbeelding óf ‘afbeelding weghalen’, niet allebei.",
            "Choose a new image or ‘remove image’, not both.",
        )
    if not data.image and not data.remove_image and item.image_filename:
        alt = data.image_alt.strip()
        if not MIN_ALT <= len(alt) <= MAX_ALT:
            raise NewsInvalid(
                "Beschrijf in een paar woorden wat er op de afbeelding staat (voor wie hem niet kan zien).",
                "Describe in a few words what the image shows (for people who cannot see it).",
            )
    before = _state(item)
    if checked.publish_at is not None:
        published_at = checked.publish_at
    elif item.published_at > moment:  # scheduled until now: publish now
        published_at = moment
    else:  # already public: keep its moment
        published_at = item.published_at
    if data.image:
        image_name: str | None = store_image(media_dir, read_photo(data.image))
        image_alt = data.image_alt.strip()
    elif data.remove_image:
        image_name, image_alt = None, ""
    else:
        image_name = item.image_filename
        image_alt = data.image_alt.strip() if image_name else ""
    session.execute(
        update(NewsItem)
        .where(NewsItem.id == news_id)
        .values(
            title=checked.title,
            body=checked.body,
            area_id=checked.area_id,
            published_at=published_at,
            updated_at=max(utcnow(), published_at),
            image_filename=image_name,
            image_alt=image_alt[:MAX_ALT],
        )
    )
    session.refresh(item)
    after = _state(item)
    if after != before:
        record(
            session,
            actor=actor,
            action="news.updated",
            subject_type="news",
            subject_id=news_id,
            before={key: value for key, value in before.items() if after[key] != value},
            after={key: value for key, value in after.items() if before[key] != value},
        )


def set_hidden(session: Session, news_id: int, *, hidden: bool, scope: Scope, actor: str) -> bool:
    """Hide or restore any item in scope; returns False when it already was so (nothing recorded)."""
    item = item_in_scope(session, news_id, scope, for_update=True)
    if item.hidden == hidden:
        return False
    session.execute(update(NewsItem).where(NewsItem.id == news_id).values(hidden=hidden, updated_at=utcnow()))
    record(
        session,
        actor=actor,
        action="news.hidden" if hidden else "news.restored",
        subject_type="news",
        subject_id=news_id,
        before={"hidden": not hidden, "kind": item.kind, "title": item.title},
        after={"hidden": hidden},
    )
    return True
