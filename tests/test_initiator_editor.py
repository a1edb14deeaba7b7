"""The initiator's draft → submit → withdraw path and photo uploads, through the service (pages: e2e)."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import insert, select

from app.db import Database
from app.initiatives import editor
from app.initiatives.errors import InitiativeInvalid, InitiativeNotFound, TransitionNotAllowed
from app.initiatives.service import NewInitiative
from app.initiatives.uploads import PhotoRefused
from app.kit.clock import today
from app.models import Account, Initiative, InitiativePhoto, InitiativeStatus
from tests.factories import World

TODAY = today()


def account(db: Database, email: str) -> int:
    with db.write() as session:
        return session.execute(
            insert(Account).values(email=email, display_name="", locale="nl").returning(Account.id)
        ).scalar_one()


def draft_data(**changes: object) -> NewInitiative:
    values: dict[str, object] = {
        "title": "Bankjes bij de vijver",
        "area_code": "BU01411000",
        "target_cents": 60_000,
        "deadline": TODAY + timedelta(days=40),
        "summary": "Twee bankjes zodat ouderen kunnen rusten.",
        "description": "Langs de vijver is nergens een plek om te zitten. Wij plaatsen twee bankjes.",
        "category": "ontmoeten",
        "initiator_name": "Fatima",
        "budget_lines": (("Twee bankjes", 50_000), ("Plaatsen", 10_000)),
    }
    values.update(changes)
    return NewInitiative(**values)  # type: ignore[arg-type]


def jpeg(size: tuple[int, int] = (800, 600), **save: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 60)).save(buffer, "JPEG", **save)
    return buffer.getvalue()


def test_draft_submit_and_withdraw(db: Database, world: World) -> None:
    owner = account(db, "fatima@example.org")
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            draft_data(),
            [("Piet", "piet@example.org")],
            account_id=owner,
            settings=world.settings,
            today=TODAY,
        )
        editor.update_draft(
            session,
            initiative_id,
            draft_data(title="Drie bankjes bij de vijver", budget_lines=(("Drie bankjes", 60_000),)),
            [("Piet", "PIET@Example.org")],
            account_id=owner,
            settings=world.settings,
            today=TODAY,
        )
        editor.submit(session, initiative_id, account_id=owner, settings=world.settings, today=TODAY)
        with pytest.raises(TransitionNotAllowed):
            editor.update_draft(
                session,
                initiative_id,
                draft_data(),
                [],
                account_id=owner,
                settings=world.settings,
                today=TODAY,
            )
        editor.withdraw(session, initiative_id, account_id=owner, reason="Te weinig tijd", today=TODAY)
    with db.read() as session:
        row = session.execute(select(Initiative).where(Initiative.id == initiative_id)).scalar_one()
        assert (row.title, row.status) == ("Drie bankjes bij de vijver", InitiativeStatus.withdrawn)


def test_someone_elses_initiative_is_not_found(db: Database, world: World) -> None:
    owner, other = account(db, "a@example.org"), account(db, "b@example.org")
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            draft_data(),
            [("Piet", "piet@example.org")],
            account_id=owner,
            settings=world.settings,
            today=TODAY,
        )
    for act in (
        lambda s: editor.update_draft(
            s, initiative_id, draft_data(), [], account_id=other, settings=world.settings, today=TODAY
        ),
        lambda s: editor.submit(s, initiative_id, account_id=other, settings=world.settings, today=TODAY),
        lambda s: editor.withdraw(s, initiative_id, account_id=other, reason="", today=TODAY),
        lambda s: editor.add_photo(
            s, initiative_id, jpeg(), "Een vijver", account_id=other, media_dir=world.settings.media_dir
        ),
        lambda s: editor.update_draft(
            s, world.initiative_id, draft_data(), [], account_id=other, settings=world.settings, today=TODAY
        ),
    ):
        with pytest.raises(InitiativeNotFound), db.write() as session:
            act(session)


@pytest.mark.parametrize(
    ("changes", "organisers", "words"),
    [
        ({"target_cents": 1_000}, [("Piet", "piet@example.org")], "streefbedrag"),
        ({"budget_lines": (("Bankjes", 10_000),)}, [("Piet", "piet@example.org")], "begrotingsregels"),
        ({"deadline": TODAY - timedelta(days=1)}, [("Piet", "piet@example.org")], "einddatum"),
        ({}, [("Piet", "geen-adres")], "e-mailadres"),
        ({}, [("", "piet@example.org")], "naam"),
    ],
)
def test_bad_drafts_are_refused(
    db: Database, world: World, changes: dict[str, object], organisers: list[tuple[str, str]], words: str
) -> None:
    owner = account(db, "c@example.org")
    with pytest.raises(InitiativeInvalid) as refused, db.write() as session:
        editor.create_draft(
            session, draft_data(**changes), organisers, account_id=owner, settings=world.settings, today=TODAY
        )
    assert words in refused.value.detail


def test_submit_needs_co_organisers_and_content(db: Database, world: World) -> None:
    owner = account(db, "d@example.org")
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            draft_data(summary="", budget_lines=()),
            [],
            account_id=owner,
            settings=world.settings,
            today=TODAY,
        )
    with pytest.raises(InitiativeInvalid) as refused, db.write() as session:
        editor.submit(session, initiative_id, account_id=owner, settings=world.settings, today=TODAY)
    for needed in ("samenvatting", "begroting", "mede-organisator"):
        assert needed in refused.value.detail


HOSTILE = {
    "php-named-jpg": b"<?php system($_GET['c']); ?>",
    "svg-with-script": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "html": b"<html><img src=x onerror=alert(1)></html>",
    "truncated-jpeg": jpeg()[:200],
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_are_refused_and_nothing_is_stored(db: Database, world: World, name: str) -> None:
    owner = account(db, f"{name}@example.org")
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            draft_data(),
            [("Piet", "piet@example.org")],
            account_id=owner,
            settings=world.settings,
            today=TODAY,
        )
    with pytest.raises(PhotoRefused), db.write() as session:
        editor.add_photo(
            session,
            initiative_id,
            HOSTILE[name],
            "Een foto",
            account_id=owner,
            media_dir=world.settings.media_dir,
        )
    with db.read() as session:
        assert (
            session.scalars(
                select(InitiativePhoto).where(InitiativePhoto.initiative_id == initiative_id)
            ).all()
            == []
        )


def test_decompression_bomb_and_huge_file_are_refused(db: Database, world: World) -> None:
    owner = account(db, "bomb@example.org")
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")  # 48 KB on disk, 400 million pixels
    huge = jpeg() + b"\0" * (40 * 1024 * 1024)  # a 40 MB file
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            draft_data(),
            [("Piet", "piet@example.org")],
            account_id=owner,
            settings=world.settings,
            today=TODAY,
        )
    for data, words in ((bomb.getvalue(), "beeldpunten"), (huge, "te groot")):
        with pytest.raises(PhotoRefused) as refused, db.write() as session:
            editor.add_photo(
                session, initiative_id, data, "Een foto", account_id=owner, media_dir=world.settings.media_dir
            )
        assert words in refused.value.detail


def test_photos_are_reencoded_without_exif_and_limited_to_six(db: Database, world: World) -> None:
    owner = account(db, "photo@example.org")
    exif = Image.Exif()
    exif[0x8825] = {2: (52.0, 21.0, 0.0), 4: (6.0, 39.0, 0.0)}  # GPS position in Almelo
    exif[0x010F] = "PhoneMaker"
    with db.write() as session:
        initiative_id = editor.create_draft(
            session,
            draft_data(),
            [("Piet", "piet@example.org")],
            account_id=owner,
            settings=world.settings,
            today=TODAY,
        )
        names = [
            editor.add_photo(
                session,
                initiative_id,
                jpeg((4000, 3000), exif=exif.tobytes()),
                f"Foto {n}",
                account_id=owner,
                media_dir=world.settings.media_dir,
            )
            for n in range(6)
        ]
        with pytest.raises(PhotoRefused):
            editor.add_photo(
                session,
                initiative_id,
                jpeg(),
                "Zevende",
                account_id=owner,
                media_dir=world.settings.media_dir,
            )
    with Image.open(world.settings.media_dir / names[0]) as stored:
        assert max(stored.size) == 1200
        assert not stored.getexif(), "EXIF (and the GPS position in it) must be gone"
    with db.write() as session:
        first = session.scalars(select(InitiativePhoto.id).where(InitiativePhoto.filename == names[0])).one()
        editor.remove_photo(session, initiative_id, first, account_id=owner)
    with db.read() as session:
        positions = session.scalars(
            select(InitiativePhoto.position)
            .where(InitiativePhoto.initiative_id == initiative_id)
            .order_by(InitiativePhoto.position)
        ).all()
    assert positions == [0, 1, 2, 3, 4]
