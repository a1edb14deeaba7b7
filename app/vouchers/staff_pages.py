"""Back-office vouchers: look up a household's vouchers by address, reissue a lost voucher (the new code
is shown once, and its letter is written into the print folder for the wijkcentrum), and, for
administrators, the periods and opening one (codes, letters and the mail-merge list into the print
folder; app/vouchers/staff_letters.py has those files and the reprint of a list of addresses).

Households are in scope by their buurt; outside it every route answers 404 with the same words as for an
address that does not exist. Looking up a household is recorded in the audit log (personal data).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.audit.service import record
from app.errors import AppError, Conflict
from app.kit.clock import today
from app.kit.money import parse_euros
from app.letters.layout import PeriodFacts
from app.staff.deps import StaffContext, require_admin, require_staff
from app.templating import render
from app.vouchers import history, repository, service, staff_letters
from app.vouchers.errors import PeriodInvalid, VoucherExpired, VoucherReplaced
from app.vouchers.history import AddressInvalid, HouseholdNotFound
from app.vouchers.staff_letters import (
    PeriodChanged,
    commit_outputs,
    print_outputs,
    print_paths,
    print_stem,
    write_with_files,
)
from app.web.forms import error_message, field, read_form
from app.web.session import clear_flash, read_flash, set_flash

router = APIRouter(include_in_schema=False)
router.include_router(staff_letters.router)  # reprinting a list of addresses

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
        problem = _not_active(status)
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
    """Replace the voucher and write the new code's letter into the print folder, in one transaction."""
    day = today()
    db = request.app.state.db
    with db.read() as session:
        voucher = history.voucher_in_scope(staff.scope, repository.find_by_id(session, voucher_id))
        household = history.household_by_id(session, staff.scope, voucher.household_id)
        period = repository.period_by_name(session, voucher.period_name)
        assert period is not None
        facts = PeriodFacts(name=period.name, ends_on=period.ends_on, value_cents=period.value_cents)
    status = service.effective_status(voucher, day)
    if status != "active":  # refused before a file is made
        return _reissue_page(request, staff, voucher_id, error=_already(_not_active(status)))
    settings = request.app.state.settings
    ending = f"-brief-{staff_letters.address_slug(household)}.pdf"
    [letter] = print_paths(settings.print_dir, print_stem(facts.name), (ending,))

    try:
        with print_outputs(settings, facts, expected=1, reprint=True, letters=letter) as outputs:

            def work(session: Session) -> tuple[int, str, int]:
                found = history.voucher_in_scope(staff.scope, repository.find_by_id(session, voucher_id))
                now = repository.period_by_name(session, facts.name)
                if now is None or (now.ends_on, now.value_cents) != (facts.ends_on, facts.value_cents):
                    raise PeriodChanged()  # the letter would show the old last day
                new_id, code = service.reissue(session, voucher_id=found.id, actor=staff.actor, today=day)
                new = repository.find_by_id(session, new_id)
                assert new is not None
                outputs.write(household, code, new.balance_cents)
                record(
                    session,
                    actor=staff.actor,
                    action="voucher.letter_written",
                    subject_type="voucher",
                    subject_id=new_id,
                    after={"file": letter.name},
                )
                outputs.finish()
                return new_id, code, new.balance_cents

            new_id, code, balance = write_with_files(db, work)
            files, kept = commit_outputs(outputs)
    except AppError as error:
        if error.status == 404:
            raise
        return _reissue_page(request, staff, voucher_id, error=_already(error))
    with db.read() as session:
        new_voucher = repository.find_by_id(session, new_id)
    context = {
        "voucher": new_voucher,
        "household": household,
        "code": code,
        "balance_cents": balance,
        "files": files,
        "kept": kept,
    }
    return render(request, "staff/vouchers/reissued.html", context, headers=CODE_PAGE)


def _not_active(status: str) -> AppError:
    return VoucherReplaced() if status == "replaced" else VoucherExpired()


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


PERIOD_FILES = ("-codes.csv", "-brieven.pdf", "-mailmerge.csv")
"""The files opening a period writes into the print folder, after the period's name and the time."""


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
    codes, letters, mailmerge = print_paths(settings.print_dir, print_stem(preview.name), PERIOD_FILES)
    facts = PeriodFacts(name=preview.name, ends_on=ends, value_cents=value_cents)
    day = today()
    try:
        with print_outputs(
            settings, facts, expected=expected, codes=codes, letters=letters, mailmerge=mailmerge
        ) as outputs:

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
                    sink=outputs.write,
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
                        after={
                            "count": result.issued,
                            "codes": codes.name,
                            "letters": letters.name,
                            "mailmerge": mailmerge.name,
                        },
                    )
                    outputs.finish()  # the last step: a file that cannot be flushed rolls it all back
                return result

            result = write_with_files(request.app.state.db, work)
            files, kept = commit_outputs(outputs) if result.issued else ([], False)
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
        files=files,
        kept=kept,
        created=result.created,
        extended=result.extended,
    )
    return response
