"""The public results page of a voucher period, with charts per wijk."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.errors import NotFound
from app.i18n import money, use_locale
from app.reports import repository
from app.reports.charts import bar_chart
from app.reports.service import period_results
from app.templating import render
from app.web.session import locale_of

router = APIRouter(include_in_schema=False)


class PeriodNotFound(NotFound):
    slug = "period-not-found"
    message = "Deze periode bestaat niet."
    message_en = "This period does not exist."


@router.get("/results", response_class=HTMLResponse)
def latest_results(request: Request) -> Response:
    return _results(request, None)


@router.get("/results/{period_id}", response_class=HTMLResponse)
def results(period_id: int, request: Request) -> Response:
    return _results(request, period_id)


def _results(request: Request, period_id: int | None) -> Response:
    with request.app.state.db.read() as session:
        periods = repository.periods(session)
        period = next((p for p in periods if period_id is None or p.id == period_id), None)
        if period is None and period_id is not None:
            raise PeriodNotFound()
        found = period_results(session, period) if period else None
    context: dict[str, object] = {"periods": periods, "results": found}
    if found is not None:
        with use_locale(locale_of(request)):  # the charts' value labels are money in the page's language
            context["share_chart"] = bar_chart(
                [(w.name, w.share_percent, f"{w.share_percent}%") for w in found.wijken], maximum=100
            )
            context["money_chart"] = bar_chart(
                [(w.name, w.given_cents, money(w.given_cents)) for w in found.wijken]
            )
    return render(request, "reports/results.html", context)
