"""Back-office news: writing, scheduling and editing posts with an image, hiding and restoring any item,
the audit trail of each, and the wijk scope on every route (pages, filters, forged posts)."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.kit.clock import AMSTERDAM
from app.models import AuditEvent, NewsItem, NewsKind
from app.models.base import utcnow
from app.news import repository
from app.news.service import post_news
from tests.factories import World, area_id
from tests.pages_helpers import alert_text, form_fields, soup
from tests.staff_helpers import make_staff, staff_browser

PHP = b"<?php system($_GET['c']); ?>\n"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 80, 20)).save(buffer, "PNG")
    return buffer.getvalue()


def audit(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))
        )


def news_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).where(NewsItem.kind == NewsKind.post)) or 0)


def item(db: Database, news_id: int) -> NewsItem:
    with db.read() as session:
        found = session.get(NewsItem, news_id)
        assert found is not None
        return found


def area(db: Database, code: str) -> int:
    with db.read() as session:
        return area_id(session, code)


def new_post(browser: TestClient, **values: str) -> object:
    page = browser.get("/staff/news/new")
    assert page.status_code == 200
    fields = form_fields(page, "/staff/news/new")
    fields.update({"publish": "now", "title": "Straatfeest op zaterdag", "body": "Iedereen is **welkom**."})
    fields.update(values)
    files = None
    if "image" in values:
        fields.pop("image")
        files = {"image": ("foto.jpg", values["image"].encode("latin-1"), "image/jpeg")}
    return browser.post("/staff/news/new", data=fields, files=files, follow_redirects=False)


def edit_fields(page: object, action: str) -> dict[str, str]:
    """The edit form as a browser would send it: inputs, the chosen area and the text."""
    fields = form_fields(page, action)
    html = soup(page)
    selected = html.select_one("#area option[selected]")
    fields["area"] = str(selected["value"]) if selected else ""
    fields["body"] = html.find("textarea").get_text()
    checked = html.select_one('input[name="publish"][checked]')
    fields["publish"] = str(checked["value"]) if checked else ""
    fields.pop("remove_image", None)
    return fields


def public_titles(client: TestClient) -> str:
    return client.get("/").text


@pytest.fixture
def director(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return staff_browser(client, db, make_staff(db, settings, email="regisseur@almelo.nl"))


def test_post_now_is_public_and_audited(client: TestClient, db: Database, director: TestClient) -> None:
    buurt = area(db, "BU01411000")
    response = new_post(director, area=str(buurt))
    assert response.status_code == 303, response.text
    listing = director.get(response.headers["location"])
    assert "Straatfeest op zaterdag" in listing.text
    assert "Straatfeest op zaterdag" in public_titles(client)
    [event] = audit(db, "news.created")
    after = json.loads(event.after or "{}")
    assert after["title"] == "Straatfeest op zaterdag" and after["area_id"] == buurt
    assert event.actor.startswith("staff:")
    with db.read() as session:
        stored = session.scalars(select(NewsItem).where(NewsItem.kind == NewsKind.post)).one()
    assert stored.kind == NewsKind.post and stored.author_staff_id is not None


def test_scheduled_post_appears_only_from_its_moment(
    client: TestClient, db: Database, director: TestClient
) -> None:
    moment = (utcnow() + timedelta(days=2)).astimezone(AMSTERDAM).replace(second=0, microsecond=0)
    response = new_post(
        director,
        area=str(area(db, "WK014110")),
        publish="later",
        publish_date=moment.date().isoformat(),
        publish_time=moment.strftime("%H:%M"),
    )
    assert response.status_code == 303, response.text
    with db.read() as session:
        stored = session.scalars(select(NewsItem).where(NewsItem.kind == NewsKind.post)).one()
        assert stored.published_at == moment.astimezone(stored.published_at.tzinfo)  # stored in UTC
        shown = repository.latest(session, area_ids=None, now=utcnow(), limit=10)
        assert [found.kind for found, _name in shown] == [NewsKind.published]  # the world's initiative
        later = repository.latest(session, area_ids=None, now=moment + timedelta(seconds=1), limit=10)
        assert [found.id for found, _name in later if found.kind == NewsKind.post] == [stored.id]
    assert "Straatfeest op zaterdag" not in public_titles(client)
    page = director.get("/staff/news?state=scheduled")
    assert "Straatfeest op zaterdag" in page.text
    assert "Straatfeest op zaterdag" not in director.get("/staff/news?state=published").text


def test_edit_keeps_audit_before_and_after(db: Database, director: TestClient) -> None:
    new_post(director, area=str(area(db, "BU01411000")))
    with db.read() as session:
        news_id = session.scalars(select(NewsItem.id).where(NewsItem.kind == NewsKind.post)).one()
    page = director.get(f"/staff/news/{news_id}/edit")
    assert page.status_code == 200
    fields = edit_fields(page, f"/staff/news/{news_id}/edit")
    assert fields["title"] == "Straatfeest op zaterdag"
    fields.update(title="Straatfeest gaat niet door")
    response = director.post(f"/staff/news/{news_id}/edit", data=fields, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert item(db, news_id).title == "Straatfeest gaat niet door"
    [event] = audit(db, "news.updated")
    assert json.loads(event.before or "{}") == {"title": "Straatfeest op zaterdag"}
    assert json.loads(event.after or "{}") == {"title": "Straatfeest gaat niet door"}


def test_image_upload_alt_text_and_hostile_file(
    db: Database, settings: Settings, director: TestClient
) -> None:
    buurt = str(area(db, "BU01411000"))
    png = png_bytes().decode("latin-1")
    missing_alt = new_post(director, area=buurt, image=png)
    assert missing_alt.status_code == 422
    assert "beschrijf" in alert_text(missing_alt).lower()
    assert soup(missing_alt).find("input", attrs={"name": "title"})["value"] == "Straatfeest op zaterdag"
    hostile = new_post(director, area=buurt, image=PHP.decode("latin-1"), image_alt="Een feestje")
    assert hostile.status_code == 422
    assert "geen foto" in alert_text(hostile)
    assert news_count(db) == 0 and audit(db, "news.created") == []

    accepted = new_post(director, area=buurt, image=png, image_alt="Slingers in de straat")
    assert accepted.status_code == 303, accepted.text
    with db.read() as session:
        stored = session.scalars(select(NewsItem).where(NewsItem.kind == NewsKind.post)).one()
    assert stored.image_filename and stored.image_alt == "Slingers in de straat"
    with Image.open(settings.media_dir / stored.image_filename) as saved:
        assert saved.format == "JPEG"

    page = director.get(f"/staff/news/{stored.id}/edit")
    fields = edit_fields(page, f"/staff/news/{stored.id}/edit")
    fields.update(remove_image="1")
    assert (
        director.post(f"/staff/news/{stored.id}/edit", data=fields, follow_redirects=False).status_code == 303
    )
    assert item(db, stored.id).image_filename is None


def test_hide_and_restore_any_item(
    client: TestClient, db: Database, world: World, director: TestClient
) -> None:
    with db.write() as session:
        update_id = post_news(
            session,
            area_id=area_id(session, "BU01411000"),
            initiative_id=world.initiative_id,
            kind=NewsKind.update,
            title="De bankjes zijn besteld",
            body="Volgende week worden ze geplaatst.",
            author_name="Initiatiefnemer",
        )
    initiative_page = f"/initiatives/{world.initiative_id}"
    assert "De bankjes zijn besteld" in client.get(initiative_page).text
    listing = director.get("/staff/news")
    assert "De bankjes zijn besteld" in listing.text
    assert director.get(f"/staff/news/{update_id}/edit").status_code == 409  # not a staff post
    fields = form_fields(listing, f"/staff/news/{update_id}/hide")
    assert (
        director.post(f"/staff/news/{update_id}/hide", data=fields, follow_redirects=False).status_code == 303
    )
    assert item(db, update_id).hidden
    assert "De bankjes zijn besteld" not in client.get(initiative_page).text
    assert "De bankjes zijn besteld" not in client.get("/").text
    hidden_list = director.get("/staff/news?state=hidden")
    assert "De bankjes zijn besteld" in hidden_list.text
    fields = form_fields(hidden_list, f"/staff/news/{update_id}/restore")
    response = director.post(f"/staff/news/{update_id}/restore", data=fields, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/staff/news?state=hidden"
    assert not item(db, update_id).hidden
    assert "De bankjes zijn besteld" in client.get(initiative_page).text
    assert [e.subject_id for e in audit(db, "news.hidden")] == [str(update_id)]
    assert [e.subject_id for e in audit(db, "news.restored")] == [str(update_id)]


@pytest.mark.parametrize(
    "values",
    [
        {"title": ""},
        {"title": "x" * 161},
        {"body": ""},
        {"body": "x" * 20_001},
        {"area": ""},
        {"area": "999999"},
        {"area": "abc"},
        {"publish": "soon"},
        {"publish": "later", "publish_date": "2020-01-01", "publish_time": "10:00"},
        {"publish": "later", "publish_date": "31-12-2030", "publish_time": "10:00"},
        {"publish": "later", "publish_date": "2030-02-30", "publish_time": "25:00"},
    ],
)
def test_bad_input_is_refused_with_422_and_changes_nothing(
    db: Database, director: TestClient, values: dict[str, str]
) -> None:
    fields = {"area": str(area(db, "BU01411000")), **values}
    response = new_post(director, **fields)
    assert response.status_code == 422, response.text
    assert alert_text(response)
    assert news_count(db) == 0 and audit(db, "news.created") == []


def test_bad_filters_and_ids(director: TestClient) -> None:
    for query in ("kind=nonsense", "state=x", "area=abc", "page=0", "initiative=-1", "page=99999999999"):
        response = director.get(f"/staff/news?{query}")
        assert response.status_code == 422, query
        assert alert_text(response)
    for path in ("/staff/news/99999999999999999999/edit", "/staff/news/0/edit", "/staff/news/abc/edit"):
        assert director.get(path).status_code == 404, path


def test_director_of_other_wijk_sees_and_touches_nothing(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    with db.write() as session:
        ids = {
            code: post_news(
                session,
                area_id=area_id(session, code),
                kind=NewsKind.post,
                title=f"Nieuws {code}",
                body="Tekst",
            )
            for code in ("BU01411000", "WK014110", "GM0141", "BU01411800")
        }
        update_id = post_news(
            session,
            area_id=area_id(session, "BU01411000"),
            initiative_id=world.initiative_id,
            kind=NewsKind.update,
            title="Nieuws update",
            body="Tekst",
        )
    other = staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )
    listing = other.get("/staff/news")
    assert "Nieuws BU01411800" in listing.text
    for hidden_from_other in ("Nieuws BU01411000", "Nieuws WK014110", "Nieuws GM0141", "Nieuws update"):
        assert hidden_from_other not in listing.text
    assert "Nieuws BU01411000" not in other.get(f"/staff/news?area={area(db, 'BU01411000')}").text
    assert "Nieuws update" not in other.get(f"/staff/news?initiative={world.initiative_id}").text
    picker = {option["value"] for option in soup(other.get("/staff/news/new")).select("#area option")}
    assert str(area(db, "BU01411800")) in picker and str(area(db, "WK014110")) not in picker
    assert str(area(db, "GM0141")) not in picker

    csrf = form_fields(other.get("/staff/news/new"), "/staff/news/new")["csrf_token"]
    before = [item(db, news_id) for news_id in (*ids.values(), update_id)]
    for news_id in (ids["BU01411000"], ids["WK014110"], ids["GM0141"], update_id):
        assert other.get(f"/staff/news/{news_id}/edit").status_code == 404
        for action in ("edit", "hide", "restore"):
            forged = {
                "csrf_token": csrf,
                "title": "Gehackt",
                "body": "x",
                "area": str(area(db, "BU01411800")),
            }
            response = other.post(f"/staff/news/{news_id}/{action}", data=forged, follow_redirects=False)
            assert response.status_code == 404, (news_id, action)
    forged_new = {"csrf_token": csrf, "title": "Gehackt bericht", "body": "x", "publish": "now"}
    for code in ("BU01411000", "GM0141"):
        response = other.post("/staff/news/new", data={**forged_new, "area": str(area(db, code))})
        assert response.status_code == 422
    after = [item(db, news_id) for news_id in (*ids.values(), update_id)]
    assert [(i.title, i.hidden, i.area_id) for i in before] == [(i.title, i.hidden, i.area_id) for i in after]
    assert audit(db, "news.hidden") == [] and audit(db, "news.created") == []


def test_gemeente_news_for_admins_and_gemeente_wide_directors(
    client: TestClient, db: Database, settings: Settings, world: World
) -> None:
    gemeente = str(area(db, "GM0141"))
    wide = staff_browser(
        client,
        db,
        make_staff(db, settings, email="breed@almelo.nl", wijken=("WK014118",), gemeente_wide=True),
    )
    admin = staff_browser(
        client, db, make_staff(db, settings, email="admin@almelo.nl", role="admin", wijken=())
    )
    assert new_post(wide, area=gemeente, title="Voor heel Almelo").status_code == 303
    assert new_post(admin, area=gemeente, title="Ook voor heel Almelo").status_code == 303
    narrow = staff_browser(client, db, make_staff(db, settings, email="smal@almelo.nl", wijken=("WK014118",)))
    assert new_post(narrow, area=gemeente, title="Mag niet").status_code == 422
    assert "Voor heel Almelo" not in narrow.get("/staff/news").text
    assert "Voor heel Almelo" in wide.get("/staff/news").text
    assert "Voor heel Almelo" in admin.get("/staff/news").text
    assert news_count(db) == 2
