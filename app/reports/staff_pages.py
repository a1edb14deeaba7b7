"""The back-office dashboard (figures per period and wijk/buurt) and its CSV and JSON exports.

The page and the exports are built from one `Dashboard` for the same query, so they show the same numbers.
A director sees their own wijken only; another wijk's area code answers 404 on the page and the exports.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from app.audit.exports import attachment, csv_lines
from app.i18n import money, use_locale
from app.reports import dashboard
from app.reports.charts import bar_chart
from app.reports.dashboard import Dashboard, InvalidDashboardQuery
from app.staff.deps import StaffContext, require_staff
from app.templating import render
from app.web.forms import error_message
from app.web.session import locale_of

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}


def _build(request: Request, staff: StaffContext) -> Dashboard:
    params = request.query_params
    period_id = dashboard.parse_period(params.get("period", ""))
    area_code = dashboard.parse_area(params.get("area", ""))
    with request.app.state.db.read() as session:
        return dashboard.build(session, staff.scope, period_id=period_id, area_code=area_code)


@router.get("/staff/dashboard")
def dashboard_page(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    try:
        found = _build(request, staff)
    except InvalidDashboardQuery as error:
        failed: dict[str, Any] = {"board": None, "error": error_message(request, error), "links": {}}
        return render(request, "staff/dashboard/index.html", failed, status_code=422, headers=NO_STORE)
    query = request.url.query
    links = {
        "csv": "/staff/dashboard.csv" + (f"?{query}" if query else ""),
        "json": "/staff/dashboard.json" + (f"?{query}" if query else ""),
    }
    context: dict[str, Any] = {"board": found, "error": None, "links": links, "statuses": dashboard.STATUSES}
    chart_rows = [row for row in found.rows if found.total.kind != "gemeente" or row.kind == "wijk"]
    with use_locale(locale_of(request)):  # value labels are money in the page's language
        context["share_chart"] = bar_chart(
            [(row.name, row.share_percent, f"{row.share_percent}%") for row in chart_rows], maximum=100
        )
        context["money_chart"] = bar_chart(
            [(row.name, row.pledged_cents, money(row.pledged_cents)) for row in chart_rows]
        )
        context["trend_share_chart"] = bar_chart(
            [(p.period_name, p.share_percent, f"{p.share_percent}%") for p in found.trend], maximum=100
        )
        context["trend_money_chart"] = bar_chart(
            [(p.period_name, p.pledged_cents, money(p.pledged_cents)) for p in found.trend]
        )
    return render(request, "staff/dashboard/index.html", context, headers=NO_STORE)


def _filename(found: Dashboard, extension: str) -> str:
    period = f"-periode{found.period.id}" if found.period else ""
    return f"cijfers-{found.area_code or 'alles'}{period}.{extension}"


@router.get("/staff/dashboard.csv")
def dashboard_csv(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    found = _build(request, staff)
    return StreamingResponse(
        csv_lines(dashboard.CSV_HEADER, dashboard.csv_rows(found)),
        media_type="text/csv; charset=utf-8",
        headers=attachment(_filename(found, "csv")),
    )


@router.get("/staff/dashboard.json")
def dashboard_json(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    found = _build(request, staff)
    return JSONResponse(found.as_dict(), headers=attachment(_filename(found, "json")))
