"""Voucher letters (issue 8): the real `buurtkas` command renders them, and the PDF is read back.

Page count, each page's address, code, amount and last day in mail-house order; the mail-merge CSV in the
same order; the QR code decoded from a rendered page (pdftoppm + zbarimg) to BASE_URL/v/CODE, and that
code works. A failure half-way leaves no file and no voucher; an existing file is refused. Reprints (one
address, a list) give new codes that carry the balance while the old ones stop working.
"""

from __future__ import annotations

import errno
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.config import Settings
from app.db import Database
from app.letters import writer
from app.letters.layout import Letterhead, LetterPage, PeriodFacts
from app.letters.pdfjoin import PdfJoiner
from app.main import create_app
from tests.cli_helpers import Cli, Result, day, failure_problems, ok, read_codes, stray_files
from tests.databases import test_settings
from tests.dbstate import assert_ledger_ok, diff, snapshot
from tests.factories import make_initiative, write_csv
from tests.letters_helpers import (
    BASE_URL,
    letter_addresses,
    load_letter_world,
    mail_order,
    page_texts,
    qr_codes,
    read_mailmerge,
    require_qr_tools,
    run_main,
    street_and_town,
    voucher_counts,
)

__all__ = ["run_main"]  # the fixture, used by name below

PERIOD = "Najaar 2027"
ADDRESS_HEADER = ("postcode", "huisnummer", "huisletter", "toevoeging")


def _open_args(ends: str, *files: str) -> tuple[str, ...]:
    return ("periods", "open", "--name", PERIOD, "--starts", day(0), "--ends", ends, *files)


def _last_day(iso: str) -> str:
    return format_date(date.fromisoformat(iso), format="d MMMM y", locale="nl")


@pytest.fixture
def world_rows(db: Database, tmp_path: Path) -> list[tuple[Any, ...]]:
    rows = letter_addresses()
    load_letter_world(db, tmp_path, rows)
    return rows


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    work = tmp_path / "work"
    work.mkdir()
    command = Cli(database_url, work)
    command.env["BASE_URL"] = BASE_URL
    return command


def _client(settings: Settings, db: Database) -> TestClient:
    return TestClient(create_app(test_settings(settings.database_url, base_url=BASE_URL), db))


def test_period_letters_codes_and_mailmerge_in_one_order(
    cli: Cli, db: Database, settings: Settings, world_rows: list[tuple[Any, ...]]
) -> None:
    require_qr_tools()
    ends = day(120)
    result = ok(
        cli(*_open_args(ends, "--letters-out", "out/brieven.pdf", "--mailmerge-out", "out/mm.csv",
                        "--codes-out", "out/codes.csv"))
    )  # fmt: skip
    assert result.stdout.strip() == (
        f"period '{PERIOD}' opened: {len(world_rows)} vouchers issued, codes in out/codes.csv, "
        "letters in out/brieven.pdf, mail-merge list in out/mm.csv"
    )
    out = cli.cwd / "out"
    assert stray_files(out) == ["brieven.pdf", "codes.csv", "mm.csv"]
    for name in ("brieven.pdf", "codes.csv", "mm.csv"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600, name

    expected = mail_order(world_rows)
    _header, codes = read_codes(out / "codes.csv")
    assert [(r["postcode"], int(r["huisnummer"]), r["huisletter"], r["toevoeging"]) for r in codes] == [
        (row[1], row[2], row[3], row[4]) for row in expected
    ]

    texts = page_texts(out / "brieven.pdf")
    assert len(texts) == len(world_rows)
    for text, row, code_row in zip(texts, expected, codes, strict=True):
        street, town = street_and_town(row)
        address = f"Aan de bewoners van {street} {town}"
        assert address in text, (address, text)
        for part in (code_row["code"], "€ 7,50", PERIOD, _last_day(ends), "Zo werkt het"):
            assert part in text, (part, text)

    header, merged = read_mailmerge(out / "mm.csv")
    assert header == list(writer.MAILMERGE_COLUMNS)
    for line, row, code_row in zip(merged, expected, codes, strict=True):
        street, town = street_and_town(row)
        assert line == {
            "aanhef": "Aan de bewoners van",
            "adres": street,
            "postcode": town[:7],
            "woonplaats": town[8:],
            "code": code_row["code"],
            "qr_url": f"{BASE_URL}/v/{code_row['code']}",
            "bedrag": "€ 7,50",
            "periode": PERIOD,
            "geldig_tot_en_met": _last_day(ends),
        }

    # The QR code on a rendered page is BASE_URL/v/CODE of that page's code, and the code works.
    for page in (1, len(codes)):
        code = codes[page - 1]["code"]
        assert qr_codes(out / "brieven.pdf", page) == [f"{BASE_URL}/v/{code}"]
    with _client(settings, db) as client:
        checked = client.post("/api/v1/vouchers/check", json={"code": codes[-1]["code"]})
        assert checked.status_code == 200, checked.text
        assert (checked.json()["balance_cents"], checked.json()["period"]) == (750, PERIOD)

    # Four more languages; the Arabic line is shaped (presentation forms) in an embedded font.
    first = texts[0]
    for label in ("English:", "Türkçe:", "Polski:"):
        assert label in first
    assert any("\ufe70" <= char <= "\ufeff" for char in first), first
    fonts = _embedded_fonts(out / "brieven.pdf")
    assert any("DejaVuSans" in name for name in fonts), fonts
    assert_ledger_ok(db)

    # Opening again issues nothing: no letters file is made for no letters.
    again = ok(cli(*_open_args(ends, "--letters-out", "out/again.pdf", "--codes-out", "out/again.csv")))
    assert "0 vouchers issued, codes in out/again.csv, no letters (no new codes)" in again.stdout
    assert stray_files(out) == ["again.csv", "brieven.pdf", "codes.csv", "mm.csv"]


def _embedded_fonts(pdf: Path) -> set[str]:
    names = set()
    for page in PdfReader(pdf).pages[:1]:
        forms = page["/Resources"].get("/XObject", {})
        for resources in [page["/Resources"], *(form.get_object()["/Resources"] for form in forms.values())]:
            for font in resources.get("/Font", {}).values():
                font = font.get_object()
                descendants = font.get("/DescendantFonts")
                described = descendants[0].get_object() if descendants else font
                descriptor = described.get("/FontDescriptor")
                if descriptor is not None and "/FontFile2" in descriptor.get_object():
                    names.add(str(font["/BaseFont"]))
    return names


def test_refusals_leave_nothing_behind(cli: Cli, db: Database, world_rows: list[tuple[Any, ...]]) -> None:
    work = cli.cwd
    (work / "out").mkdir()
    (work / "out" / "brieven.pdf").write_bytes(b"earlier letters")
    (work / "not-a-directory").write_text("x", encoding="utf-8")
    before = snapshot(db)
    exists, unwritable, no_output = cli.many(
        _open_args(day(60), "--codes-out", "out/codes.csv", "--letters-out", "out/brieven.pdf"),
        _open_args(day(60), "--codes-out", "out/codes.csv", "--mailmerge-out", "not-a-directory/mm.csv"),
        _open_args(day(60)),
    )
    problems = failure_problems(
        exists, ["--letters-out: out/brieven.pdf exists already", "nothing changed"], exit_code=1
    )
    problems += failure_problems(
        unwritable, ["--mailmerge-out: cannot write in not-a-directory"], exit_code=1
    )
    problems += failure_problems(no_output, ["Missing option '--codes-out' (or '--letters-out'"], exit_code=2)
    assert not problems, "\n\n".join(problems)
    assert snapshot(db) == before, diff(before, snapshot(db))
    assert stray_files(work) == ["brieven.pdf", "not-a-directory"]
    assert (work / "out" / "brieven.pdf").read_bytes() == b"earlier letters"
    assert voucher_counts(db) == (0, 0)


def test_a_failure_half_way_leaves_no_file_and_no_voucher(
    run_main: Callable[..., Result],
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    db: Database,
    world_rows: list[tuple[Any, ...]],
    tmp_path: Path,
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setattr(writer, "PART_PAGES", 4)  # several parts, so the join runs before the failure
    draw = LetterPage.draw
    drawn = []

    def failing_draw(self: LetterPage, *args: Any, **kwargs: Any) -> None:
        if len(drawn) == 9:
            raise RuntimeError("printer on fire")
        drawn.append(1)
        draw(self, *args, **kwargs)

    files = ("--letters-out", "out/l.pdf", "--mailmerge-out", "out/m.csv", "--codes-out", "out/c.csv")
    with monkeypatch.context() as patch:
        patch.setattr(LetterPage, "draw", failing_draw)
        with pytest.raises(RuntimeError, match="printer on fire"):
            run_main(database_url, work, *_open_args(day(60), *files))
    assert len(drawn) == 9
    assert stray_files(work) == []
    assert voucher_counts(db) == (0, 0)

    # A full disk while the PDF is joined: a clear message, nothing kept, nothing issued.
    def disk_full(self: PdfJoiner, part: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(PdfJoiner, "add", disk_full)
        result = run_main(database_url, work, *_open_args(day(60), *files))
    assert not failure_problems(
        result,
        ["--letters-out: cannot write out/l.pdf: No space left on device; nothing changed"],
        exit_code=1,
    )
    assert stray_files(work) == []
    assert voucher_counts(db) == (0, 0)

    # The same run without the failures: the parts are joined into one PDF in mail-house order.
    done = run_main(database_url, work, *_open_args(day(60), *files))
    assert done.returncode == 0, done
    _header, codes = read_codes(work / "out" / "c.csv")
    texts = page_texts(work / "out" / "l.pdf")
    assert len(texts) == len(world_rows) == len(codes)
    for text, row, code_row in zip(texts, mail_order(world_rows), codes, strict=True):
        assert street_and_town(row)[0] in text and code_row["code"] in text


def test_reprint_one_address_and_a_list(
    cli: Cli, db: Database, settings: Settings, world_rows: list[tuple[Any, ...]]
) -> None:
    require_qr_tools()
    ok(cli(*_open_args(day(90), "--codes-out", "codes.csv")))
    _header, rows = read_codes(cli.cwd / "codes.csv")
    by_address = {(r["postcode"], r["huisnummer"], r["huisletter"], r["toevoeging"]): r["code"] for r in rows}
    kerk_3a2 = by_address[("7601CD", "3", "A", "2")]
    initiative = db.run_write(lambda s: make_initiative(s, settings))
    with _client(settings, db) as client:
        given = client.post(
            "/api/v1/pledges", json={"code": kerk_3a2, "initiative_id": initiative, "amount_cents": 300}
        )
        assert given.status_code == 201, given.text

    # One address: the new code is printed once and written as a letter; the balance moved.
    one = ok(cli("vouchers", "reissue", "--postcode", "7601 cd", "--huisnummer", "3", "--huisletter", "a",
                 "--toevoeging", "2", "--period", PERIOD, "--letters-out", "one.pdf"))  # fmt: skip
    new_code = one.stdout.split("new code: ")[1].split(",")[0]
    assert one.stdout.strip() == f"new code: {new_code}, letters in one.pdf"
    [text] = page_texts(cli.cwd / "one.pdf")
    assert "Kerkstraat 3A-2 7601 CD ALMELO" in text and new_code in text and "€ 4,50" in text
    assert "De code uit uw vorige brief werkt niet meer." in text
    assert qr_codes(cli.cwd / "one.pdf", 1) == [f"{BASE_URL}/v/{new_code}"]

    # A list, out of order, with a codes CSV: new codes in mail-house order, old ones stop working.
    listed = [("7607AB", "12", "", ""), ("7601CD", "3", "B", ""), ("7601 cd", "100", "", "")]
    write_csv(cli.cwd / "list.csv", ADDRESS_HEADER, listed)
    reprinted = ok(cli("vouchers", "reprint", "list.csv", "--period", PERIOD, "--letters-out", "list.pdf",
                       "--codes-out", "list-codes.csv"))  # fmt: skip
    assert reprinted.stdout.strip() == (
        f"3 vouchers reissued in '{PERIOD}', codes in list-codes.csv, letters in list.pdf"
    )
    _header, new_rows = read_codes(cli.cwd / "list-codes.csv")
    assert [(r["postcode"], r["huisnummer"], r["huisletter"]) for r in new_rows] == [
        ("7601CD", "3", "B"),
        ("7601CD", "100", ""),
        ("7607AB", "12", ""),
    ]
    texts = page_texts(cli.cwd / "list.pdf")
    assert len(texts) == 3
    for text, row in zip(texts, new_rows, strict=True):
        assert row["code"] in text and f"{row['straat']} {row['huisnummer']}{row['huisletter']}" in text
    assert qr_codes(cli.cwd / "list.pdf", 3) == [f"{BASE_URL}/v/{new_rows[2]['code']}"]
    old_codes = [kerk_3a2] + [
        by_address[(r["postcode"], r["huisnummer"], r["huisletter"], "")] for r in new_rows
    ]
    with _client(settings, db) as client:
        for old in old_codes:
            assert client.post("/api/v1/vouchers/check", json={"code": old}).json()["status"] == "replaced"
            refused = client.post("/api/v1/pledges", json={"code": old, "initiative_id": initiative})
            assert refused.status_code == 409, refused.text
        for code, balance in [(new_code, 450)] + [(r["code"], 750) for r in new_rows]:
            checked = client.post("/api/v1/vouchers/check", json={"code": code}).json()
            assert (checked["status"], checked["balance_cents"]) == ("active", balance)
    assert_ledger_ok(db)

    # Unknown addresses, a repeat and a bad line: every line named, nothing changed, no file.
    bad = [("7601CD", "3", "B", ""), ("1234AB", "1", "", ""), ("7601CD", "3", "b", ""), ("12", "x", "", "")]
    write_csv(cli.cwd / "bad.csv", ADDRESS_HEADER, bad)
    before = snapshot(db)
    files_before = stray_files(cli.cwd)
    refused_list = cli("vouchers", "reprint", "bad.csv", "--period", PERIOD, "--letters-out", "bad.pdf")
    problems = failure_problems(
        refused_list,
        [
            "no voucher was reissued, nothing changed",
            "line 3: there is no household at 1234 AB 1",
            "line 4: 7601 CD 3B is also on line 2",
            "line 5: Enter a valid postcode",
        ],
        exit_code=1,
    )
    assert not problems, "\n".join(problems)
    assert "line 2" not in refused_list.stderr.replace("on line 2", "")
    assert snapshot(db) == before, diff(before, snapshot(db))
    assert stray_files(cli.cwd) == files_before


def test_poster_qr_code_decodes_to_the_initiative(client: TestClient, world: Any, tmp_path: Path) -> None:
    require_qr_tools()
    answer = client.get(f"/initiatives/{world.initiative_id}/poster.pdf")
    assert answer.status_code == 200
    poster = tmp_path / "poster.pdf"
    poster.write_bytes(answer.content)
    assert qr_codes(poster, 1) == [f"{world.settings.base_url}/initiatives/{world.initiative_id}"]


def test_letters_pdf_joins_parts_and_reads_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The writer without a database: parts of 3 pages joined into one valid PDF, in order."""
    require_qr_tools()
    monkeypatch.setattr(writer, "PART_PAGES", 3)
    head = Letterhead("Almelo", BASE_URL)
    period = PeriodFacts("Voorjaar 2028", date(2028, 3, 31), 750)
    rows = [_Address("7601AB", n, "", "", "Grotestraat", "Almelo") for n in range(1, 11)]
    letters = writer.LettersPdf(tmp_path / "l.pdf", head)
    letters.start(period)
    for n, row in enumerate(rows):
        letters.write(row, f"K7QM-2XHD-9RTW-{n:02d}", 100 * n)
    letters.finish()
    letters.commit()
    texts = page_texts(tmp_path / "l.pdf")
    assert len(texts) == 10
    for n, text in enumerate(texts):
        assert f"Grotestraat {n + 1} 7601 AB ALMELO" in text and f"K7QM-2XHD-9RTW-{n:02d}" in text
    assert "€ 9,00" in texts[9]
    assert qr_codes(tmp_path / "l.pdf", 7) == [f"{BASE_URL}/v/K7QM-2XHD-9RTW-06"]
    assert stray_files(tmp_path) == ["l.pdf"]


class _Address:
    def __init__(
        self, postcode: str, huisnummer: int, huisletter: str, toevoeging: str, straat: str, woonplaats: str
    ) -> None:
        self.postcode, self.huisnummer, self.huisletter = postcode, huisnummer, huisletter
        self.toevoeging, self.straat, self.woonplaats = toevoeging, straat, woonplaats


def test_logo_from_settings_and_one_that_cannot_be_read(tmp_path: Path) -> None:
    from PIL import Image

    from app.letters.errors import LetterSetupError

    period = PeriodFacts("Voorjaar 2028", date(2028, 3, 31), 750)
    logo = tmp_path / "gemeente.jpg"
    Image.new("RGB", (300, 120), (200, 30, 40)).save(logo)
    letters = writer.LettersPdf(tmp_path / "out" / "l.pdf", Letterhead("Almelo", BASE_URL, logo=logo))
    letters.start(period)
    letters.write(_Address("7601AB", 1, "", "", "Grotestraat", "Almelo"), "K7QM-2XHD-9RTW-FA")
    letters.finish()
    letters.commit()
    [page] = PdfReader(tmp_path / "out" / "l.pdf").pages
    [form] = page["/Resources"]["/XObject"].values()
    images = form.get_object()["/Resources"]["/XObject"]
    assert [image.get_object()["/Width"] for image in images.values()] == [300]

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    for bad in (broken, tmp_path / "missing.png"):
        refused = writer.LettersPdf(tmp_path / "out" / "bad.pdf", Letterhead("Almelo", BASE_URL, logo=bad))
        with pytest.raises(LetterSetupError, match="cannot be read as an image"):
            refused.start(period)
        refused.discard()
    assert stray_files(tmp_path / "out") == ["l.pdf"]
