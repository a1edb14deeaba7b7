"""The back-office dashboard: per period and per wijk/buurt the share of vouchers used, money given and
initiatives by state, with the trend over periods as accessible SVG charts; CSV and JSON exports hold
exactly the page's figures; a director sees only their wijken (other areas 404 on page and exports)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.kit.clock import today
from app.models import Area, Household
from tests.factories import World, issue_period, make_initiative
from tests.pages_helpers import soup
from tests.race_helpers import pledge
from tests.staff_helpers import make_staff, staff_browser

BUURT_WIJK = {"BU01411000": "WK014110", "BU01411001": "WK014110", "BU01411800": "WK014118"}


def buurt_of_codes(db: Database, codes_by_household: dict[int, str]) -> dict[str, str]:
    """Voucher code → buurt code."""
    with db.read() as session:
        rows = session.execute(select(Household.id, Area.code).join(Area, Area.id == Household.buurt_id))
        buurt = {int(household): str(code) for household, code in rows}
    return {code: buurt[household] for household, code in codes_by_household.items()}


@pytest.fixture
def given(client: TestClient, db: Database, settings: Settings, world: World) -> dict[str, Any]:
    """Pledges from households in every buurt, a second period with one gift, initiatives in both wijken."""
    buurten = buurt_of_codes(db, world.codes_by_household)
    with db.write() as session:
        schelfhorst_id = make_initiative(session, settings, area_code="BU01411800", target_cents=50_000)
        make_initiative(session, settings, area_code="WK014110", publish=False, title="Wijkfeest")
        make_initiative(session, settings, area_code="GM0141", title="Voor de hele gemeente")
        second = issue_period(  # an older period, still open
            session,
            name="Najaar 2026",
            starts_on=today() - timedelta(days=200),
            ends_on=today() + timedelta(days=5),
        )
    schelfhorst = str(schelfhorst_id)
    expected: dict[str, list[int]] = {code: [0, 0] for code in BUURT_WIJK}
    counted = {code: 0 for code in BUURT_WIJK}
    for buurt in buurten.values():
        counted[buurt] += 1
    chosen = {"BU01411000": 3, "BU01411001": 2, "BU01411800": 4}
    for code, buurt in buurten.items():
        if expected[buurt][0] < chosen[buurt]:
            target = world.initiative_id if buurt != "BU01411800" else int(schelfhorst)
            answer = pledge(client, code, target, amount=200)
            assert answer.status_code == 201, answer.text
            expected[buurt][0] += 1
            expected[buurt][1] += 200
    second_code = next(code for code, buurt in buurt_of_codes(db, second).items() if buurt == "BU01411800")
    assert pledge(client, second_code, int(schelfhorst), amount=300).status_code == 201
    return {"expected": expected, "households": counted, "schelfhorst": int(schelfhorst)}


def table(response: Any, table_id: str) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for row in soup(response).select(f"#{table_id} tbody tr"):
        key = str(row.get("data-area") or row.get("data-period"))
        found[key] = {
            str(cell.get("data-key") or cell.get("data-status")): str(
                cell.get("data-cents") or cell.get_text(strip=True)
            )
            for cell in row.select("td")
        }
    return found


def csv_rows(answer: Any) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].startswith("attachment;")
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def admin_browser(client: TestClient, db: Database, settings: Settings) -> TestClient:
    return staff_browser(
        client, db, make_staff(db, settings, email="beheer@almelo.nl", role="admin", wijken=())
    )


def test_admin_sees_every_wijk_and_the_figures_add_up(
    client: TestClient, db: Database, settings: Settings, world: World, given: dict[str, Any]
) -> None:
    admin = admin_browser(client, db, settings)
    page = admin.get("/staff/dashboard")
    assert page.status_code == 200
    areas = table(page, "areas-table")
    expected, households = given["expected"], given["households"]
    assert set(areas) == {"GM0141", "WK014110", "WK014118", *BUURT_WIJK}
    for buurt, (used, cents) in expected.items():
        assert areas[buurt] == {
            "households": str(households[buurt]),
            "used": str(used),
            "share": f"{used * 100 // households[buurt]}%",
            "pledged": str(cents),
        }
    assert areas["WK014110"]["used"] == "5" and areas["WK014110"]["pledged"] == "1000"
    assert areas["GM0141"] == {"households": "40", "used": "9", "share": "22%", "pledged": "1800"}

    statuses = table(page, "status-table")
    assert statuses["GM0141"]["published"] == "3" and statuses["GM0141"]["draft"] == "1"
    assert statuses["WK014110"]["draft"] == "1" and statuses["WK014110"]["published"] == "1"  # wijk + buurten
    assert statuses["BU01411000"]["draft"] == "0"  # the wijk-wide draft is not in a buurt's row
    assert statuses["BU01411000"]["published"] == "1" and statuses["BU01411800"]["published"] == "1"

    trend = table(page, "trend-table")
    assert [row["pledged"] for row in trend.values()] == ["300", "1800"]  # oldest period first
    assert [row["used"] for row in trend.values()] == ["1", "9"]

    charts = soup(page).select("svg[role=img]")
    assert len(charts) == 4
    for chart in charts:
        labelled = str(chart["aria-labelledby"]).split()
        assert chart.find("title") is not None and chart.find("desc") is not None
        assert all(soup(page).find(id=name) is not None for name in labelled)
    assert (
        f"Binnenstad: {5 * 100 // (households['BU01411000'] + households['BU01411001'])}%"
        in soup(page).find(id="chart-share-desc").get_text()
    )  # type: ignore[union-attr]


def test_exports_hold_exactly_the_page_figures(
    client: TestClient, db: Database, settings: Settings, world: World, given: dict[str, Any]
) -> None:
    admin = admin_browser(client, db, settings)
    for params in ({}, {"area": "WK014110"}, {"area": "BU01411800"}):
        page = admin.get("/staff/dashboard", params=params)
        areas, statuses, trend = (
            table(page, "areas-table"),
            table(page, "status-table"),
            table(page, "trend-table"),
        )
        rows = csv_rows(admin.get("/staff/dashboard.csv", params=params))
        shown = {
            row["area_code"]: {
                "households": row["households_with_voucher"],
                "used": row["households_used"],
                "share": row["share_used_percent"] + "%",
                "pledged": row["pledged_cents"],
            }
            for row in rows
            if row["section"] in ("total", "area")
        }
        assert shown == areas
        for row in rows:
            if row["section"] in ("total", "area"):
                for status, number in statuses[row["area_code"]].items():
                    assert row[f"initiatives_{status}"] == number
        assert [r["pledged_cents"] for r in rows if r["section"] == "trend"] == [
            t["pledged"] for t in trend.values()
        ]

        data = admin.get("/staff/dashboard.json", params=params)
        assert data.headers["content-disposition"].startswith("attachment;")
        body = data.json()
        from_json = {
            item["area_code"]: {
                "households": str(item["households_with_voucher"]),
                "used": str(item["households_used"]),
                "share": f"{item['share_used_percent']}%",
                "pledged": str(item["pledged_cents"]),
            }
            for item in [body["total"], *body["rows"]]
        }
        assert from_json == areas
        assert [str(p["pledged_cents"]) for p in body["trend"]] == [t["pledged"] for t in trend.values()]
        assert body["total"]["initiatives"] == {
            k: int(v) for k, v in statuses[body["total"]["area_code"]].items()
        }


def test_a_chosen_period_shows_that_period(
    client: TestClient, db: Database, settings: Settings, world: World, given: dict[str, Any]
) -> None:
    admin = admin_browser(client, db, settings)
    page = admin.get("/staff/dashboard")
    options = [(o["value"], o.get_text()) for o in soup(page).select("select#period option")]
    assert len(options) == 2
    for value, _name in options:
        areas = table(admin.get("/staff/dashboard", params={"period": value}), "areas-table")
        assert areas["GM0141"]["pledged"] in ("1800", "300")
        rows = csv_rows(admin.get("/staff/dashboard.csv", params={"period": value}))
        assert rows[0]["pledged_cents"] == areas["GM0141"]["pledged"]


def test_a_director_sees_only_their_wijken(
    client: TestClient, db: Database, settings: Settings, world: World, given: dict[str, Any]
) -> None:
    director = staff_browser(client, db, make_staff(db, settings, email="regisseur@almelo.nl"))
    page = director.get("/staff/dashboard")
    assert page.status_code == 200
    areas = table(page, "areas-table")
    assert set(areas) == {"GM0141", "WK014110", "BU01411000", "BU01411001"}
    assert areas["GM0141"] == areas["WK014110"]  # the "gemeente" total is the total over their scope
    assert areas["GM0141"]["pledged"] == "1000"
    assert "Schelfhorst" not in page.text
    statuses = table(page, "status-table")
    assert (
        statuses["GM0141"]["published"] == "1" and statuses["GM0141"]["draft"] == "1"
    )  # no gemeente-wide ones
    trend = table(page, "trend-table")
    assert [row["pledged"] for row in trend.values()] == ["0", "1000"]
    picker = [o["value"] for o in soup(page).select("select#area option")]
    assert "WK014118" not in picker and "BU01411800" not in picker

    body = director.get("/staff/dashboard.json").json()
    assert body["area"]["limited_to_your_wijken"] is True
    assert body["total"]["pledged_cents"] == 1000
    assert {row["area_code"] for row in body["rows"]} == {"WK014110", "BU01411000", "BU01411001"}
    csv_codes = {row["area_code"] for row in csv_rows(director.get("/staff/dashboard.csv"))}
    assert csv_codes == {"GM0141", "WK014110", "BU01411000", "BU01411001"}

    for area in ("WK014118", "BU01411800", "WK999999"):
        for path in ("/staff/dashboard", "/staff/dashboard.csv", "/staff/dashboard.json"):
            answer = director.get(path, params={"area": area})
            assert answer.status_code == 404, (path, area)
            assert "content-disposition" not in answer.headers
            assert "Schelfhorst" not in answer.text


def test_a_gemeente_wide_director_counts_gemeente_initiatives(
    client: TestClient, db: Database, settings: Settings, world: World, given: dict[str, Any]
) -> None:
    director = staff_browser(
        client,
        db,
        make_staff(db, settings, email="regisseur@almelo.nl", wijken=("WK014118",), gemeente_wide=True),
    )
    statuses = table(director.get("/staff/dashboard"), "status-table")
    assert statuses["GM0141"]["published"] == "2"  # Schelfhorst's and the gemeente's
    assert director.get("/staff/dashboard", params={"area": "WK014110"}).status_code == 404


@pytest.mark.parametrize(
    "params",
    [{"period": "abc"}, {"period": "-1"}, {"period": "9" * 40}, {"area": "<script>"}, {"area": "x" * 10_000}],
)
def test_bad_choices_get_a_clear_422(
    client: TestClient, db: Database, settings: Settings, world: World, params: dict[str, str]
) -> None:
    admin = admin_browser(client, db, settings)
    page = admin.get("/staff/dashboard", params=params)
    assert page.status_code == 422 and soup(page).select('[role="alert"]')
    for path in ("/staff/dashboard.csv", "/staff/dashboard.json"):
        answer = admin.get(path, params=params)
        assert answer.status_code == 422 and "content-disposition" not in answer.headers


def test_an_unknown_period_is_404(client: TestClient, db: Database, settings: Settings, world: World) -> None:
    admin = admin_browser(client, db, settings)
    for path in ("/staff/dashboard", "/staff/dashboard.csv", "/staff/dashboard.json"):
        assert admin.get(path, params={"period": "999999"}).status_code == 404
