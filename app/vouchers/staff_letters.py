"""Back-office letters: the files in the print folder, and new letters for a list of addresses.

Every file with codes goes to PRINT_DIR (0600), never over HTTP, the way the CLI writes them
(app/letters/writer.py `VoucherOutputs`): drawn while the vouchers are issued, flushed as the
transaction's last step, named after the commit. A refused request leaves no file. The staff pages only
show the names and sizes.

Reprinting a list (administrators): a text box with one address a line (`7601 CD 3A 2`: postcode,
huisnummer with its letter, toevoeging), a period, a confirm step, then every voucher is reissued in one
transaction (app/letters/reprint.py) and the letters go into one PDF. Any line that is wrong stops the
whole list; every such line is named.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Row
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.audit.service import record
from app.config import Settings
from app.db import Database
from app.errors import AppError, Conflict, InvalidInput, ServiceBusy
from app.kit.clock import AMSTERDAM, today
from app.letters.errors import AddressListError, LetterSetupError
from app.letters.layout import PeriodFacts
from app.letters.reprint import AddressLine, describe, reprint
from app.letters.service import letterhead
from app.letters.writer import VoucherOutputs
from app.models import PeriodStatus
from app.models.base import utcnow
from app.staff.deps import StaffContext, require_admin
from app.templating import render
from app.vouchers import repository
from app.vouchers.history import Address, AddressInvalid, parse_address
from app.vouchers.printbatch import AtomicFile, FileKept, OutputFileError
from app.web.forms import error_message, field, read_form
from app.web.session import locale_of, set_flash

router = APIRouter(include_in_schema=False)
log = structlog.get_logger(__name__)
T = TypeVar("T")

NO_STORE = {"Cache-Control": "no-store"}
MAX_ADDRESSES = 2_000
MAX_TEXT = 60_000
"""Characters in the text box: 2,000 lines of up to 30 characters."""
MAX_FORM_BYTES = 4 * MAX_TEXT
"""A posted text box is URL-encoded: a space or line break takes up to 3 bytes."""


# --- Errors --------------------------------------------------------------------------------------------


class PrintDirUnavailable(ServiceBusy):
    slug = "print-dir-unavailable"
    message = "Het drukbestand kan niet worden geschreven. Er is niets veranderd. Vraag de systeembeheerder."
    message_en = "The print file cannot be written. Nothing was changed. Ask the system administrator."


class LettersUnavailable(ServiceBusy):
    slug = "letters-unavailable"
    message = (
        "De brieven kunnen niet worden gemaakt: het logo van de gemeente (LETTERS_LOGO_PATH) is niet te "
        "lezen. Er is niets veranderd. Vraag de systeembeheerder."
    )
    message_en = (
        "The letters cannot be made: the municipality's logo (LETTERS_LOGO_PATH) cannot be read. Nothing "
        "was changed. Ask the system administrator."
    )


class PeriodChanged(Conflict):
    slug = "period-changed"
    message = "De periode is net veranderd. Er is niets veranderd. Probeer het opnieuw."
    message_en = "The period changed just now. Nothing was changed. Try again."


Problem = tuple[str, str]
"""One bad line: (Dutch, English)."""


class ReprintRefused(InvalidInput):
    """The list cannot be reprinted; `problems` names every bad line. Nothing changed."""

    slug = "reprint-refused"
    message = "Er is niets veranderd. Verbeter deze regels en probeer het opnieuw:"
    message_en = "Nothing was changed. Correct these lines and try again:"

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__()
        self.problems = problems


class ReprintChanged(Conflict):
    slug = "reprint-changed"
    message = (
        "Intussen is een voucher op deze lijst al vervangen. Er is niets veranderd. Kijk de lijst na en "
        "bevestig opnieuw."
    )
    message_en = (
        "Meanwhile a voucher on this list has been replaced already. Nothing was changed. Check the list "
        "and confirm again."
    )


# --- Files in the print folder -------------------------------------------------------------------------


def print_stem(period_name: str) -> str:
    """`Voorjaar 2027` → `voorjaar-2027-20270301-091500` (Amsterdam time)."""
    return f"{_slug(period_name) or 'periode'}-{utcnow().astimezone(AMSTERDAM):%Y%m%d-%H%M%S}"


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:40].strip("-")


def address_slug(household: Any) -> str:
    """`7601cd-3a-2` for the file name of one household's letter."""
    number = f"{household.huisnummer}{household.huisletter}"
    return _slug(f"{household.postcode} {number} {household.toevoeging}")


def print_paths(directory: Path, stem: str, endings: Sequence[str]) -> list[Path]:
    """`directory/stem + ending` for each ending, with -2, -3, … after the stem until none of them exists."""
    candidate, number = stem, 2
    while any((directory / f"{candidate}{ending}").exists() for ending in endings):
        candidate, number = f"{stem}-{number}", number + 1
    return [directory / f"{candidate}{ending}" for ending in endings]


@contextmanager
def print_outputs(
    settings: Settings, period: PeriodFacts, *, expected: int, reprint: bool = False, **paths: Path
) -> Iterator[VoucherOutputs]:
    """The files (codes, letters, mailmerge) in the print folder, started for `period`; whatever is not
    committed when the block ends is removed. PrintDirUnavailable or LettersUnavailable before anything
    changed when they cannot be made."""
    directory: Path = settings.print_dir
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        outputs = VoucherOutputs(letterhead=letterhead(settings), **paths)
    except (OSError, OutputFileError) as exc:
        log.error("print_dir.unwritable", directory=str(directory), reason=_reason(exc))
        raise PrintDirUnavailable() from exc
    with outputs:
        try:
            outputs.start(period, expected=expected, reprint=reprint)
        except LetterSetupError as exc:
            log.error("letters.logo_unreadable", logo=str(settings.letters_logo_path))
            raise LettersUnavailable() from exc
        yield outputs


def _reason(exc: BaseException) -> str:
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    return getattr(cause, "strerror", None) or type(exc).__name__


def write_with_files(db: Database, work: Callable[[Session], T]) -> T:
    """`work` in one write transaction that writes codes into files: never retried (a second attempt would
    write every code twice); a file that cannot be written rolls it back (PrintDirUnavailable)."""
    try:
        return db.run_write(work, attempts=1)
    except OutputFileError as exc:
        log.error("print_dir.write_failed", reason=_reason(exc))
        raise PrintDirUnavailable() from exc


def commit_outputs(outputs: VoucherOutputs) -> tuple[list[list[Any]], bool]:
    """Name the files after the commit; returns [kind, file name, size in bytes] for each file, and
    whether a file had to keep its temporary name (then its name here is that one)."""
    kept = False
    try:
        outputs.commit()
    except FileKept as exc:  # the vouchers exist now; the file is there under its hidden name
        log.error("print_dir.file_kept", reason=_reason(exc))
        kept = True
    files: list[list[Any]] = []
    atomic: list[tuple[str, AtomicFile | None]] = [  # the letters first: what most offices print
        ("letters", outputs.letters.file if outputs.letters else None),
        ("mailmerge", outputs.mailmerge.file if outputs.mailmerge else None),
        ("codes", outputs.codes),
    ]
    for kind, file in atomic:
        if file is None:
            continue
        path = file.tmp if file.tmp.exists() else file.path
        if path.exists():
            files.append([kind, path.name, path.stat().st_size])
    return files, kept


# --- A list of addresses -------------------------------------------------------------------------------

_LINE = re.compile(
    r"(?P<postcode>[0-9]{4}\s*[A-Za-z]{2})\s+(?P<number>[0-9]+)(?P<letter>[A-Za-z])?"
    r"(?:(?:\s*-\s*|\s+)(?P<addition>[A-Za-z0-9]+))?"
)


def parse_lines(text: str) -> tuple[list[tuple[int, Address]], list[tuple[int, str, str]]]:
    """The addresses in the text box with their line numbers (empty lines skipped), and the bad lines
    (line number, Dutch, English)."""
    addresses: list[tuple[int, Address]] = []
    problems: list[tuple[int, str, str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.fullmatch(line.strip())
        if match is None:
            problems.append(
                (
                    number,
                    f"Regel {number}: schrijf het adres als postcode, huisnummer met huisletter en "
                    "toevoeging, zoals 7601 CD 3A 2.",
                    f"Line {number}: write the address as postcode, house number with letter and addition, "
                    "such as 7601 CD 3A 2.",
                )
            )
            continue
        try:
            address = parse_address(
                match["postcode"], match["number"], match["letter"] or "", match["addition"] or ""
            )
        except AddressInvalid as exc:
            problems.append((number, f"Regel {number}: {exc.detail}", f"Line {number}: {exc.detail_en}"))
            continue
        addresses.append((number, address))
    return addresses, problems


@dataclass(frozen=True)
class ReprintItem:
    line: int
    address: Address
    household: Row[Any]
    balance_cents: int
    voucher_id: int


@dataclass(frozen=True)
class ReprintPlan:
    period: PeriodFacts
    period_id: int
    items: list[ReprintItem]
    """In mail-house order."""

    @property
    def voucher_ids(self) -> str:
        """The live vouchers now, for the confirm step: a voucher replaced meanwhile changes it."""
        return ",".join(str(item.voucher_id) for item in self.items)


def plan_reprint(
    session: Session, period_name: str, text: str, *, today: date, for_update: bool = False
) -> ReprintPlan:
    """What reprinting the addresses in `text` would do; ReprintRefused naming every bad line."""
    if not period_name:
        raise ReprintRefused([("Kies een periode.", "Choose a period.")])
    period = repository.period_by_name(session, period_name, for_update=for_update)
    if period is None:
        raise ReprintRefused([(f"Periode {period_name} bestaat niet.", f"There is no period {period_name}.")])
    if period.status != PeriodStatus.open or period.ends_on < today:
        raise ReprintRefused(
            [
                (
                    f"Periode {period.name} is voorbij. De vouchers kunnen niet meer worden vervangen.",
                    f"Period {period.name} has ended. Its vouchers can no longer be replaced.",
                )
            ]
        )
    if len(text) > MAX_TEXT:
        raise ReprintRefused([_too_many()])
    lines, problems = parse_lines(text)
    if not lines and not problems:
        raise ReprintRefused([("Vul minstens één adres in.", "Enter at least one address.")])
    if len(lines) + len(problems) > MAX_ADDRESSES:
        raise ReprintRefused([_too_many()])

    keys = [_key(address) for _, address in lines]
    households = repository.households_at(session, keys)
    vouchers = repository.current_vouchers(session, period.id, [row.id for row in households.values()])
    seen: dict[repository.AddressKey, int] = {}
    items: list[ReprintItem] = []
    for (number, address), key in zip(lines, keys, strict=True):
        where = describe(address)
        household = households.get(key)
        first = seen.setdefault(key, number)
        if first != number:
            nl, en = f"{where} staat ook op regel {first}.", f"{where} is also on line {first}."
        elif household is None:
            nl, en = f"op {where} is geen huishouden bekend.", f"there is no household at {where}."
        elif household.id not in vouchers:
            nl = f"het huishouden op {where} heeft geen voucher in {period.name}."
            en = f"the household at {where} has no voucher in {period.name}."
        else:
            voucher = vouchers[household.id]
            items.append(ReprintItem(number, address, household, voucher.balance_cents, voucher.id))
            continue
        problems.append((number, f"Regel {number}: {nl}", f"Line {number}: {en}"))
    if problems:
        raise ReprintRefused([(nl, en) for _, nl, en in sorted(problems)])
    items.sort(key=lambda item: _key(item.address))  # mail-house order, as the letters come out
    return ReprintPlan(PeriodFacts(period.name, period.ends_on, period.value_cents), period.id, items)


def _key(address: Address) -> repository.AddressKey:
    return (address.postcode, address.huisnummer, address.huisletter, address.toevoeging)


def _too_many() -> Problem:
    return (
        f"Hoogstens {MAX_ADDRESSES} adressen per keer. Verdeel de lijst.",
        f"At most {MAX_ADDRESSES} addresses at a time. Split the list.",
    )


# --- The pages -----------------------------------------------------------------------------------------


def _open_periods(request: Request) -> list[repository.PeriodRow]:
    day = today()
    with request.app.state.db.read() as session:
        periods = repository.period_overview(session)
    return [p for p in periods if p.status == PeriodStatus.open and p.ends_on >= day]


def _form(request: Request, values: dict[str, str], *, error: AppError | None = None) -> Response:
    english = locale_of(request) == "en"
    problems = getattr(error, "problems", [])
    context = {
        "values": values,
        "periods": _open_periods(request),
        "error": error_message(request, error) if error else None,
        "problems": [en if english else nl for nl, en in problems],
        "max_addresses": MAX_ADDRESSES,
    }
    return render(
        request,
        "staff/vouchers/reprint_form.html",
        context,
        status_code=error.status if error else 200,
        headers=NO_STORE,
    )


def _confirm(request: Request, plan: ReprintPlan, text: str, *, error: AppError | None = None) -> Response:
    context = {
        "plan": plan,
        "text": text,
        "error": error_message(request, error) if error else None,
    }
    return render(
        request,
        "staff/vouchers/reprint_confirm.html",
        context,
        status_code=error.status if error else 200,
        headers=NO_STORE,
    )


@router.get("/staff/vouchers/reprint")
def reprint_form(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    periods = _open_periods(request)
    return _form(request, {"period": periods[0].name if periods else "", "addresses": ""})


async def _values(request: Request) -> dict[str, str]:
    form = await read_form(request, max_bytes=MAX_FORM_BYTES, max_fields=10)
    return {
        "period": field(form, "period", 81),
        "addresses": field(form, "addresses", MAX_TEXT + 1),
        "step": field(form, "step", 10),
        "vouchers": field(form, "vouchers", 20 * MAX_ADDRESSES),
    }


@router.post("/staff/vouchers/reprint")
async def reprint_check(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    values = await _values(request)
    return await run_in_threadpool(_check, request, values)


def _check(request: Request, values: dict[str, str]) -> Response:
    if values["step"] == "edit":
        return _form(request, values)
    try:
        with request.app.state.db.read() as session:
            plan = plan_reprint(session, values["period"], values["addresses"], today=today())
    except AppError as error:
        return _form(request, values, error=error)
    return _confirm(request, plan, values["addresses"])


@router.post("/staff/vouchers/reprint/confirm")
async def reprint_confirm(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    values = await _values(request)
    return await run_in_threadpool(_reprint, request, staff, values)


def _reprint(request: Request, staff: StaffContext, values: dict[str, str]) -> Response:
    db: Database = request.app.state.db
    day = today()
    period_name, text, expected = values["period"], values["addresses"], values["vouchers"]
    try:  # checked before any file is made, so a refused list leaves nothing behind
        with db.read() as session:
            plan = plan_reprint(session, period_name, text, today=day)
    except AppError as error:
        return _form(request, values, error=error)
    if plan.voucher_ids != expected:
        return _confirm(request, plan, text, error=ReprintChanged())

    settings = request.app.state.settings
    [path] = print_paths(settings.print_dir, print_stem(plan.period.name), ("-herdruk-brieven.pdf",))
    try:
        with print_outputs(
            settings, plan.period, expected=len(plan.items), reprint=True, letters=path
        ) as outputs:

            def work(session: Session) -> int:
                fresh = plan_reprint(session, period_name, text, today=day, for_update=True)
                if fresh.voucher_ids != expected or fresh.period != plan.period:
                    raise ReprintChanged()
                lines = [AddressLine(f"regel {item.line}", item.address) for item in fresh.items]
                try:
                    count = reprint(
                        session, lines, period=fresh.period, actor=staff.actor, today=day, sink=outputs.write
                    )
                except AddressListError as exc:  # checked above in this transaction: not expected
                    raise ReprintChanged() from exc
                record(
                    session,
                    actor=staff.actor,
                    action="vouchers.letters_reprinted",
                    subject_type="period",
                    subject_id=fresh.period_id,
                    after={"file": path.name, "count": count},
                )
                outputs.finish()
                return count

            count = write_with_files(db, work)
            files, kept = commit_outputs(outputs)
    except ReprintChanged as error:
        try:
            with db.read() as session:
                plan = plan_reprint(session, period_name, text, today=day)
        except AppError as refused:
            return _form(request, values, error=refused)
        return _confirm(request, plan, text, error=error)
    except AppError as error:
        return _form(request, values, error=error)
    response = RedirectResponse("/staff/vouchers", status_code=303, headers=NO_STORE)
    set_flash(
        request,
        response,
        notice="letters_reprinted",
        period=plan.period.name,
        count=count,
        files=files,
        kept=kept,
    )
    return response
