"""Back-office vouchers: look up a household's vouchers by address, reissue a lost voucher (the new code
is shown once, for printing at the wijkcentrum), and, for administrators, the periods and opening one.

Households are in scope by their buurt; outside it every route answers 404 with the same words as for an
address that does not exist. Looking up a household is recorded in the audit log (personal data).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.audit.service import record
from app.errors import AppError, Conflict, ServiceBusy
from app.kit.clock import AMSTERDAM, today
from app.kit.money import parse_euros
from app.models.base import utcnow
from app.staff.deps import StaffContext, require_admin, require_staff
from app.templating import render
from app.vouchers import history, repository, service
from app.vouchers.errors import PeriodInvalid, VoucherExpired, VoucherReplaced
from app.vouchers.history import AddressInvalid, HouseholdNotFound
from app.vouchers.printbatch import CodesFile
from app.web.forms import error_message, field, read_form
from app.web.session import clear_flash, read_flash, set_flash

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
CODE_PAGE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MAX_ID = 2**62


class CountChanged(Conflict):
    slug = "period-count-changed"
    title = "Aantal veranderd"
    title_en = "Number changed"

    def __init__(self, households: int) -> None:
        super().__init__(
            f"Het aantal huishoudens is intussen veranderd: nu krijgen {households} huishoudens een voucher. "
            "Kijk het na en bevestig opnieuw.",
            f"The number of households changed meanwhile: {households} households would now get a voucher. "
            "Check it and confirm again.",
        )
        self.households = households


class PrintDirUnavailable(ServiceBusy):
    slug = "print-dir-unavailable"
    message = "Het drukbestand kan niet worden geschreven. Er is niets veranderd. Vraag de systeembeheerder."
    message_en = "The print file cannot be written. Nothing was changed. Ask the system administrator."


# --- The lookup page and the history ------------------------------------------------------------------


def _periods(request: Request, staff: StaffContext) -> list[repository.PeriodRow]:
    if not staff.is_admin:
        return []
    with request.app.state.db.read() as session:
        return repository.period_overview(session)


def _index(
    request: Request,
    staff: StaffContext,
    *,
    inputs: dict[str, str] | None = None,
    error: AppError | None = None,
    flash: dict[str, Any] | None = None,
) -> Response:
    context = {
        "inputs": inputs or {"postcode": "", "huisnummer": "", "huisletter": "", "toevoeging": ""},
        "periods": _periods(request, staff),
        "error": error_message(request, error) if error else None,
        "flash": flash or {},
    }
    return render(
        request,
        "staff/vouchers/index.html",
        context,
        status_code=error.status if error else 200,
        headers=NO_STORE,
    )


@router.get("/staff/vouchers")
def vouchers_page(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    flash = read_flash(request)
    response = _index(request, staff, flash=flash)
    clear_flash(request, response)
    return response


def _address_inputs(request: Request) -> dict[str, str]:
    params = request.query_params
    return {
        name: params.get(name, "").strip()[:10]
        for name in ("postcode", "huisnummer", "huisletter", "toevoeging")
    }


@router.get("/staff/vouchers/address")
def address_history(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    inputs = _address_inputs(request)
    day = today()
    try:
        address = history.parse_address(**inputs)

        def look_up(session: Session) -> tuple[history.HouseholdView, list[history.VoucherLine]]:
            household = history.find_household(session, staff.scope, address)
            record(
                session,
                actor=staff.actor,
                action="voucher.history_viewed",
                subject_type="household",
                subject_id=household.id,
            )
            return household, history.history(session, household.id, today=day)

        household, lines = request.app.state.db.run_write(look_up)
    except (AddressInvalid, HouseholdNotFound) as error:
        return _index(request, staff, inputs=inputs, error=error)
    context = {"household": household, "lines": lines, "today": day}
    return render(request, "staff/vouchers/address.html", context, headers=NO_STORE)


# --- Reissuing a lost voucher -------------------------------------------------------------------------


def _voucher_id(voucher_id: int) -> int:
    if not 0 < voucher_id < MAX_ID:
        raise HouseholdNotFound()
    return voucher_id


def _reissue_page(
    request: Request, staff: StaffContext, voucher_id: int, *, error: AppError | None = None
) -> Response:
    day = today()
    with request.app.state.db.read() as session:
        voucher = history.voucher_in_scope(staff.scope, repository.find_by_id(session, voucher_id))
        household = history.household_by_id(session, staff.scope, voucher.household_id)
    status = service.effective_status(voucher, day)
    problem = error
    if problem is None and status != "active":
        problem = VoucherReplaced() if status == "replaced" else VoucherExpired()
    context = {
        "voucher": voucher,
        "household": household,
        "status": status,
        "error": error_message(request, problem) if problem else None,
    }
    return render(
        request,
        "staff/vouchers/reissue.html",
        context,
        status_code=problem.status if problem else 200,
        headers=NO_STORE,
    )


@router.get("/staff/vouchers/{voucher_id}/reissue")
def reissue_form(voucher_id: int, request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    return _reissue_page(request, staff, _voucher_id(voucher_id))


@router.post("/staff/vouchers/{voucher_id}/reissue")
async def reissue(
    voucher_id: int, request: Request, staff: StaffContext = Depends(require_staff)
) -> Response:
    _voucher_id(voucher_id)
    await read_form(request)
    return await run_in_threadpool(_reissue, request, staff, voucher_id)


def _reissue(request: Request, staff: StaffContext, voucher_id: int) -> Response:
    day = today()

    def work(session: Session) -> tuple[int, str, history.HouseholdView, int]:
        voucher = history.voucher_in_scope(staff.scope, repository.find_by_id(session, voucher_id))
        household = history.household_by_id(session, staff.scope, voucher.household_id)
        new_id, code = service.reissue(session, voucher_id=voucher.id, actor=staff.actor, today=day)
        new = repository.find_by_id(session, new_id)
        assert new is not None
        return new_id, code, household, new.balance_cents

    try:
        new_id, code, household, balance = request.app.state.db.run_write(work)
    except AppError as error:
        if error.status == 404:
            raise
        return _reissue_page(request, staff, voucher_id, error=_already(error))
    with request.app.state.db.read() as session:
        voucher = repository.find_by_id(session, new_id)
    context = {"voucher": voucher, "household": household, "code": code, "balance_cents": balance}
    return render(request, "staff/vouchers/reissued.html", context, headers=CODE_PAGE)


def _already(error: AppError) -> AppError:
    if isinstance(error, VoucherReplaced):
        return VoucherReplaced(
            "Deze voucher is al vervangen; de nieuwe code is toen één keer getoond. Er is niets veranderd. "
            "Is ook die nieuwe code kwijt? Zoek het adres opnieuw op en vervang de nieuwe voucher.",
            "This voucher has already been replaced; the new code was shown once then. Nothing was changed. "
            "Is that new code lost too? Look the address up again and replace the new voucher.",
        )
    return error


# --- Periods (administrators) -------------------------------------------------------------------------


def _day(text: str, label_nl: str, label_en: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodInvalid(
            f"Vul de {label_nl} in als datum (jjjj-mm-dd).", f"Enter the {label_en} as a date (yyyy-mm-dd)."
        ) from None


def _period_values(form: FormData) -> dict[str, str]:
    return {
        "name": field(form, "name", 81),
        "starts": field(form, "starts", 12),
        "ends": field(form, "ends", 12),
        "value": field(form, "value", 16),
    }


def _parsed(values: dict[str, str], *, cents: str | None = None) -> tuple[str, date, date, int]:
    starts = _day(values["starts"], "begindatum", "start date")
    ends = _day(values["ends"], "einddatum", "end date")
    if cents is not None:
        if not cents.isdigit() or len(cents) > 9:
            raise PeriodInvalid("De waarde klopt niet.", "The value is not valid.")
        value_cents = int(cents)
    else:
        try:
            value_cents = parse_euros(values["value"])
        except ValueError:
            raise PeriodInvalid(
                "Vul de waarde van een voucher in euro in, zoals 7,50.",
                "Enter the value of a voucher in euros, such as 7.50.",
            ) from None
    return values["name"], starts, ends, value_cents


def _euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}"


def _period_form(request: Request, values: dict[str, str], *, error: AppError | None = None) -> Response:
    context = {"values": values, "error": error_message(request, error) if error else None, "today": today()}
    return render(
        request,
        "staff/vouchers/period_form.html",
        context,
        status_code=error.status if error else 200,
        headers=NO_STORE,
    )


@router.get("/staff/vouchers/periods/new")
def period_form(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    value = _euros(request.app.state.settings.default_voucher_value_cents)
    return _period_form(request, {"name": "", "starts": "", "ends": "", "value": value})


def _preview(
    request: Request, name: str, starts: date, ends: date, value_cents: int
) -> service.PeriodPreview:
    with request.app.state.db.read() as session:
        return service.preview_period(
            session, name=name, starts_on=starts, ends_on=ends, value_cents=value_cents, today=today()
        )


def _confirm_page(
    request: Request,
    preview: service.PeriodPreview,
    starts: date,
    ends: date,
    *,
    error: AppError | None = None,
) -> Response:
    context = {
        "preview": preview,
        "starts": starts,
        "ends": ends,
        "error": error_message(request, error) if error else None,
    }
    return render(
        request,
        "staff/vouchers/period_confirm.html",
        context,
        status_code=error.status if error else 200,
        headers=NO_STORE,
    )


@router.post("/staff/vouchers/periods/new")
async def period_preview(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    values = _period_values(await read_form(request))
    return await run_in_threadpool(_check_period, request, values)


def _check_period(request: Request, values: dict[str, str]) -> Response:
    try:
        name, starts, ends, value_cents = _parsed(values)
        preview = _preview(request, name, starts, ends, value_cents)
    except AppError as error:
        return _period_form(request, values, error=error)
    return _confirm_page(request, preview, starts, ends)


@router.post("/staff/vouchers/periods/confirm")
async def period_open(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    form = await read_form(request)
    values = _period_values(form)
    cents = field(form, "value_cents", 12)
    expected = field(form, "households", 12)
    return await run_in_threadpool(_open, request, staff, values, cents, expected)


def batch_name(period_name: str) -> str:
    """`Voorjaar 2027` → `voorjaar-2027-20270301-091500.csv` (Amsterdam time)."""
    ascii_name = unicodedata.normalize("NFKD", period_name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:40].strip("-") or "periode"
    return f"{slug}-{utcnow().astimezone(AMSTERDAM):%Y%m%d-%H%M%S}.csv"


def _free_path(directory: Path, name: str) -> Path:
    path = directory / name
    stem = path.stem
    number = 2
    while path.exists():
        path = directory / f"{stem}-{number}.csv"
        number += 1
    return path


def _open(
    request: Request, staff: StaffContext, values: dict[str, str], cents: str, expected_text: str
) -> Response:
    try:
        name, starts, ends, value_cents = _parsed(values, cents=cents)
        preview = _preview(request, name, starts, ends, value_cents)
    except AppError as error:
        values = {**values, "value": _euros(int(cents)) if cents.isdigit() and len(cents) < 10 else ""}
        return _period_form(request, values, error=error)
    if not expected_text.isdigit() or len(expected_text) > 9:
        return _confirm_page(request, preview, starts, ends, error=CountChanged(preview.households))
    expected = int(expected_text)
    settings = request.app.state.settings
    directory: Path = settings.print_dir
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        codes_file = CodesFile(_free_path(directory, batch_name(preview.name)))
    except (
        Exception
    ) as exc:  # OSError, PrintBatchExists, or CliFailure (how CodesFile reports an unwritable folder)
        raise PrintDirUnavailable() from exc
    day = today()
    try:
        with codes_file:

            def work(session: Session) -> service.PeriodOpenResult:
                households = service.households_to_issue(session, name)
                if households != expected:
                    raise CountChanged(households)
                result = service.open_period(
                    session,
                    name=name,
                    starts_on=starts,
                    ends_on=ends,
                    value_cents=value_cents,
                    actor=staff.actor,
                    today=day,
                    sink=codes_file.write,
                )
                if result.issued != households:  # never expected: the same rule counted and issued
                    raise CountChanged(result.issued)
                if result.issued:
                    record(
                        session,
                        actor=staff.actor,
                        action="vouchers.print_batch_written",
                        subject_type="period",
                        subject_id=result.period_id,
                        after={"file": codes_file.path.name, "count": result.issued},
                    )
                return result

            result = request.app.state.db.run_write(work, attempts=1)
            if result.issued:
                codes_file.commit()
    except CountChanged as error:
        fresh = service.PeriodPreview(preview.name, error.households, preview.value_cents, preview.existing)
        return _confirm_page(request, fresh, starts, ends, error=error)
    except AppError as error:
        return _period_form(request, {**values, "value": _euros(value_cents)}, error=error)
    response = RedirectResponse("/staff/vouchers", status_code=303, headers=NO_STORE)
    set_flash(
        request,
        response,
        notice="period_opened",
        period=name,
        issued=result.issued,
        total_cents=result.issued * value_cents,
        file=codes_file.path.name if result.issued else "",
        created=result.created,
        extended=result.extended,
    )
    return response
