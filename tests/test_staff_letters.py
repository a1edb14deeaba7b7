"""Back-office letters (issue 8): opening a period writes the letters PDF and the mail-merge CSV beside the
codes into PRINT_DIR (0600, names and sizes on the page, never over HTTP); reissuing a lost voucher writes
its letter; an administrator reprints a list of addresses (confirm step, one transaction, every bad line
named). The PDFs are read back (pages, codes, addresses); old codes stop working; a refused request
changes nothing and leaves no file, hidden ones included."""

from __future__ import annotations

import errno
import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import func, select

from app.config import Settings
from app.db import Database
from app.letters.pdfjoin import PdfJoiner
from app.models import AuditEvent, Household, Voucher
from tests.cli_helpers import read_codes
from tests.dbstate import assert_ledger_ok, diff, snapshot
from tests.factories import World, load_households
from tests.letters_helpers import page_texts, qr_codes, read_mailmerge, require_qr_tools
from tests.pages_helpers import alert_text, form_fields, soup
from tests.race_helpers import pledge
from tests.staff_helpers import make_staff, staff_browser

CODE = re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}\b")
STAMP = r"\d{8}-\d{6}"
SESSIONS = ("rate_counters", "staff_sessions", "staff_members")
"""Signing in and using the back office touches these; a refusal must change nothing else."""


@pytest.fixture
def print_dir(settings: Settings, tmp_path: Path) -> Path:
    settings.print_dir = tmp_path / "print"
    return settings.print_dir


@pytest.fixture
def admin(client: TestClient, db: Database, settings: Settings, world: World, print_dir: Path) -> TestClient:
    return staff_browser(
        client, db, make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    )


@pytest.fixture
def director(
    client: TestClient, db: Database, settings: Settings, world: World, print_dir: Path
) -> TestClient:
    return staff_browser(client, db, make_staff(db, settings, email="regisseur@almelo.nl"))


def files_in(directory: Path) -> list[str]:
    """Everything in the print folder, hidden temporary files and part folders included."""
    return sorted(path.name for path in directory.iterdir()) if directory.exists() else []


def shown_files(page: Any) -> dict[str, str]:
    return {
        str(e["data-print-file"]): str(e["data-file-name"]) for e in soup(page).select("[data-print-file]")
    }


def audit(db: Database, action: str) -> list[AuditEvent]:
    with db.read() as session:
        query = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        return list(session.scalars(query))


def after(event: AuditEvent) -> Any:
    return json.loads(event.after or "null")


def textarea(page: Any, selector: str) -> str:
    """A text box's content as a browser reads it (the line break right after the tag is not part of it)."""
    return str(soup(page).select_one(selector).get_text()).removeprefix("\n")


def voucher_count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Voucher)) or 0)


def check(client: TestClient, code: str) -> dict[str, Any]:
    answer = client.post("/api/v1/vouchers/check", json={"code": code})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def code_of(world: World, db: Database, huisnummer: int) -> str:
    with db.read() as session:
        household_id = session.execute(
            select(Household.id).where(Household.postcode == "7600AB", Household.huisnummer == huisnummer)
        ).scalar_one()
    return world.codes_by_household[household_id]


def live_voucher_id(db: Database, huisnummer: int) -> int:
    with db.read() as session:
        return int(
            session.execute(
                select(Voucher.id)
                .join(Household, Household.id == Voucher.household_id)
                .where(Household.huisnummer == huisnummer, Voucher.is_current.is_(True))
            ).scalar_one()
        )


# --- Opening a period ----------------------------------------------------------------------------------


def preview_period(admin: TestClient) -> Any:
    fields = form_fields(admin.get("/staff/vouchers/periods/new"), "/staff/vouchers/periods/new")
    fields.update({"name": "Najaar 2027", "starts": "2027-09-01", "ends": "2099-02-28"})
    preview = admin.post("/staff/vouchers/periods/new", data=fields)
    assert preview.status_code == 200, preview.text
    return preview


def confirm_period(admin: TestClient, preview: Any) -> Any:
    fields = form_fields(preview, "/staff/vouchers/periods/confirm")
    return admin.post("/staff/vouchers/periods/confirm", data=fields, follow_redirects=False)


def test_opening_a_period_writes_letters_and_mailmerge_into_the_print_folder(
    client: TestClient, db: Database, world: World, admin: TestClient, print_dir: Path
) -> None:
    done = confirm_period(admin, preview_period(admin))
    assert done.status_code == 303, done.text
    page = admin.get(done.headers["location"])
    shown = shown_files(page)
    assert set(shown) == {"codes", "letters", "mailmerge"}
    stem = shown["codes"].removesuffix("-codes.csv")
    assert re.fullmatch(rf"najaar-2027-{STAMP}", stem), stem
    assert shown == {
        "codes": f"{stem}-codes.csv",
        "letters": f"{stem}-brieven.pdf",
        "mailmerge": f"{stem}-mailmerge.csv",
    }
    assert files_in(print_dir) == sorted(shown.values())
    for name in shown.values():
        assert stat.S_IMODE((print_dir / name).stat().st_mode) == 0o600, name
    text = soup(page).get_text(" ", strip=True)
    assert "De brieven staan klaar in de printmap" in text
    assert "Geef dit bestand aan de drukker of het postbedrijf." in text
    letters_line = soup(page).select_one('[data-print-file="letters"]').get_text(" ", strip=True)
    size_kb = -(-(print_dir / shown["letters"]).stat().st_size // 1000)
    assert f"({size_kb} kB)" in letters_line, letters_line
    # Names only: no link, no route serves them, no code on the page.
    assert not soup(page).select("a[href*='najaar-2027']") and not CODE.search(page.text)
    for url in (f"/staff/vouchers/print/{shown['letters']}", f"/print/{shown['letters']}",
                f"/media/{shown['letters']}", f"/static/{shown['letters']}"):  # fmt: skip
        assert admin.get(url).status_code == 404, url

    _header, codes = read_codes(print_dir / shown["codes"])
    texts = page_texts(print_dir / shown["letters"])
    _columns, merged = read_mailmerge(print_dir / shown["mailmerge"])
    assert len(codes) == len(texts) == len(merged) == 40
    assert [int(r["huisnummer"]) for r in codes] == list(range(2, 42))  # mail-house order
    for row, letter, line in zip(codes, texts, merged, strict=True):
        assert row["code"] in letter and f"Grotestraat {row['huisnummer']} 7600 AB ALMELO" in letter
        assert line["code"] == row["code"] and line["adres"] == f"Grotestraat {row['huisnummer']}"
    assert (check(client, codes[-1]["code"])["status"], check(client, codes[0]["code"])["balance_cents"]) == (
        "active",
        750,
    )
    [event] = audit(db, "vouchers.print_batch_written")
    assert after(event) == {"count": 40, **shown}
    assert event.actor.startswith("staff:")
    assert_ledger_ok(db)


def test_a_refused_opening_writes_nothing(
    db: Database, settings: Settings, world: World, admin: TestClient, print_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    preview = preview_period(admin)
    before = snapshot(db, skip=SESSIONS)

    # The number changed since the preview: asked again, no file.
    with db.write() as session:
        load_households(session, tmp_path, count=1, start=50)
    changed = snapshot(db, skip=SESSIONS)
    assert confirm_period(admin, preview).status_code == 409
    assert files_in(print_dir) == []

    # A logo that cannot be read: refused before any voucher is issued.
    broken = tmp_path / "logo.png"
    broken.write_bytes(b"not an image")
    settings.letters_logo_path = broken
    refused = confirm_period(admin, preview_period(admin))
    assert refused.status_code == 503 and "logo" in alert_text(refused)
    settings.letters_logo_path = None

    # A full disk while the PDF is closed (inside the transaction): rolled back.
    def disk_full(self: PdfJoiner, part: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(PdfJoiner, "add", disk_full)
        full = confirm_period(admin, preview_period(admin))
    assert full.status_code == 503 and "Er is niets veranderd" in alert_text(full)

    # A print folder that cannot be made.
    settings.print_dir = tmp_path / "a-file"
    settings.print_dir.write_text("x", encoding="utf-8")
    unwritable = confirm_period(admin, preview_period(admin))
    assert unwritable.status_code == 503 and "drukbestand" in alert_text(unwritable)

    assert files_in(print_dir) == []
    after = snapshot(db, skip=SESSIONS)
    assert after == changed, diff(changed, after)
    assert before["vouchers"] == after["vouchers"] and before["voucher_periods"] == after["voucher_periods"]


# --- Reissuing one voucher -----------------------------------------------------------------------------


def reissue(browser: TestClient, voucher_id: int) -> Any:
    page = browser.get(f"/staff/vouchers/{voucher_id}/reissue")
    fields = form_fields(page, f"/staff/vouchers/{voucher_id}/reissue")
    return browser.post(f"/staff/vouchers/{voucher_id}/reissue", data=fields)


def test_reissue_writes_one_letter_with_the_new_code(
    client: TestClient, db: Database, settings: Settings, world: World, director: TestClient, print_dir: Path
) -> None:
    old_code = code_of(world, db, 2)
    assert pledge(client, old_code, world.initiative_id, 200).status_code == 201
    voucher_id = live_voucher_id(db, 2)
    done = reissue(director, voucher_id)
    assert done.status_code == 200, done.text
    [new_code] = CODE.findall(soup(done).select_one("[data-voucher-code]").get_text())
    shown = shown_files(done)
    assert list(shown) == ["letters"]
    assert re.fullmatch(rf"voorjaar-2027-{STAMP}-brief-7600ab-2\.pdf", shown["letters"]), shown
    assert "Druk de brief af en geef hem aan de bewoner." in soup(done).get_text(" ", strip=True)
    assert files_in(print_dir) == [shown["letters"]]
    letter = print_dir / shown["letters"]
    assert stat.S_IMODE(letter.stat().st_mode) == 0o600
    assert len(PdfReader(letter).pages) == 1
    [text] = page_texts(letter)
    for part in (
        "Grotestraat 2 7600 AB ALMELO",
        new_code,
        "€ 5,50",
        "De code uit uw vorige brief werkt niet meer.",
    ):
        assert part in text, (part, text)
    require_qr_tools()
    assert qr_codes(letter, 1) == [f"{settings.base_url}/v/{new_code}"]

    assert check(client, old_code)["status"] == "replaced"
    assert pledge(client, old_code, world.initiative_id, 100).status_code == 409
    assert (check(client, new_code)["status"], check(client, new_code)["balance_cents"]) == ("active", 550)
    [event] = audit(db, "voucher.letter_written")
    assert after(event) == {"file": shown["letters"]} and event.actor.startswith("staff:")

    # A second post of the same form: refused, no second letter.
    again = director.post(
        f"/staff/vouchers/{voucher_id}/reissue",
        data={"csrf_token": form_fields(done, "/staff/logout")["csrf_token"]},
    )
    assert again.status_code == 409 and "al vervangen" in alert_text(again)
    assert files_in(print_dir) == [shown["letters"]]
    assert voucher_count(db) == len(world.codes) + 1
    assert_ledger_ok(db)


def test_a_refused_reissue_writes_no_letter(
    client: TestClient, db: Database, settings: Settings, world: World, director: TestClient, print_dir: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    outside = staff_browser(
        client, db, make_staff(db, settings, email="schelfhorst@almelo.nl", wijken=("WK014118",))
    )
    voucher_id = live_voucher_id(db, 2)
    csrf = form_fields(outside.get("/staff/vouchers"), "/staff/logout")["csrf_token"]
    assert outside.post(f"/staff/vouchers/{voucher_id}/reissue", data={"csrf_token": csrf}).status_code == 404

    before = snapshot(db, skip=SESSIONS)
    settings.print_dir = tmp_path / "a-file"
    settings.print_dir.write_text("x", encoding="utf-8")
    refused = reissue(director, voucher_id)
    assert refused.status_code == 503 and "drukbestand" in alert_text(refused)
    assert not CODE.search(refused.text)
    assert snapshot(db, skip=SESSIONS) == before, diff(before, snapshot(db, skip=SESSIONS))
    assert check(client, code_of(world, db, 2))["status"] == "active"
    assert files_in(print_dir) == []


# --- Reprinting a list ---------------------------------------------------------------------------------


def check_list(admin: TestClient, addresses: str, period: str = "Voorjaar 2027") -> Any:
    page = admin.get("/staff/vouchers/reprint")
    assert page.status_code == 200
    fields = form_fields(page, "/staff/vouchers/reprint")
    return admin.post("/staff/vouchers/reprint", data={**fields, "period": period, "addresses": addresses})


def confirm_fields(page: Any) -> dict[str, str]:
    fields = form_fields(page, "/staff/vouchers/reprint/confirm")
    fields.pop("step", None)
    fields["addresses"] = textarea(
        page, "form[action='/staff/vouchers/reprint/confirm'] textarea[name=addresses]"
    )
    return fields


def test_reprint_a_list_of_addresses(
    client: TestClient, db: Database, world: World, admin: TestClient, print_dir: Path
) -> None:
    form = admin.get("/staff/vouchers/reprint")
    assert [
        o.get_text(" ", strip=True).split(" (")[0] for o in soup(form).select("select#period option")
    ] == ["Voorjaar 2027"]
    old = {n: code_of(world, db, n) for n in (3, 5, 12)}
    assert pledge(client, old[5], world.initiative_id, 200).status_code == 201

    confirm = check_list(admin, "7600 ab 12\r\n\r\n  7600AB   3  \r\n7600ab 5")
    assert confirm.status_code == 200, confirm.text
    assert soup(confirm).select_one("[data-count]").get_text() == "3"
    rows = [row.get_text(" ", strip=True) for row in soup(confirm).select("tbody tr")]
    assert [row.split(" Grotestraat")[0] for row in rows] == ["3", "4", "1"]  # line numbers, mail-house order
    assert "€ 5,50" in rows[1] and files_in(print_dir) == []
    fields = confirm_fields(confirm)
    done = admin.post("/staff/vouchers/reprint/confirm", data=fields, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = admin.get(done.headers["location"])
    shown = shown_files(page)
    assert list(shown) == ["letters"]
    assert re.fullmatch(rf"voorjaar-2027-{STAMP}-herdruk-brieven\.pdf", shown["letters"])
    assert "3 vouchers in Voorjaar 2027 zijn vervangen" in soup(page).get_text(" ", strip=True)
    assert files_in(print_dir) == [shown["letters"]]
    letters = print_dir / shown["letters"]
    assert stat.S_IMODE(letters.stat().st_mode) == 0o600
    texts = page_texts(letters)
    assert len(PdfReader(letters).pages) == len(texts) == 3
    new_codes = [CODE.findall(text)[0] for text in texts]
    for text, number, amount in zip(texts, (3, 5, 12), ("€ 7,50", "€ 5,50", "€ 7,50"), strict=True):
        assert f"Grotestraat {number} 7600 AB ALMELO" in text and amount in text, text
        assert "De code uit uw vorige brief werkt niet meer." in text
    for code in old.values():
        assert check(client, code)["status"] == "replaced"
        assert pledge(client, code, world.initiative_id, 100).status_code == 409
    assert [check(client, code)["balance_cents"] for code in new_codes] == [750, 550, 750]
    [event] = audit(db, "vouchers.letters_reprinted")
    assert after(event) == {"file": shown["letters"], "count": 3} and event.actor.startswith("staff:")
    assert len(audit(db, "voucher.reissued")) == 3

    # The same confirm posted again: every voucher on it was replaced meanwhile; nothing happens.
    again = admin.post("/staff/vouchers/reprint/confirm", data=fields, follow_redirects=False)
    assert again.status_code == 409 and "al vervangen" in alert_text(again)
    assert voucher_count(db) == len(world.codes) + 3
    assert files_in(print_dir) == [shown["letters"]]
    assert_ledger_ok(db)


def test_reprint_names_every_bad_line_and_changes_nothing(
    db: Database, world: World, admin: TestClient, print_dir: Path, tmp_path: Path
) -> None:
    with db.write() as session:
        load_households(session, tmp_path, count=1, start=50)  # 7600AB 51: no voucher in Voorjaar 2027
    before = snapshot(db, skip=SESSIONS)
    lines = ["7600AB 3", "1234 AB 1", "7600ab 3", "hallo", "0600AB 2", "", "7600AB 51", "7600AB 2 TOOLONG"]
    refused = check_list(admin, "\n".join(lines))
    assert refused.status_code == 422
    problems = [li.get_text(" ", strip=True) for li in soup(refused).select("[data-problems] li")]
    assert problems == [
        "Regel 2: op 1234 AB 1 is geen huishouden bekend.",
        "Regel 3: 7600 AB 3 staat ook op regel 1.",
        "Regel 4: schrijf het adres als postcode, huisnummer met huisletter en toevoeging, zoals 7601 CD 3A 2.",
        "Regel 5: Vul een geldige postcode in, zoals 7607 AB.",
        "Regel 7: het huishouden op 7600 AB 51 heeft geen voucher in Voorjaar 2027.",
        "Regel 8: Een toevoeging heeft hoogstens 4 letters of cijfers.",
    ]
    assert textarea(refused, "textarea#addresses") == "\n".join(lines)

    for addresses, period, words in (
        ("7600AB 3", "", "Kies een periode"),
        ("7600AB 3", "Zomer 2030", "bestaat niet"),
        ("  \n ", "Voorjaar 2027", "minstens één adres"),
        ("\n".join(f"7600AB {n}" for n in range(1, 2_002)), "Voorjaar 2027", "Hoogstens 2000 adressen"),
    ):
        answer = check_list(admin, addresses, period)
        assert answer.status_code == 422 and words in alert_text(answer), (words, alert_text(answer))

    # A confirm whose vouchers are not the ones shown (forged, or an old page): asked again.
    confirm = check_list(admin, "7600AB 3")
    forged = admin.post(
        "/staff/vouchers/reprint/confirm",
        data={**confirm_fields(confirm), "vouchers": "1,2"},
        follow_redirects=False,
    )
    assert forged.status_code == 409 and soup(forged).select_one("[data-count]").get_text() == "1"
    bad_confirm = admin.post(
        "/staff/vouchers/reprint/confirm", data={**confirm_fields(confirm), "addresses": "nonsense"}
    )
    assert bad_confirm.status_code == 422 and alert_text(bad_confirm)
    # Back to the list from the confirm step: the text comes back to be changed.
    edit = admin.post("/staff/vouchers/reprint", data={**confirm_fields(confirm), "step": "edit"})
    assert edit.status_code == 200 and textarea(edit, "textarea#addresses") == "7600AB 3"
    assert snapshot(db, skip=SESSIONS) == before, diff(before, snapshot(db, skip=SESSIONS))
    assert files_in(print_dir) == []


def test_only_administrators_reprint_lists(
    client: TestClient, db: Database, director: TestClient, admin: TestClient, print_dir: Path
) -> None:
    csrf = form_fields(director.get("/staff/vouchers"), "/staff/logout")["csrf_token"]
    assert director.get("/staff/vouchers/reprint").status_code == 403
    for url in ("/staff/vouchers/reprint", "/staff/vouchers/reprint/confirm"):
        answer = director.post(
            url, data={"csrf_token": csrf, "period": "Voorjaar 2027", "addresses": "7600AB 2"}
        )
        assert answer.status_code == 403
    assert "/staff/vouchers/reprint" not in director.get("/staff/vouchers").text
    assert "/staff/vouchers/reprint" in admin.get("/staff/vouchers").text
    too_large = admin.post(
        "/staff/vouchers/reprint",
        data={"csrf_token": form_fields(admin.get("/staff/vouchers"), "/staff/logout")["csrf_token"],
              "period": "Voorjaar 2027", "addresses": "7600AB 2\n" * 40_000},
    )  # fmt: skip
    assert too_large.status_code == 413
    assert files_in(print_dir) == []
