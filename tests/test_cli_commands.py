"""The real `buurtkas` command in a subprocess: every command of SPEC §3, end to end, on both backends.

A failing command must exit non-zero with a clear message on stderr (naming the CSV line where there is
one), print no traceback, leave the database exactly as it was and leave no codes file behind.

Each start of the command costs about a second (imports), so independent commands run two at a time.
"""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.db import Database
from app.households.service import COLUMNS as HOUSEHOLD_COLUMNS
from app.main import create_app
from app.models import Household, Initiative, Voucher, VoucherPeriod
from tests.cli_helpers import (
    ADDRESS_FIELDS,
    AREA_COLUMNS,
    CODE_FORMAT,
    Cli,
    addresses,
    day,
    failure_problems,
    ok,
    read_codes,
    stray_files,
)
from tests.databases import test_settings
from tests.dbstate import assert_ledger_ok, diff, row_counts, snapshot
from tests.factories import AREAS, write_csv

# --- a fresh, unmigrated database per backend ---------------------------------------------------------------


def test_every_command_end_to_end(empty_database_url: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    cli = Cli(empty_database_url, work)

    # before db upgrade: a clear hint instead of a traceback; then db upgrade, and again later (nothing to do)
    unmigrated = cli("ledger", "verify")
    assert not failure_problems(unmigrated, ["has it been migrated? Run `buurtkas db upgrade`"], exit_code=1)
    assert ok(cli("db", "upgrade")).stdout.strip() == "database is up to date"
    conf = test_settings(empty_database_url)
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
        assert ok(ticked).stdout.strip() == (
            "tick: 0 initiative(s) expired; 0 old rate counters purged; "
            "0 expired sessions and 0 used links removed; "
            "mail: off (SMTP_URL is empty), messages stay in the outbox"
        )
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
