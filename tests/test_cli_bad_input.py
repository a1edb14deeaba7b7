"""The `buurtkas` command refuses bad input of every kind, on both backends.

A failing command must exit non-zero with a clear message on stderr (naming the CSV line where there is
one), print no traceback, leave the database exactly as it was and leave no codes file behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.db import Database
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from tests.cli_helpers import Result, addresses, day, failure_problems, ok, read_codes, stray_files
from tests.databases import TEST_SECRET, PostgresFactory, SqliteFactory, test_settings
from tests.dbstate import diff, snapshot
from tests.factories import build_world

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
TARGET_RANGE = "Het streefbedrag moet tussen € 50,00 en € 2.500,00 liggen."

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
    ("period-letters-unwritable", ("periods", "open", *NEW, "--ends", day(30), "--codes-out", "out/l/c.csv", "--letters-out", "not-a-directory/l.pdf"), ["--letters-out: cannot write in not-a-directory"], 1, "C.UTF-8"),
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
