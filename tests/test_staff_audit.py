"""The audit log viewer for administrators: filters (actor exact, action prefix, subject, Amsterdam dates),
pages of 50, readable and escaped before/after, CSV and JSON downloads of the same filter (streamed in
batches, safe against spreadsheet formulas), clear 422s for bad filters, 403 for directors, and every
viewing and download recorded. (That the log refuses changes is tested in test_staff_auth.py.)"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select

from app.audit import repository
from app.audit.exports import safe_cell
from app.audit.service import record
from app.config import Settings
from app.db import Database
from app.models import AuditEvent
from tests.factories import World
from tests.pages_helpers import alert_text, soup
from tests.staff_helpers import make_staff, staff_browser

ADMIN = "beheer@almelo.nl"
DIRECTOR = "regisseur@almelo.nl"


def event(db: Database, **values: object) -> int:
    row = {
        "created_at": datetime(2027, 3, 1, 12, 0, tzinfo=UTC),
        "actor": "cli",
        "action": "test.event",
        "subject_type": "thing",
        "subject_id": "1",
        "before": None,
        "after": None,
        **values,
    }
    with db.write() as session:
        return int(session.execute(insert(AuditEvent).values(**row).returning(AuditEvent.id)).scalar_one())


def shown_ids(response: object) -> list[str]:
    rows = soup(response).select("#audit-caption")
    assert rows or "Geen gebeurtenissen" in response.text  # type: ignore[attr-defined]
    return [str(tr.get("data-id")) for tr in soup(response).select("tbody tr[data-id]")]


def count(db: Database, action: str) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).where(AuditEvent.action == action)) or 0)


@pytest.fixture
def admin(client: TestClient, db: Database, settings: Settings, world: World) -> TestClient:
    return staff_browser(client, db, make_staff(db, settings, email=ADMIN, role="admin", wijken=()))


def test_filters_actor_action_subject_and_amsterdam_dates(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    director = make_staff(db, settings, email=DIRECTOR)
    by_director = event(
        db, actor=f"staff:{director}", action="payout.approved", subject_type="payout", subject_id="7"
    )
    exported = event(db, actor="cli", action="payout.exported", subject_type="payout", subject_id="8")
    other = event(db, actor="cli", action="payoutx.thing")
    late_evening = event(
        db, created_at=datetime(2027, 3, 1, 22, 30, tzinfo=UTC)
    )  # 23:30 in Amsterdam, 1 March
    after_midnight = event(db, created_at=datetime(2027, 3, 1, 23, 30, tzinfo=UTC))  # 00:30 on 2 March

    page = admin.get("/staff/audit", params={"actor": f"staff:{director}", "action": "payout."})
    assert page.status_code == 200
    assert shown_ids(page) == [str(by_director)]
    cells = soup(page).select_one(f'tr[data-id="{by_director}"]')
    assert cells is not None
    assert (
        "Regisseur" in cells.get_text()
        and DIRECTOR in cells.get_text()
        and f"staff:{director}" in cells.get_text()
    )

    assert shown_ids(admin.get("/staff/audit", params={"action": "payout."})) == [
        str(exported),
        str(by_director),
    ]
    assert str(other) not in shown_ids(admin.get("/staff/audit", params={"action": "payout."}))
    assert shown_ids(admin.get("/staff/audit", params={"action": "payou%"})) == []  # no wildcards
    assert shown_ids(admin.get("/staff/audit", params={"subject_type": "payout", "subject_id": "8"})) == [
        str(exported)
    ]

    day = admin.get("/staff/audit", params={"action": "test.", "from": "2027-03-01", "to": "2027-03-01"})
    assert late_evening and str(late_evening) in shown_ids(day) and str(after_midnight) not in shown_ids(day)
    next_day = admin.get("/staff/audit", params={"action": "test.", "from": "2027-03-02", "to": "2027-03-02"})
    assert shown_ids(next_day) == [str(after_midnight)]


def test_pages_of_fifty_newest_first(admin: TestClient, db: Database) -> None:
    with db.write() as session:
        for n in range(120):
            record(session, actor="cli", action="bulk.step", subject_type="n", subject_id=n)
    first = admin.get("/staff/audit", params={"action": "bulk."})
    ids = [int(i) for i in shown_ids(first)]
    assert len(ids) == 50 and ids == sorted(ids, reverse=True)
    older = soup(first).select_one('a[rel="next"]')
    assert older is not None
    second = admin.get(str(older["href"]))
    third = admin.get("/staff/audit", params={"action": "bulk.", "page": "3"})
    assert len(shown_ids(second)) == 50 and len(shown_ids(third)) == 20
    assert soup(third).select_one('a[rel="next"]') is None
    everything = ids + [int(i) for i in shown_ids(second)] + [int(i) for i in shown_ids(third)]
    assert len(set(everything)) == 120


def test_before_and_after_are_readable_and_escaped(admin: TestClient, db: Database) -> None:
    with db.write() as session:
        record(
            session,
            actor="cli",
            action="x.changed",
            subject_type="initiative",
            subject_id=3,
            before={"title": "<script>alert(1)</script>", "target_cents": 500, "wijken": ["WK1"]},
            after={"title": "Bankjes", "target_cents": 500, "wijken": ["WK1", "WK2"]},
        )
    page = admin.get("/staff/audit", params={"action": "x."})
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    text = soup(page).select_one("tbody tr").get_text(" ", strip=True)  # type: ignore[union-attr]
    assert "title: <script>alert(1)</script> → Bankjes" in text
    assert "wijken: WK1 → WK1, WK2" in text
    assert "target_cents: 500" in text


def test_exports_hold_the_same_events_as_the_page(
    admin: TestClient, db: Database, settings: Settings
) -> None:
    director = make_staff(db, settings, email=DIRECTOR)
    for n in range(5):
        event(
            db,
            actor=f"staff:{director}",
            action="payout.approved",
            subject_id=str(n),
            after=json.dumps({"n": n}),
        )
    event(db, actor="cli", action="payout.approved")
    params = {"actor": f"staff:{director}", "action": "payout."}
    page_ids = shown_ids(admin.get("/staff/audit", params=params))
    before = count(db, "audit.exported")

    answer = admin.get("/staff/audit.csv", params=params)
    assert answer.status_code == 200
    assert answer.headers["content-disposition"] == 'attachment; filename="auditlog.csv"'
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert [row["id"] for row in rows] == page_ids
    assert {row["actor_email"] for row in rows} == {DIRECTOR}
    assert rows[0]["changes"] == "n: 4"

    answer = admin.get("/staff/audit.json", params=params)
    assert answer.headers["content-disposition"] == 'attachment; filename="auditlog.json"'
    data = answer.json()
    assert [str(item["id"]) for item in data["events"]] == page_ids
    assert data["filter"] == params
    assert data["events"][0]["actor_name"] == "Regisseur"
    assert count(db, "audit.exported") == before + 2


def test_csv_export_neutralises_formulas(admin: TestClient, db: Database) -> None:
    event(db, actor='=HYPERLINK("http://evil")', action="+cmd", subject_type="@SUM(A1)", subject_id="-2+3")
    answer = admin.get("/staff/audit.csv", params={"action": "+cmd"})
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert len(rows) == 2
    cells = rows[1]
    assert '\'=HYPERLINK("http://evil")' in cells and "'+cmd" in cells
    assert "'@SUM(A1)" in cells and "'-2+3" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert safe_cell("\tx") == "'\tx" and safe_cell(-5) == "-5" and safe_cell("a=b") == "a=b"


def test_a_long_export_streams_in_batches(admin: TestClient, db: Database) -> None:
    with db.write() as session:
        session.execute(
            insert(AuditEvent),
            [
                {
                    "created_at": datetime(2027, 3, 1, tzinfo=UTC),
                    "actor": "cli",
                    "action": "many.row",
                    "subject_type": "n",
                    "subject_id": str(n),
                }
                for n in range(2_345)
            ],
        )
    answer = admin.get("/staff/audit.csv", params={"action": "many."})
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    ids = [int(row["id"]) for row in rows]
    assert len(ids) == 2_345 == len(set(ids)) and ids == sorted(ids, reverse=True)
    with db.read() as session:
        up_to = repository.last_id(session)
    sizes = [
        len(batch)
        for batch in repository.batches(db, repository.AuditFilter(action="many."), up_to, size=1000)
    ]
    assert sizes == [1000, 1000, 345]


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2027-13-01"},
        {"to": "gisteren"},
        {"from": "0001-01-01"},
        {"to": "9999-12-31"},
        {"from": "2027-02-30"},
        {"from": "2027-03-02", "to": "2027-03-01"},
        {"actor": "x" * 10_000},
        {"action": "a" * 81},
        {"subject_id": "1\x00"},
        {"page": "-1"},
        {"page": "0"},
        {"page": "abc"},
        {"page": "9" * 40},
    ],
)
def test_bad_filters_get_a_clear_422_and_record_nothing(
    admin: TestClient, db: Database, params: dict[str, str]
) -> None:
    viewed, exported = count(db, "audit.viewed"), count(db, "audit.exported")
    page = admin.get("/staff/audit", params=params)
    assert page.status_code == 422
    assert alert_text(page)
    actor = soup(page).select_one("input#actor")
    assert actor is not None and len(str(actor.get("value", ""))) <= 200  # not echoed whole
    if "page" not in params:
        for path in ("/staff/audit.csv", "/staff/audit.json"):
            answer = admin.get(path, params=params)
            assert answer.status_code == 422 and "content-disposition" not in answer.headers
    assert (count(db, "audit.viewed"), count(db, "audit.exported")) == (viewed, exported)


def test_viewing_is_recorded(admin: TestClient, db: Database) -> None:
    admin.get("/staff/audit", params={"action": "payout."})
    with db.read() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert last.action == "audit.viewed" and last.actor.startswith("staff:")
    assert json.loads(last.after or "{}") == {"action": "payout.", "page": 1}


def test_directors_get_403(client: TestClient, db: Database, settings: Settings, world: World) -> None:
    director = staff_browser(client, db, make_staff(db, settings, email=DIRECTOR, gemeente_wide=True))
    before = count(db, "audit.exported") + count(db, "audit.viewed")
    for path in ("/staff/audit", "/staff/audit.csv", "/staff/audit.json", "/staff/audit?page=2"):
        answer = director.get(path)
        assert answer.status_code == 403, path
        assert "content-disposition" not in answer.headers
    assert count(db, "audit.exported") + count(db, "audit.viewed") == before
