"""An area's news as a feed (Atom, RSS 2.0, JSON Feed 1.1) and as a page.

Which items an area shows (`news_area_ids`):
- a buurt: its own, its wijk's and the gemeente's (SPEC §2);
- a wijk: its own, the gemeente's, and its buurten' items. A municipality puts the wijk's feed on its own
  wijk page; most news happens in a buurt (an initiative belongs to a buurt, and so do its automatic items),
  so a wijk's feed without its buurten would miss what goes on in the wijk;
- the gemeente: its own (city-wide news); the city's page and feed do not repeat every buurt's items.

Only visible items (not hidden, published_at ≤ now), newest first. A feed holds at most FEED_LIMIT items.

Feeds are documents in Dutch (`language` nl) like the items in them, the same for every reader, so one
ETag serves everyone. Links are absolute (BASE_URL). An item's id is a tag URI on the item's database id
(`tag:HOST,2026:news/ID`): it never changes, not when the item is edited or moved, nor when its link does.
An item about an initiative the public can see links to the initiative; any other item to its anchor on
its own area's news page. An entry's `updated` is the item's last change; the feed's `updated` (and
Last-Modified) the last change of the area's news, hidden items included (see `repository.last_change`);
an area without news has a fixed date, so its ETag stays the same.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from markupsafe import escape
from sqlalchemy.orm import Session

from app.areas import repository as areas
from app.config import Settings
from app.errors import NotFound
from app.kit.markdown import render_markdown
from app.models import Area, AreaKind
from app.news import repository
from app.news.repository import NewsEntry

FEED_LIMIT = 50
PAGE_SIZE = 20
EMPTY_FEED_UPDATED = datetime(2026, 1, 1, tzinfo=UTC)
"""The `updated` of a feed without items: fixed, so the ETag does not change from request to request."""
TAG_DATE = "2026"

FeedFormat = Literal["atom", "rss", "json"]
MEDIA_TYPES: dict[FeedFormat, str] = {
    "atom": "application/atom+xml; charset=utf-8",
    "rss": "application/rss+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"

MAX_CODE_LENGTH = 10
_CODE = re.compile(r"(GM[0-9]{4}|WK[0-9]{6}|BU[0-9]{8})")


class UnknownArea(NotFound):
    slug = "area-not-found"
    message = "Deze gemeente, wijk of buurt bestaat niet."
    message_en = "This municipality, district or neighbourhood does not exist."


def parse_code(text: str) -> str:
    """A CBS area code (GM…, WK…, BU…) in capitals; anything else is UnknownArea before any query."""
    if len(text) > MAX_CODE_LENGTH or not text.isascii():
        raise UnknownArea()
    code = text.upper()
    if not _CODE.fullmatch(code):
        raise UnknownArea()
    return code


@dataclass(frozen=True)
class AreaRef:
    id: int
    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class AreaNews:
    """An area and a page of its visible news."""

    area: AreaRef
    lineage: list[AreaRef]
    """Gemeente first, the area last (for breadcrumbs); only the area itself unless asked for."""
    entries: list[NewsEntry]
    has_more: bool
    updated: datetime
    """The last change of the area's news (or EMPTY_FEED_UPDATED)."""


def _ref(area: Area) -> AreaRef:
    return AreaRef(id=area.id, code=area.code, name=area.name, kind=area.kind)


def load_area_news(
    session: Session,
    code: str,
    *,
    now: datetime,
    limit: int = FEED_LIMIT,
    offset: int = 0,
    with_lineage: bool = False,
) -> AreaNews:
    """The area with this (already parsed) code and `limit` of its visible items from `offset`; with
    `with_lineage` also its ancestors (a page's breadcrumbs)."""
    found = areas.by_code(session, code)
    if found is None:
        raise UnknownArea()
    area = _ref(found)
    area_ids = repository.news_area_ids(session, area.id, area.kind)
    entries = repository.visible_entries(session, area_ids=area_ids, now=now, limit=limit + 1, offset=offset)
    changed = repository.last_change(session, area_ids=area_ids, now=now)
    return AreaNews(
        area=area,
        lineage=[_ref(a) for a in areas.lineage(session, area.id)] if with_lineage else [area],
        entries=entries[:limit],
        has_more=len(entries) > limit,
        updated=_seconds(changed) if changed is not None else EMPTY_FEED_UPDATED,
    )


# --- Rendering ---------------------------------------------------------------------------------------------


def _seconds(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class FeedSite:
    """What every feed needs from the settings."""

    base_url: str
    municipality: str

    @classmethod
    def of(cls, settings: Settings) -> FeedSite:
        return cls(base_url=settings.base_url, municipality=settings.municipality_name)

    @property
    def base(self) -> str:
        return self.base_url.rstrip("/")

    @property
    def tag_authority(self) -> str:
        return urlsplit(self.base_url).hostname or "buurtkas.invalid"

    @property
    def publisher(self) -> str:
        return f"Buurtkas {self.municipality}"


def item_id(site: FeedSite, news_id: int) -> str:
    return f"tag:{site.tag_authority},{TAG_DATE}:news/{news_id}"


def item_url(site: FeedSite, entry: NewsEntry) -> str:
    item = entry.item
    if item.initiative_id is not None and entry.initiative_public:
        return f"{site.base}/initiatives/{item.initiative_id}"
    return f"{site.base}/areas/{entry.area_code}/news#nieuws-{item.id}"


def news_page_url(site: FeedSite, code: str) -> str:
    return f"{site.base}/areas/{code}/news"


def feed_url(site: FeedSite, code: str, kind: FeedFormat) -> str:
    return f"{site.base}/feeds/{code}.{kind}"


def feed_title(site: FeedSite, area: AreaRef) -> str:
    return f"Nieuws uit {area.name} – {site.publisher}"


def feed_description(area: AreaRef) -> str:
    if area.kind == AreaKind.buurt:
        scope = f"uit buurt {area.name}, de wijk en de gemeente"
    elif area.kind == AreaKind.wijk:
        scope = f"uit wijk {area.name}, haar buurten en de gemeente"
    else:
        scope = f"van de gemeente {area.name}"
    return f"Nieuws {scope}: berichten, nieuwe initiatieven, gehaalde doelen en resultaten."


def image_url(site: FeedSite, entry: NewsEntry) -> str | None:
    name = entry.item.image_filename
    return f"{site.base}/media/{name}" if name else None


def content_html(site: FeedSite, entry: NewsEntry) -> str:
    """The item's Markdown as safe HTML, with its image (absolute) first."""
    html = render_markdown(entry.item.body)
    image = image_url(site, entry)
    if image:
        figure = f'<p><img src="{escape(image)}" alt="{escape(entry.item.image_alt)}"></p>'
        html = figure + html
    return html


def author_of(site: FeedSite, entry: NewsEntry) -> str:
    return entry.item.author_name or site.publisher


def published_of(entry: NewsEntry) -> datetime:
    return _seconds(entry.item.published_at)


def updated_of(entry: NewsEntry) -> datetime:
    """The item's last change; never before it came out (a restored scheduled item)."""
    return _seconds(max(entry.item.updated_at, entry.item.published_at))


def _generator(site: FeedSite, news: AreaNews, kind: FeedFormat) -> FeedGenerator:
    area = news.area
    feed = FeedGenerator()
    feed.id(f"tag:{site.tag_authority},{TAG_DATE}:feeds/{area.code}")
    feed.title(feed_title(site, area))
    feed.subtitle(feed_description(area))
    feed.link(href=feed_url(site, area.code, kind), rel="self", type=MEDIA_TYPES[kind].split(";")[0])
    # RSS has one channel link: feedgen takes the last one added, which must be the HTML page.
    feed.link(href=news_page_url(site, area.code), rel="alternate", type="text/html")
    feed.language("nl")
    feed.author({"name": site.publisher})
    feed.generator("Buurtkas")
    feed.updated(news.updated)
    for entry in news.entries:
        tag = item_id(site, entry.item.id)
        item = feed.add_entry(order="append")
        item.id(tag)  # also the RSS guid (isPermaLink=false)
        item.title(entry.item.title)
        item.link(href=item_url(site, entry), rel="alternate", type="text/html")
        item.published(published_of(entry))
        item.updated(updated_of(entry))
        item.author({"name": author_of(site, entry)})
        item.content(content_html(site, entry), type="html")
    return feed


def atom(site: FeedSite, news: AreaNews) -> bytes:
    return bytes(_generator(site, news, "atom").atom_str(pretty=True))


def rss(site: FeedSite, news: AreaNews) -> bytes:
    return bytes(_generator(site, news, "rss").rss_str(pretty=True))


def json_feed(site: FeedSite, news: AreaNews) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    area = news.area
    items: list[dict[str, Any]] = []
    for entry in news.entries:
        item: dict[str, Any] = {
            "id": item_id(site, entry.item.id),
            "url": item_url(site, entry),
            "title": entry.item.title,
            "content_html": content_html(site, entry),
            "date_published": published_of(entry).isoformat(),
            "date_modified": updated_of(entry).isoformat(),
            "authors": [{"name": author_of(site, entry)}],
            "tags": [entry.item.kind],
        }
        image = image_url(site, entry)
        if image:
            item["image"] = image
        items.append(item)
    document = {
        "version": JSON_FEED_VERSION,
        "title": feed_title(site, area),
        "home_page_url": news_page_url(site, area.code),
        "feed_url": feed_url(site, area.code, "json"),
        "description": feed_description(area),
        "language": "nl",
        "authors": [{"name": site.publisher}],
        "items": items,
    }
    return json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")


RENDERERS = {"atom": atom, "rss": rss, "json": json_feed}


def render_feed(site: FeedSite, news: AreaNews, kind: FeedFormat) -> bytes:
    return RENDERERS[kind](site, news)
