"""The initiator's pages without JavaScript: write a draft, change it, add a photo, submit, withdraw."""

from __future__ import annotations

import io
from datetime import timedelta

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from app.db import Database
from app.kit.clock import today
from app.models import Initiative, InitiativePhoto
from tests.factories import World
from tests.initiator_helpers import signed_in
from tests.pages_helpers import alert_text, filled, form_fields, soup

GOOD = {
    "title": "Bloembakken in de Grotestraat",
    "summary": "Tien bloembakken maken de straat vrolijker.",
    "description": "Wij zetten tien bloembakken neer en de buren geven ze om de beurt water.",
    "category": "groen",
    "area": "BU01411000",
    "target": "400",
    "deadline": (today() + timedelta(days=30)).isoformat(),
    "line_text_0": "Tien bakken",
    "line_amount_0": "300",
    "line_text_1": "Planten en aarde",
    "line_amount_1": "100",
    "organiser_name_0": "Sanne",
    "organiser_email_0": "sanne@example.org",
}


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 80, 80)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_draft_photo_submit_and_withdraw(client: TestClient, db: Database, world: World) -> None:
    me = signed_in(client, db, "sanne.initiator@example.org")
    form_page = me.get("/my/initiatives/new")
    assert form_page.status_code == 200
    created = me.post(
        "/my/initiatives/new", data=filled(form_page, "/my/initiatives/new", **GOOD), follow_redirects=False
    )
    assert created.status_code == 303, alert_text(created)
    overview_url = created.headers["location"]
    initiative_id = int(overview_url.rsplit("/", 1)[1])

    overview = me.get(overview_url)
    token = form_fields(overview, f"/my/initiatives/{initiative_id}/photos")["csrf_token"]
    upload = me.post(
        f"/my/initiatives/{initiative_id}/photos",
        data={"csrf_token": token, "alt_text": "Een rode bloembak"},
        files={"photo": ("bak.jpg", jpeg(), "image/jpeg")},
        follow_redirects=False,
    )
    assert upload.status_code == 303
    php = me.post(
        f"/my/initiatives/{initiative_id}/photos",
        data={"csrf_token": token, "alt_text": "Niks"},
        files={"photo": ("shell.jpg", b"<?php system($_GET['c']); ?>", "image/jpeg")},
    )
    assert php.status_code == 422
    assert "geen foto" in alert_text(php)
    huge = me.post(
        f"/my/initiatives/{initiative_id}/photos",
        data={"csrf_token": token, "alt_text": "Groot"},
        files={"photo": ("groot.jpg", jpeg() + b"\0" * (40 * 1024 * 1024), "image/jpeg")},
    )
    assert huge.status_code == 413
    assert "te groot" in alert_text(huge)

    edit = me.get(f"/my/initiatives/{initiative_id}/edit")
    changed = me.post(
        f"/my/initiatives/{initiative_id}/edit",
        data=filled(edit, f"/my/initiatives/{initiative_id}/edit", title="Twaalf bloembakken"),
        follow_redirects=False,
    )
    assert changed.status_code == 303
    overview = me.get(overview_url)
    submitted = me.post(
        f"/my/initiatives/{initiative_id}/submit",
        data=form_fields(overview, f"/my/initiatives/{initiative_id}/submit"),
        follow_redirects=False,
    )
    assert submitted.status_code == 303
    overview = me.get(overview_url)
    assert "Ingediend" in soup(overview).get_text(" ", strip=True)
    assert soup(overview).find("form", attrs={"action": f"/my/initiatives/{initiative_id}/edit"}) is None
    withdrawn = me.post(
        f"/my/initiatives/{initiative_id}/withdraw",
        data={**form_fields(overview, f"/my/initiatives/{initiative_id}/withdraw"), "reason": "Geen tijd"},
        follow_redirects=False,
    )
    assert withdrawn.status_code == 303
    with db.read() as session:
        row = session.execute(select(Initiative).where(Initiative.id == initiative_id)).scalar_one()
        photos = session.scalars(
            select(InitiativePhoto).where(InitiativePhoto.initiative_id == initiative_id)
        ).all()
    assert (row.title, row.status) == ("Twaalf bloembakken", "withdrawn")
    assert len(photos) == 1


def test_bad_form_is_explained_with_the_input_kept(client: TestClient, db: Database, world: World) -> None:
    me = signed_in(client, db, "fout@example.org")
    page = me.get("/my/initiatives/new")
    answer = me.post(
        "/my/initiatives/new", data=filled(page, "/my/initiatives/new", **{**GOOD, "target": "veel"})
    )
    assert answer.status_code == 422
    assert "Streefbedrag" in alert_text(answer)
    answer = me.post(
        "/my/initiatives/new", data=filled(page, "/my/initiatives/new", **{**GOOD, "line_amount_1": "50"})
    )
    assert answer.status_code == 422
    assert "begrotingsregels" in alert_text(answer)
    kept = form_fields(answer, "/my/initiatives/new")
    assert kept["title"] == GOOD["title"] and kept["line_amount_1"] == "50"
    with db.read() as session:
        assert session.scalars(select(Initiative).where(Initiative.title == GOOD["title"])).all() == []


def test_other_initiators_cannot_see_or_change_it(client: TestClient, db: Database, world: World) -> None:
    owner = signed_in(client, db, "owner@example.org")
    page = owner.get("/my/initiatives/new")
    created = owner.post(
        "/my/initiatives/new", data=filled(page, "/my/initiatives/new", **GOOD), follow_redirects=False
    )
    initiative_id = int(created.headers["location"].rsplit("/", 1)[1])
    other = signed_in(client, db, "other@example.org")
    token = form_fields(other.get("/my/initiatives/new"), "/my/initiatives/new")["csrf_token"]
    for method, path in [
        ("get", f"/my/initiatives/{initiative_id}"),
        ("get", f"/my/initiatives/{initiative_id}/edit"),
        ("post", f"/my/initiatives/{initiative_id}/submit"),
        ("post", f"/my/initiatives/{initiative_id}/withdraw"),
        ("post", f"/my/initiatives/{world.initiative_id}/withdraw"),
    ]:
        answer = other.get(path) if method == "get" else other.post(path, data={"csrf_token": token})
        assert answer.status_code == 404, (path, answer.status_code)
    with db.read() as session:
        assert session.scalar(select(Initiative.status).where(Initiative.id == initiative_id)) == "draft"


def test_signed_out_visitor_is_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/my/initiatives/new", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login")
