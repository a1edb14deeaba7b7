"""Staff members for administrators: list, invite a new one, edit name/role/wijken/active, reset the
second factor, unlock, and send the invitation again. Every change is recorded in the audit log by the
staff service; invitation mails go out after the response, from the outbox.

A director gets 403 on every route here (also on a forged form post with a valid CSRF token): the
dependency refuses before the form is read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.errors import AppError
from app.mail.dispatch import schedule_send
from app.models.base import utcnow
from app.staff import service
from app.staff.deps import StaffContext, require_admin
from app.templating import render
from app.web.forms import error_message, field, read_form
from app.web.session import clear_flash, read_flash, set_flash

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
MAX_WIJKEN = 200


@dataclass(frozen=True)
class MemberForm:
    """What was typed into the form, kept to show again after an error."""

    email: str = ""
    name: str = ""
    role: str = "director"
    wijken: tuple[str, ...] = ()
    gemeente_wide: bool = False
    active: bool = True

    def as_input(self) -> service.StaffInput:
        return service.StaffInput(self.email, self.name, self.role, self.wijken, self.gemeente_wide)


def _read(form: FormData) -> MemberForm:
    wijken = [value for value in form.getlist("wijken") if isinstance(value, str)]
    return MemberForm(
        email=field(form, "email", 255),
        name=field(form, "name", 121),
        role=field(form, "role", 20),
        wijken=tuple(code.strip()[:11] for code in wijken[:MAX_WIJKEN]),
        gemeente_wide=field(form, "gemeente_wide", 5) == "1",
        active=field(form, "active", 5) == "1",
    )


def _with_notice(request: Request, target: str, notice: str, *, send: bool = False) -> Response:
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    set_flash(request, response, notice=notice)
    if send:
        response.background = schedule_send(request)
    return response


@router.get("/staff/members")
def members(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    with request.app.state.db.read() as session:
        rows = service.list_staff(session)
    flash = read_flash(request)
    response = render(
        request,
        "staff/members/list.html",
        {"rows": rows, "notice": flash.get("notice"), "now": utcnow()},
        headers=NO_STORE,
    )
    clear_flash(request, response)
    return response


def _form_page(
    request: Request,
    values: MemberForm,
    *,
    member: Any = None,
    error: AppError | None = None,
    notice: str | None = None,
) -> Response:
    with request.app.state.db.read() as session:
        wijken = service.wijk_choices(session)
    context = {
        "values": values,
        "member": member,
        "wijken": wijken,
        "error": error_message(request, error) if error is not None else None,
        "notice": notice,
        "now": utcnow(),
    }
    return render(
        request,
        "staff/members/form.html",
        context,
        status_code=error.status if error is not None else 200,
        headers=NO_STORE,
    )


@router.get("/staff/members/new")
def new_member_form(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    return _form_page(request, MemberForm())


@router.post("/staff/members/new")
async def new_member(request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    values = _read(await read_form(request, max_fields=MAX_WIJKEN + 10))
    settings = request.app.state.settings

    def create(session: Session) -> None:
        member = service.create_staff(session, values.as_input(), password=None, actor=staff.actor)
        service.send_invite(session, settings, member.id, actor=staff.actor)

    try:
        await run_in_threadpool(request.app.state.db.run_write, create)
    except AppError as error:
        return await run_in_threadpool(_form_page, request, values, error=error)
    return _with_notice(request, "/staff/members", "invited", send=True)


def _values_of(member: Any, codes: list[str]) -> MemberForm:
    return MemberForm(
        email=member.email,
        name=member.name,
        role=member.role,
        wijken=tuple(codes),
        gemeente_wide=member.gemeente_wide,
        active=member.active,
    )


def _member(request: Request, staff_id: int) -> tuple[Any, list[str]]:
    with request.app.state.db.read() as session:
        return service.staff_with_wijken(session, staff_id)


@router.get("/staff/members/{staff_id}/edit")
def edit_member_form(
    staff_id: int, request: Request, staff: StaffContext = Depends(require_admin)
) -> Response:
    member, codes = _member(request, staff_id)
    flash = read_flash(request)
    response = _form_page(request, _values_of(member, codes), member=member, notice=flash.get("notice"))
    clear_flash(request, response)
    return response


@router.post("/staff/members/{staff_id}/edit")
async def edit_member(
    staff_id: int, request: Request, staff: StaffContext = Depends(require_admin)
) -> Response:
    values = _read(await read_form(request, max_fields=MAX_WIJKEN + 10))

    def update(session: Session) -> None:
        service.update_staff(session, staff_id, values.as_input(), active=values.active, actor=staff.actor)

    return await run_in_threadpool(_act, request, staff_id, update, "saved", values)


def _act(
    request: Request,
    staff_id: int,
    work: Callable[[Session], object],
    notice: str,
    values: MemberForm | None = None,
    *,
    send: bool = False,
) -> Response:
    """Run one change; on a refusal show the edit page again with the message (and what was typed)."""
    try:
        request.app.state.db.run_write(work)
    except AppError as error:
        if error.status == 404:
            raise
        member, codes = _member(request, staff_id)
        shown = values if values is not None else _values_of(member, codes)
        if values is not None:  # the address cannot be changed: show the stored one
            shown = MemberForm(member.email, *(getattr(values, name) for name in _EDITABLE))
        return _form_page(request, shown, member=member, error=error)
    return _with_notice(request, f"/staff/members/{staff_id}/edit", notice, send=send)


_EDITABLE = ("name", "role", "wijken", "gemeente_wide", "active")


@router.post("/staff/members/{staff_id}/reset-2fa")
async def reset_two_factor(
    staff_id: int, request: Request, staff: StaffContext = Depends(require_admin)
) -> Response:
    await read_form(request)

    def reset(session: Session) -> None:
        service.reset_two_factor(session, staff_id, actor=staff.actor)

    return await run_in_threadpool(_act, request, staff_id, reset, "two_factor_reset")


@router.post("/staff/members/{staff_id}/unlock")
async def unlock(staff_id: int, request: Request, staff: StaffContext = Depends(require_admin)) -> Response:
    await read_form(request)

    def do_unlock(session: Session) -> None:
        service.unlock(session, staff_id, actor=staff.actor)

    return await run_in_threadpool(_act, request, staff_id, do_unlock, "unlocked")


@router.post("/staff/members/{staff_id}/invite")
async def invite_again(
    staff_id: int, request: Request, staff: StaffContext = Depends(require_admin)
) -> Response:
    await read_form(request)
    settings = request.app.state.settings

    def invite(session: Session) -> None:
        service.send_invite(session, settings, staff_id, actor=staff.actor)

    return await run_in_threadpool(_act, request, staff_id, invite, "invited", send=True)
