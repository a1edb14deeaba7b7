"""Helpers for the letter tests: addresses in a deliberately unsorted order, reading the PDF back, decoding
its QR codes from a rendered page (pdftoppm and zbarimg from Debian's poppler-utils and zbar-tools), and
running `app.cli:main` in this process (to make it fail half-way)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import Database
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.households.service import import_households
from app.models import Voucher, VoucherPeriod
from tests.cli_helpers import Result
from tests.databases import TEST_SECRET
from tests.factories import BUURTEN, load_areas, write_csv

BASE_URL = "https://buurtkas.almelo.test"
QR_TOOLS = ("pdftoppm", "zbarimg")

# address_id, postcode, huisnummer, huisletter, toevoeging, straat, woonplaats, buurtcode: out of order on
# purpose, with numbers that sort differently as text (3, 20, 100), letters and additions.
SPECIAL: list[tuple[Any, ...]] = [
    ("", "7607AB", 12, "", "", "Grotestraat", "Almelo", BUURTEN[0]),
    ("", "7601CD", 20, "", "", "Kerkstraat", "Almelo", BUURTEN[1]),
    ("", "7601CD", 3, "B", "", "Kerkstraat", "Almelo", BUURTEN[1]),
    ("", "7601CD", 100, "", "", "Kerkstraat", "Almelo", BUURTEN[1]),
    ("", "7601CD", 3, "A", "2", "Kerkstraat", "Almelo", BUURTEN[1]),
    ("", "7601CD", 3, "", "", "Kerkstraat", "Almelo", BUURTEN[1]),
    ("", "7601CD", 3, "A", "", "Kerkstraat", "Almelo", BUURTEN[1]),
    ("", "7602XY", 1, "", "BIS", "Öztürkplein", "Aadorp", BUURTEN[2]),
]


def letter_addresses(extra: int = 14) -> list[tuple[Any, ...]]:
    """The special addresses and `extra` more, in an order that is not the mail house's."""
    more = [
        ("", f"76{10 + n % 7:02d}{'BA' if n % 2 else 'AB'}", 40 - n, "", "", "Wierdensestraat", "Almelo", BUURTEN[n % 3])
        for n in range(extra)
    ]  # fmt: skip
    return [*more[: extra // 2], *SPECIAL, *more[extra // 2 :]]


def mail_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted(rows, key=lambda row: (row[1], row[2], row[3], row[4]))


def load_letter_world(db: Database, tmp: Path, rows: list[tuple[Any, ...]]) -> None:
    """Areas and these households (no period yet)."""

    def work(session: Session) -> None:
        load_areas(session, tmp)
        path = write_csv(tmp / "letter-households.csv", HOUSEHOLD_COLUMNS, rows)
        import_households(session, path, actor="test", deactivate_missing=False)

    db.run_write(work)


def street_and_town(row: tuple[Any, ...]) -> tuple[str, str]:
    """The two address lines a letter shows for a household row."""
    number = f"{row[2]}{row[3]}" + (f"-{row[4]}" if row[4] else "")
    return f"{row[5]} {number}", f"{row[1][:4]} {row[1][4:]} {row[6].upper()}"


def page_texts(pdf: Path) -> list[str]:
    """Each page's text with runs of white space made one space."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(pdf).pages]


def read_mailmerge(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle, delimiter=";")
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def voucher_counts(db: Database) -> tuple[int, int]:
    with db.read() as session:
        return (
            session.scalar(select(func.count()).select_from(VoucherPeriod)) or 0,
            session.scalar(select(func.count()).select_from(Voucher)) or 0,
        )


def require_qr_tools() -> None:
    """Skip without pdftoppm/zbarimg, or fail when BUURTKAS_REQUIRE_BROWSER is set (scripts/test, CI)."""
    missing = [tool for tool in QR_TOOLS if shutil.which(tool) is None]
    if missing:
        reason = f"{', '.join(missing)} missing (scripts/setup installs poppler-utils and zbar-tools)"
        if os.environ.get("BUURTKAS_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}; BUURTKAS_REQUIRE_BROWSER is set, so these tests may not be skipped")
        pytest.skip(reason)


def qr_codes(pdf: Path, page: int, *, dpi: int = 150) -> list[str]:
    """The QR codes zbarimg finds on page `page` (1-based) rendered by pdftoppm; pdftoppm must not
    complain about the file."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "page"
        rendered = subprocess.run(
            ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-singlefile", str(pdf), str(base)],
            capture_output=True,
            text=True,
            timeout=60,
        )  # fmt: skip
        assert rendered.returncode == 0 and not rendered.stderr.strip(), rendered.stderr
        decoded = subprocess.run(
            ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", str(base.with_suffix(".png"))],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return [line for line in decoded.stdout.splitlines() if line]


@pytest.fixture
def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Result]]:
    """Run `app.cli:main(argv)` in this process (so a test can patch it), like the real command."""
    from app.cli import main
    from app.config import get_settings

    def run(url: str, cwd: Path, *args: object) -> Result:
        for name, value in (
            ("DATABASE_URL", url),
            ("SECRET_KEY", TEST_SECRET),
            ("ENVIRONMENT", "test"),
            ("BASE_URL", BASE_URL),
            ("LANG", "C.UTF-8"),
        ):
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(cwd)
        get_settings.cache_clear()
        argv = tuple(str(arg) for arg in args)
        capsys.readouterr()
        code = 0
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out, err = capsys.readouterr()
        return Result(argv, code, out, err)

    yield run
    get_settings.cache_clear()
