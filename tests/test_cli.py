"""The real `buurtkas` command in a subprocess: every command of SPEC §3, and bad input of every kind.

A failing command must exit non-zero with a clear message on stderr (naming the CSV line where there is
one), print no traceback, leave the database exactly as it was and leave no codes file behind.

Each start of the command costs about a second (imports), so independent commands run two at a time.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.kit.clock import today as amsterdam_today
from app.main import create_app
from app.models import Household, Initiative, Voucher, VoucherPeriod
from tests.databases import TEST_SECRET, PostgresFactory, SqliteFactory, test_settings
from tests.dbstate import assert_ledger_ok, diff, empty_postgres_database, row_counts, snapshot
from tests.factories import AREAS, BUURTEN, build_world, write_csv

# The console script of the environment running the tests (the venv in scripts/test), else the one on PATH.
BUURTKAS = Path(sys.executable).with_name("buurtkas")
if not BUURTKAS.exists():
    BUURTKAS = Path(shutil.which("buurtkas") or "buurtkas")
AREA_COLUMNS = ["code", "name", "kind", "parent_code"]
CODE_FORMAT = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}$")
ADDRESS_FIELDS = ("postcode", "huisnummer", "huisletter", "toevoeging", "straat", "woonplaats")


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"$ buurtkas {' '.join(self.args)}\n[exit {self.returncode}]\n{self.stdout}\n{self.stderr}"


class Cli:
    def __init__(self, database_url: str, cwd: Path) -> None:
        self.cwd = cwd
        keep = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT")
        self.env = {name: os.environ[name] for name in keep if name in os.environ}
        self.env.update(
            DATABASE_URL=database_url,
            SECRET_KEY=TEST_SECRET,
            ENVIRONMENT="test",
            LANG="C.UTF-8",
            PYTHONIOENCODING="utf-8",
            NO_COLOR="1",
            TERM="dumb",
            COLUMNS="200",
        )

    def __call__(self, *args: object, lang: str | None = None) -> Result:
        env = dict(self.env, LANG=lang) if lang else self.env
        argv = tuple(str(arg) for arg in args)
        done = subprocess.run(
            [str(BUURTKAS), *argv], cwd=self.cwd, env=env, capture_output=True, text=True, timeout=180
        )
        return Result(argv, done.returncode, done.stdout, done.stderr)

    def many(self, *commands: Sequence[object], langs: Sequence[str | None] = ()) -> list[Result]:
        """Independent commands, two at a time (`langs`: LANG per command, default Dutch)."""
        languages = list(langs) or [None] * len(commands)
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda args, lang: self(*args, lang=lang), commands, languages))


def ok(result: Result) -> Result:
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.stderr, str(result)
    return result


def failure_problems(result: Result, messages: Sequence[str], *, exit_code: int | None = None) -> list[str]:
    """What is wrong with how a command failed (empty when it failed as it should)."""
    problems = []
    if result.returncode == 0 or (exit_code is not None and result.returncode != exit_code):
        problems.append(f"exit code {result.returncode}")
    if "Traceback" in result.stderr or "╭" in result.stderr or 'File "' in result.stderr:
        problems.append("a traceback on stderr")
    problems += [f"stderr lacks {message!r}" for message in messages if message not in result.stderr]
    if re.search(r"^\d+$", result.stdout, re.MULTILINE):
        problems.append("an id on stdout")
    return [f"{' '.join(result.args)}: {problem}\n{result}" for problem in problems]


def addresses(count: int, *, start: int = 0) -> list[tuple[Any, ...]]:
    """Distinct valid addresses spread over the three buurten."""
    return [
        ("", f"{7600 + n // 50}AB", n % 50 + 1, "", "", "Grotestraat", "Almelo", BUURTEN[n % len(BUURTEN)])
        for n in range(start, start + count)
    ]


def read_codes(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def stray_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.rglob("*") if path.is_file())


def day(offset: int) -> str:
    return (amsterdam_today() + timedelta(days=offset)).isoformat()


# --- a fresh, unmigrated database per backend ---------------------------------------------------------------


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, postgres_factory: PostgresFactory | None) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh' / 'buurtkas.db'}"
        return
    if postgres_factory is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run this backend")
    with empty_postgres_database(postgres_factory.server_url) as url:
        yield url


def test_every_command_end_to_end(empty_url: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cli = Cli(empty_url, work)

    # before db upgrade: a clear hint instead of a traceback; then db upgrade, and again later (nothing to do)
    unmigrated = cli("ledger", "verify")
    assert not failure_problems(unmigrated, ["has it been migrated? Run `buurtkas db upgrade`"], exit_code=1)
    assert ok(cli("db", "upgrade")).stdout.strip() == "database is up to date"
    conf = test_settings(empty_url)
    db = Database(conf)
    try:
        assert row_counts(db)["areas"] == 0

        # areas
        write_csv(work / "areas.csv", AREA_COLUMNS, AREAS)
        assert (
            ok(cli("areas", "import", "areas.csv")).stdout.strip()
            == "areas: 6 created, 0 updated, 0 unchanged"
        )

        # households, and re-import
        write_csv(work / "households.csv", HOUSEHOLD_COLUMNS, addresses(30))
        first = ok(cli("households", "import", "households.csv"))
        assert first.stdout.strip() == "households: 30 rows, 30 new, 0 deactivated, 30 active in all"
        ids_before = _households(db)
        again, upgraded = cli.many(("households", "import", "households.csv"), ("db", "upgrade"))
        assert ok(again).stdout.strip() == "households: 30 rows, 0 new, 0 deactivated, 30 active in all"
        assert ok(upgraded).stdout.strip() == "database is up to date"
        assert _households(db) == ids_before

        # an address missing from the file becomes inactive, never deleted
        write_csv(work / "households.csv", HOUSEHOLD_COLUMNS, addresses(29))
        missing = ok(cli("households", "import", "households.csv"))
        assert missing.stdout.strip() == "households: 29 rows, 0 new, 1 deactivated, 29 active in all"
        gone = addresses(30)[-1]
        row = _household_at(db, gone)
        assert row.active is False and row.deactivated_at is not None
        assert row_counts(db)["households"] == 30

        # periods open: one voucher per active household, codes in a private CSV
        opened = ok(
            cli(
                "periods", "open", "--name", "Voorjaar 2027", "--starts", day(-1), "--ends", day(90),
                "--codes-out", "out/codes.csv",
            )
        )  # fmt: skip
        assert opened.stdout.strip() == (
            "period 'Voorjaar 2027' opened: 29 vouchers issued, codes in out/codes.csv"
        )
        codes_path = work / "out" / "codes.csv"
        header, rows = read_codes(codes_path)
        assert header[-1] == "code"
        assert [column for column in header[:-1] if column not in HOUSEHOLD_COLUMNS] == []
        assert set(ADDRESS_FIELDS) <= set(header)
        assert header.index("postcode") < header.index("huisnummer") < header.index("woonplaats")
        assert len(rows) == 29
        assert {(r["postcode"], int(r["huisnummer"])) for r in rows} == {(a[1], a[2]) for a in addresses(29)}
        assert all(CODE_FORMAT.match(r["code"]) for r in rows)
        assert len({r["code"] for r in rows}) == 29
        assert stat.S_IMODE(codes_path.stat().st_mode) == 0o600
        assert stray_files(work / "out") == ["codes.csv"]

        # re-adding the address reactivates it (same household); initiatives create (+ publish)
        write_csv(work / "households.csv", HOUSEHOLD_COLUMNS, addresses(31))
        back, published, draft = cli.many(
            ("households", "import", "households.csv"),
            ("initiatives", "create", "--title", "Bankjes in het park", "--area", "BU01411000",
             "--target-cents", "5000", "--publish"),
            ("initiatives", "create", "--title", "Een concept", "--area", "WK014110", "--target-cents", "9000"),
        )  # fmt: skip
        assert ok(back).stdout.strip() == "households: 31 rows, 1 new, 0 deactivated, 31 active in all"
        again_row = _household_at(db, gone)
        assert (again_row.id, again_row.active, again_row.deactivated_at) == (row.id, True, None)
        assert row_counts(db)["households"] == 31
        published_id = int(ok(published).stdout.splitlines()[-1])
        draft_id = int(ok(draft).stdout.splitlines()[-1])
        assert published.stdout.splitlines()[-1] == str(published_id)
        assert draft.stdout.splitlines()[-1] == str(draft_id)
        with db.read() as session:
            made = {row.id: row.status for row in session.execute(select(Initiative.id, Initiative.status))}
        assert made == {published_id: "published", draft_id: "draft"}

        # opening the period again issues only to the households that have none; its end may move later
        extended, ticked = cli.many(
            ("periods", "open", "--name", "Voorjaar 2027", "--starts", day(-1), "--ends", day(120),
             "--codes-out", "out/later.csv"),
            ("tick",),
        )  # fmt: skip
        assert ok(extended).stdout.strip() == (
            "period 'Voorjaar 2027' extended: 2 vouchers issued, codes in out/later.csv"
        )
        assert ok(ticked).stdout.strip() == "tick: 0 initiative(s) expired; 0 old rate counters purged"
        _header, later = read_codes(work / "out" / "later.csv")
        assert sorted((r["postcode"], int(r["huisnummer"])) for r in later) == sorted(
            (a[1], a[2]) for a in addresses(31)[29:]
        )
        with db.read() as session:
            assert session.scalar(select(VoucherPeriod.ends_on)) == date.fromisoformat(day(120))
        assert row_counts(db)["vouchers"] == 31

        # a code from the print batch works in the API
        with TestClient(create_app(conf, db)) as client:
            first_row = rows[0]
            checked = client.post("/api/v1/vouchers/check", json={"code": first_row["code"]})
            assert checked.status_code == 200, checked.text
            assert checked.json()["balance_cents"] == 750
            assert checked.json()["period"] == "Voorjaar 2027"
            assert client.get(f"/api/v1/initiatives/{draft_id}").status_code == 404
            pledged = client.post(
                "/api/v1/pledges", json={"code": first_row["code"].lower(), "initiative_id": published_id}
            )
            assert pledged.status_code == 201, pledged.text
            assert pledged.json()["initiative"]["raised_cents"] == 750
            shown = client.get(f"/api/v1/initiatives/{published_id}").json()
            assert (shown["raised_cents"], shown["target_cents"], shown["area_code"]) == (
                750,
                5000,
                "BU01411000",
            )

        # failures where the database matters, as real processes: a batch of 5000 rows was already written
        # when line 5102 fails; PostgreSQL cannot store a NUL byte. Nothing changes, no traceback.
        big = [*addresses(5_100, start=100), ("", "1234SS", 1, "", "", "X", "Y", "BU01411000")]
        write_csv(work / "big.csv", HOUSEHOLD_COLUMNS, big)
        (work / "nul.csv").write_bytes(b"code,name,kind,parent_code\nWK014199,Nieuw\x00,wijk,GM0141\n")
        before = snapshot(db)
        big_result, nul_result, frozen, verified = cli.many(
            ("households", "import", "big.csv"),
            ("areas", "import", "nul.csv"),
            ("periods", "open", "--name", "Voorjaar 2027", "--starts", day(-1), "--ends", day(120),
             "--value-cents", "500", "--codes-out", "out/frozen.csv"),
            ("ledger", "verify"),
        )  # fmt: skip
        problems = failure_problems(
            big_result, ["line 5102: postcode '1234SS' is not a Dutch postcode"], exit_code=1
        )
        problems += failure_problems(nul_result, ["line 2: contains a NUL byte"], exit_code=1)
        problems += failure_problems(
            frozen, ["Periode 'Voorjaar 2027' is al open met waarde 750 cent"], exit_code=1
        )
        assert not problems, "\n".join(problems)
        after = snapshot(db)
        assert after == before, diff(before, after)
        assert stray_files(work / "out") == ["codes.csv", "later.csv"]
        # 1 pool + 31 vouchers + 2 initiatives; 31 issues + 1 pledge
        assert ok(verified).stdout.strip() == "ledger: 34 accounts, 32 transfers, total 0 cents: OK"
        assert_ledger_ok(db)
    finally:
        db.dispose()


def _household_at(db: Database, address: tuple[Any, ...]) -> Any:
    with db.read() as session:
        return session.execute(
            select(Household.id, Household.active, Household.deactivated_at).where(
                Household.postcode == address[1], Household.huisnummer == address[2]
            )
        ).one()


def _households(db: Database) -> list[tuple[Any, ...]]:
    with db.read() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    Household.id,
                    Household.postcode,
                    Household.huisnummer,
                    Household.straat,
                    Household.buurt_id,
                    Household.active,
                ).order_by(Household.id)
            )
        ]


# --- bad input of every kind, on both backends -----------------------------------------------------------------
#
# A process start costs more than a second of imports, so this matrix calls the console script's entry point
# (`app.cli:main`, exactly what `buurtkas` runs) inside the test process; the end-to-end test above runs every
# command, and failures where the database matters, as a real subprocess. An exception escaping `main` (what
# would print a traceback) fails the case.


@dataclass
class Matrix:
    url: str
    db: Database
    work: Path
    inputs: list[str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(
    request: pytest.FixtureRequest,
    sqlite_factory: SqliteFactory,
    postgres_factory: PostgresFactory | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Matrix]:
    """Areas, 40 households, period 'Voorjaar 2027' (750, today-1 … today+90), one initiative; bad files."""
    if request.param == "postgresql" and postgres_factory is None:
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL to run this backend")
    factory: SqliteFactory | PostgresFactory = (
        postgres_factory if request.param == "postgresql" and postgres_factory else sqlite_factory
    )
    url = factory.create()
    conf = test_settings(url)
    db = Database(conf)
    build_world(db, conf)
    work = tmp_path_factory.mktemp(f"cli-{request.param}")
    _write_bad_files(work)
    yield Matrix(url=url, db=db, work=work, inputs=stray_files(work))
    db.dispose()
    factory.drop(url)


@pytest.fixture
def run_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Result]]:
    """Run `app.cli:main(argv)` with the environment a subprocess would get; returns its exit and output."""
    from app.cli import main
    from app.config import get_settings

    def run(url: str, cwd: Path, *args: object, lang: str = "C.UTF-8") -> Result:
        for name, value in (
            ("DATABASE_URL", url),
            ("SECRET_KEY", TEST_SECRET),
            ("ENVIRONMENT", "test"),
            ("LANG", lang),
            ("COLUMNS", "200"),
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


HOUSEHOLD_HEADER = ",".join(HOUSEHOLD_COLUMNS)
BAD_HOUSEHOLDS = [
    (
        ",7607SA,1,,,Grotestraat,Almelo,BU01411000",
        "line 2: postcode '7607SA' is not a Dutch postcode like 7607AB",
    ),
    (",7607SD,1,,,Grotestraat,Almelo,BU01411000", "line 3: postcode '7607SD' is not a Dutch postcode"),
    (",7607 ss,1,,,Grotestraat,Almelo,BU01411000", "line 4: postcode '7607 ss' is not a Dutch postcode"),
    (",0607AB,1,,,Grotestraat,Almelo,BU01411000", "line 5: postcode '0607AB' is not a Dutch postcode"),
    (",7607A,1,,,Grotestraat,Almelo,BU01411000", "line 6: postcode '7607A' is not a Dutch postcode"),
    (
        ",7607AB,een,,,Grotestraat,Almelo,BU01411000",
        "line 7: huisnummer 'een' is not a number from 1 to 99999",
    ),
    (",7607AB,0,,,Grotestraat,Almelo,BU01411000", "line 8: huisnummer '0' is not a number from 1 to 99999"),
    (
        ",7607AB,12a,,,Grotestraat,Almelo,BU01411000",
        "line 9: huisnummer '12a' is not a number from 1 to 99999",
    ),
    (",7607AB,1,,,Grotestraat,Almelo,BU99999999", "line 10: buurtcode 'BU99999999' is not an imported buurt"),
    (",7607AB,1,,,Grotestraat,Almelo,WK014110", "line 11: buurtcode 'WK014110' is not an imported buurt"),
    (",7699ZZ,1,,,Grotestraat,Almelo,BU01411000", None),  # a good row among the bad ones
    (",7699 zz,1,,,Grotestraat,Almelo,BU01411001", "line 13: the same address as line 12"),
    ("123,7607AB,2,,,Grotestraat,Almelo,BU01411000", "line 14: address_id '123' must be 16 digits"),
    (",7607AB,3,AB,,Grotestraat,Almelo,BU01411000", "line 15: huisletter 'AB' must be one letter or empty"),
    (",7607AB,4,,,,Almelo,BU01411000", "line 16: straat is empty or longer than 120 characters"),
    (",7607AB,5,,TOOLONG,Grotestraat,Almelo,BU01411000", "line 17: toevoeging 'TOOLONG' must be at most 4"),
]
BAD_AREAS = [
    (
        "WK014120,Noord,wijk,GM9999",
        "line 2: parent_code GM9999 is not a known area (not in the file, not imported)",
    ),
    ("WK014121,Oost,district,GM0141", "line 3: kind 'district' is not one of gemeente, wijk, buurt"),
    ("BU01412200,Zuid,buurt,GM0141", "line 4: the parent of a buurt must be a wijk, GM0141 is a gemeente"),
    (
        "WK015122,West,wijk,GM0141",
        "line 5: WK015122 does not lie under GM0141 (its digits must start with 0141)",
    ),
    ("WK014123,Dubbel,wijk,GM0141", None),
    ("WK014123,Nog eens,wijk,GM0141", "line 7: code WK014123 appears twice (first on line 6)"),
    ("WK0141,Kort,wijk,GM0141", "line 8: code 'WK0141' is not a CBS wijk code (like WK014101)"),
    ("BU01411099,Wees,buurt,", "line 9: a buurt needs a parent_code"),
    ("GM0142,Ander,gemeente,GM0141", "line 10: a gemeente has no parent_code"),
    ("WK014124,,wijk,GM0141", "line 11: name is empty or longer than 120 characters"),
    (
        "BU01411101,Kind,buurt,BU01411000",
        "line 12: the parent of a buurt must be a wijk, BU01411000 is a buurt",
    ),
    ("GM0141,Almelo,wijk,", "line 13: code 'GM0141' is not a CBS wijk code"),
]


def _write_bad_files(work: Path) -> None:
    (work / "households-bad-rows.csv").write_text(
        "\n".join([HOUSEHOLD_HEADER, *(row for row, _ in BAD_HOUSEHOLDS)]) + "\n", encoding="utf-8"
    )
    (work / "households-one-bad.csv").write_text(
        "\n".join(
            [
                HOUSEHOLD_HEADER,
                *(",".join(str(value) for value in row) for row in addresses(10, start=500)),
                ",1234SA,1,,,Grotestraat,Almelo,BU01411000",
                *(",".join(str(value) for value in row) for row in addresses(10, start=600)),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    (work / "households-wrong-header.csv").write_text("adres,postcode,nummer\n1,7607AB,1\n", encoding="utf-8")
    (work / "empty.csv").write_bytes(b"")
    (work / "households-header-only.csv").write_text(HOUSEHOLD_HEADER + "\n", encoding="utf-8")
    (work / "households-latin1.csv").write_bytes(
        (
            f"{HOUSEHOLD_HEADER}\n,7607AB,1,,,Grotestraat,Almelo,BU01411000\n"
            ",7607AB,2,,,Ch\xe2teaulaan,Almelo,BU01411000\n"
        ).encode("latin-1")
    )
    (work / "households-nul.csv").write_bytes(
        f"{HOUSEHOLD_HEADER}\n,7607AB,1,,,Grote\x00straat,Almelo,BU01411000\n".encode()
    )
    (work / "households-too-many-fields.csv").write_text(
        f"{HOUSEHOLD_HEADER}\n,7607AB,1,,,Grotestraat,Almelo,BU01411000,extra\n", encoding="utf-8"
    )
    (work / "areas-bad-rows.csv").write_text(
        "\n".join(["code,name,kind,parent_code", *(row for row, _ in BAD_AREAS)]) + "\n", encoding="utf-8"
    )
    (work / "areas-header-only.csv").write_text("code,name,kind,parent_code\n", encoding="utf-8")
    (work / "areas-utf16.csv").write_bytes(
        "code,name,kind,parent_code\nWK014199,Ést,wijk,GM0141\n".encode("utf-16")
    )
    (work / "not-a-directory").write_text("x", encoding="utf-8")


def _period(name: str, *args: str) -> tuple[str, ...]:
    return ("periods", "open", *args, "--codes-out", f"out/{name}/codes.csv")


FROZEN = ("--name", "Voorjaar 2027", "--starts", day(-1))
NEW = ("--name", "Najaar 2027", "--starts", day(0))
VALID = ("--title", "Bankjes", "--area", "BU01411000", "--target-cents", "5000")
CREATE = ("initiatives", "create")
TARGET_RANGE = "Het streefbedrag moet tussen 5000 en 250000 cent liggen."

# (id, argv, what stderr must say, exit code, LANG)
BAD_COMMANDS: list[tuple[str, tuple[str, ...], list[str], int, str]] = [
    # households import
    (
        "households-bad-rows",
        ("households", "import", "households-bad-rows.csv"),
        ["the file was not imported, nothing changed", *(m for _, m in BAD_HOUSEHOLDS if m)],
        1,
        "C.UTF-8",
    ),
    (
        "households-one-bad-row",
        ("households", "import", "households-one-bad.csv"),
        ["line 12: postcode '1234SA' is not a Dutch postcode"],
        1,
        "C.UTF-8",
    ),
    ("households-wrong-header", ("households", "import", "households-wrong-header.csv"), ["line 1: missing column(s) address_id"], 1, "C.UTF-8"),
    ("households-empty-file", ("households", "import", "empty.csv"), ["line 1: missing column(s) address_id, postcode"], 1, "C.UTF-8"),
    ("households-header-only", ("households", "import", "households-header-only.csv"), ["the file holds no addresses"], 1, "C.UTF-8"),
    ("households-not-utf8", ("households", "import", "households-latin1.csv"), ["line 3: the file is not UTF-8 text"], 1, "C.UTF-8"),
    ("households-nul-byte", ("households", "import", "households-nul.csv"), ["line 2: contains a NUL byte"], 1, "C.UTF-8"),
    ("households-too-many-fields", ("households", "import", "households-too-many-fields.csv"), ["line 2: more fields than the header has"], 1, "C.UTF-8"),
    ("households-no-such-file", ("households", "import", "nergens.csv"), ["cannot open nergens.csv"], 1, "C.UTF-8"),
    # areas import
    ("areas-bad-rows", ("areas", "import", "areas-bad-rows.csv"), [m for _, m in BAD_AREAS if m], 1, "C.UTF-8"),
    ("areas-empty-file", ("areas", "import", "empty.csv"), ["line 1: missing column(s) code, name, kind, parent_code"], 1, "C.UTF-8"),
    ("areas-header-only", ("areas", "import", "areas-header-only.csv"), ["the file holds no areas"], 1, "C.UTF-8"),
    ("areas-utf16", ("areas", "import", "areas-utf16.csv"), ["line 1: the file is not UTF-8 text"], 1, "C.UTF-8"),
    # periods open
    ("period-ends-before-starts", _period("order", "--name", "Najaar 2027", "--starts", day(30), "--ends", day(10)), ["De einddatum ligt voor de begindatum."], 1, "C.UTF-8"),
    ("period-in-the-past", _period("past", "--name", "Najaar 2025", "--starts", day(-90), "--ends", day(-30)), ["De einddatum ligt in het verleden."], 1, "C.UTF-8"),
    ("period-value-zero", _period("zero", *NEW, "--ends", day(30), "--value-cents", "0"), ["De waarde moet tussen 1 en 100000 cent liggen."], 1, "C.UTF-8"),
    ("period-value-negative", _period("negative", *NEW, "--ends", day(30), "--value-cents", "-750"), ["De waarde moet tussen 1 en 100000 cent liggen."], 1, "C.UTF-8"),
    ("period-value-huge", _period("huge", *NEW, "--ends", day(30), "--value-cents", str(10**30)), ["De waarde moet tussen 1 en 100000 cent liggen."], 1, "C.UTF-8"),
    ("period-value-not-a-number", _period("word", *NEW, "--ends", day(30), "--value-cents", "zeven"), ["Invalid value for '--value-cents'"], 2, "C.UTF-8"),
    ("period-frozen-value", _period("frozen", *FROZEN, "--ends", day(90), "--value-cents", "1000"), ["Periode 'Voorjaar 2027' is al open met waarde 750 cent en begin"], 1, "C.UTF-8"),
    ("period-frozen-start", _period("start", "--name", "Voorjaar 2027", "--starts", day(-2), "--ends", day(90)), ["Periode 'Voorjaar 2027' is al open met waarde 750 cent en begin"], 1, "C.UTF-8"),
    ("period-shorter", _period("shorter", *FROZEN, "--ends", day(89)), [f"De einddatum van 'Voorjaar 2027' kan alleen later worden ({day(90)} of later)."], 1, "C.UTF-8"),
    ("period-bad-date", _period("baddate", *NEW, "--ends", "2027-02-30"), ["--ends: '2027-02-30' is not a date like 2027-03-31"], 1, "C.UTF-8"),
    ("period-blank-name", _period("noname", "--name", "  ", "--starts", day(0), "--ends", day(30)), ["De naam van de periode moet 1 tot 80 tekens hebben."], 1, "C.UTF-8"),
    ("period-letters", ("periods", "open", *NEW, "--ends", day(30), "--codes-out", "out/l/c.csv", "--letters-out", "l.pdf"), ["--letters-out: letters are not built yet"], 1, "C.UTF-8"),
    ("period-codes-out-unwritable", ("periods", "open", *NEW, "--ends", day(30), "--codes-out", "not-a-directory/codes.csv"), ["--codes-out: cannot write in not-a-directory"], 1, "C.UTF-8"),
    ("period-no-codes-out", ("periods", "open", *NEW, "--ends", day(30)), ["Missing option '--codes-out'"], 2, "C.UTF-8"),
    ("period-english", _period("en", *FROZEN, "--ends", day(89)), [f"The end of 'Voorjaar 2027' can only be extended ({day(90)} or later)."], 1, "en_GB.UTF-8"),
    # initiatives create
    ("initiative-unknown-area", (*CREATE, "--title", "Nergens", "--area", "BU99999999", "--target-cents", "5000"), ["Gebied 'BU99999999' bestaat niet."], 1, "C.UTF-8"),
    ("initiative-target-low", (*CREATE, "--title", "Te klein", "--area", "BU01411000", "--target-cents", "4999"), [TARGET_RANGE], 1, "C.UTF-8"),
    ("initiative-target-high", (*CREATE, "--title", "Te groot", "--area", "GM0141", "--target-cents", "250001"), [TARGET_RANGE], 1, "C.UTF-8"),
    ("initiative-target-negative", (*CREATE, "--title", "Min", "--area", "GM0141", "--target-cents", "-5000"), [TARGET_RANGE], 1, "C.UTF-8"),
    ("initiative-target-2**63", (*CREATE, "--title", "Groot", "--area", "GM0141", "--target-cents", str(2**63)), [TARGET_RANGE], 1, "C.UTF-8"),
    ("initiative-target-word", (*CREATE, "--title", "Geen getal", "--area", "GM0141", "--target-cents", "vijftig"), ["Invalid value for '--target-cents'"], 2, "C.UTF-8"),
    ("initiative-bad-date", (*CREATE, *VALID, "--deadline", "2027-02-30"), ["--deadline: '2027-02-30' is not a date like 2027-03-31"], 1, "C.UTF-8"),
    ("initiative-deadline-past", (*CREATE, *VALID, "--deadline", day(-1)), ["De einddatum moet tussen vandaag en 365 dagen vanaf nu liggen."], 1, "C.UTF-8"),
    ("initiative-deadline-far", (*CREATE, *VALID, "--deadline", day(400)), ["De einddatum moet tussen vandaag en 365 dagen vanaf nu liggen."], 1, "C.UTF-8"),
    ("initiative-short-title", (*CREATE, "--title", "x", "--area", "BU01411000", "--target-cents", "5000"), ["De titel moet 3 tot 120 tekens hebben."], 1, "C.UTF-8"),
    ("initiative-no-area", (*CREATE, "--title", "Geen gebied", "--target-cents", "5000"), ["Missing option '--area'"], 2, "C.UTF-8"),
    ("initiative-english", (*CREATE, "--title", "Nowhere", "--area", "BU99999999", "--target-cents", "5000"), ["Area 'BU99999999' does not exist."], 1, "en_GB.UTF-8"),
    # usage
    ("unknown-command", ("verzin", "iets"), ["No such command 'verzin'"], 2, "C.UTF-8"),
    ("unknown-option", ("tick", "--morgen"), ["No such option: --morgen"], 2, "C.UTF-8"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "messages", "exit_code", "lang"),
    [pytest.param(argv, messages, code, lang, id=name) for name, argv, messages, code, lang in BAD_COMMANDS],
)
def test_bad_input_is_refused_and_changes_nothing(
    matrix: Matrix,
    run_main: Callable[..., Result],
    argv: tuple[str, ...],
    messages: list[str],
    exit_code: int,
    lang: str,
) -> None:
    before = snapshot(matrix.db, skip=())
    result = run_main(matrix.url, matrix.work, *argv, lang=lang)
    problems = failure_problems(result, messages, exit_code=exit_code)
    assert not problems, "\n\n".join(problems)
    after = snapshot(matrix.db, skip=())
    assert after == before, f"a failed command changed the database: {diff(before, after)}"
    assert stray_files(matrix.work) == matrix.inputs, "a failed command left a file behind"


def test_bad_command_names_are_unique() -> None:
    names = [name for name, *_ in BAD_COMMANDS]
    assert len(names) == len(set(names))


def test_one_bad_row_names_only_that_row(matrix: Matrix, run_main: Callable[..., Result]) -> None:
    result = run_main(matrix.url, matrix.work, "households", "import", "households-one-bad.csv")
    assert result.returncode == 1
    assert result.stderr.count("line ") == 1, result.stderr


def test_unsupported_database_url(run_main: Callable[..., Result], tmp_path: Path) -> None:
    result = run_main("mysql://buurtkas@localhost/buurtkas", tmp_path, "ledger", "verify")
    assert not failure_problems(
        result, ["DATABASE_URL: Unsupported DATABASE_URL driver 'mysql'"], exit_code=1
    )


@pytest.fixture
def sqlite_world(sqlite_factory: SqliteFactory) -> Iterator[tuple[str, Database]]:
    url = sqlite_factory.create()
    conf = test_settings(url)
    db = Database(conf)
    build_world(db, conf)  # areas, 40 households, period 'Voorjaar 2027', 1 initiative
    yield url, db
    db.dispose()
    sqlite_factory.drop(url)


def test_rerunning_periods_open_keeps_the_earlier_print_batch(
    sqlite_world: tuple[str, Database], run_main: Callable[..., Result], tmp_path: Path
) -> None:
    url, _db = sqlite_world
    args = (
        "periods",
        "open",
        "--name",
        "Najaar 2027",
        "--starts",
        day(0),
        "--ends",
        day(60),
        "--codes-out",
        "codes.csv",
    )
    ok(run_main(url, tmp_path, *args))
    _header, first = read_codes(tmp_path / "codes.csv")
    assert len(first) == 40
    second = run_main(url, tmp_path, *args)
    _header, now = read_codes(tmp_path / "codes.csv")
    assert now == first  # refused: the earlier batch is untouched
    assert second.returncode == 1 and "exists already" in second.stderr, str(second)


def test_demo_loads_a_working_municipality(tmp_path: Path) -> None:
    """`buurtkas demo` on a fresh SQLite file (only SQLite: it is slow)."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    cli = Cli(url, tmp_path)
    result = ok(cli("demo", "--households", "200", "--codes-out", "demo-codes.csv"))
    lines = result.stdout.splitlines()
    assert lines[0].startswith("demo loaded: gemeente Almelo, 200 households, period ")
    shown = [
        line.split()[0] for line in lines if line.startswith("  ") and CODE_FORMAT.match(line.split()[0])
    ]
    assert len(shown) >= 1, result.stdout
    header, rows = read_codes(tmp_path / "demo-codes.csv")
    assert header[-1] == "code" and set(ADDRESS_FIELDS) <= set(header)
    assert len(rows) == 200
    conf = test_settings(url)
    db = Database(conf)
    try:
        assert_ledger_ok(db)
        with db.read() as session:
            statuses = set(session.scalars(select(Initiative.status)))
            assert session.scalar(select(func.count()).select_from(Voucher)) == 200
        assert {"published", "funded", "completed", "expired", "draft", "submitted"} <= statuses
        with TestClient(create_app(conf, db)) as client:
            checked = client.post("/api/v1/vouchers/check", json={"code": shown[0]})
            assert checked.status_code == 200, checked.text
            assert checked.json()["balance_cents"] == 750
            listed = client.get("/api/v1/initiatives")
            assert listed.status_code == 200
            assert {item["status"] for item in listed.json()} == {"published", "funded", "completed"}
    finally:
        db.dispose()
