"""The initiator's pages (`/my/...`): write and change a draft, submit it, withdraw it, manage photos."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from app.accounts.deps import require_account
from app.areas import repository as areas
from app.errors import AppError
from app.initiatives import editor, repository
from app.initiatives.categories import CATEGORIES
from app.initiatives.errors import InitiativeInvalid
from app.initiatives.service import NewInitiative
from app.initiatives.uploads import MAX_PHOTOS, MAX_UPLOAD_BYTES
from app.kit.clock import today
from app.kit.money import parse_euros
from app.mail.dispatch import schedule_send
from app.models import Account, Area, Initiative, InitiativeTransition, Organiser
from app.templating import render
from app.web.forms import error_message, field, read_form, read_upload_form, uploaded_bytes

router = APIRouter(include_in_schema=False)
BUDGET_ROWS = 8
ORGANISER_ROWS = editor.MAX_ORGANISERS
NO_STORE = {"Cache-Control": "no-store"}


def _euros(text: str, what_nl: str, what_en: str) -> int:
    try:
        return parse_euros(text)
    except ValueError:
        raise InitiativeInvalid(
            f"{what_nl}: vul een bedrag in euro in, zoals 250 of 250,50.",
            f"{what_en}: enter an amount in euros, such as 250 or 250.50.",
        ) from None


def parse_initiative_form(form: FormData) -> tuple[NewInitiative, list[tuple[str, str]], dict[str, Any]]:
    """The initiative and organisers from the form, and the raw values to show the form again."""
    raw: dict[str, Any] = {
        name: field(form, name, limit)
        for name, limit in (
            ("title", 120),
            ("summary", 300),
            ("description", 20_000),
            ("category", 40),
            ("area", 10),
            ("target", 20),
            ("deadline", 10),
            ("initiator_name", 120),
        )
    }
    raw["lines"] = [
        (field(form, f"line_text_{i}", 200), field(form, f"line_amount_{i}", 20)) for i in range(BUDGET_ROWS)
    ]
    raw["organisers"] = [
        (field(form, f"organiser_name_{i}", 120), field(form, f"organiser_email_{i}", 254))
        for i in range(ORGANISER_ROWS)
    ]
    target = _euros(raw["target"], "Streefbedrag", "Target")
    lines = [
        (text, _euros(amount, f"Begroting '{text}'", f"Budget '{text}'"))
        for text, amount in raw["lines"]
        if text or amount
    ]
    try:
        deadline = date.fromisoformat(raw["deadline"]) if raw["deadline"] else None
    except ValueError:
        raise InitiativeInvalid(
            "Vul de einddatum in als dag-maand-jaar.", "Enter the deadline as a date."
        ) from None
    if raw["category"] not in CATEGORIES:
        raise InitiativeInvalid("Kies een onderwerp.", "Choose a subject.")
    data = NewInitiative(
        title=raw["title"],
        area_code=raw["area"],
        target_cents=target,
        deadline=deadline,
        summary=raw["summary"],
        description=raw["description"],
        category=raw["category"],
        initiator_name=raw["initiator_name"],
        budget_lines=tuple(lines),
    )
    return data, raw["organisers"], raw


def _raw_from(session: Session, initiative: Initiative) -> dict[str, Any]:
    lines = [
        (line.description, _plain_euros(line.amount_cents))
        for line in repository.budget_lines(session, initiative.id)
    ]
    organisers = [
        (o.name, o.email)
        for o in session.scalars(
            select(Organiser).where(Organiser.initiative_id == initiative.id).order_by(Organiser.id)
        )
    ]
    area_code = session.scalar(select(Area.code).where(Area.id == initiative.area_id)) or ""
    return {
        "title": initiative.title,
        "summary": initiative.summary,
        "description": initiative.description,
        "category": initiative.category,
        "area": area_code,
        "target": _plain_euros(initiative.target_cents),
        "deadline": initiative.deadline.isoformat() if initiative.deadline else "",
        "initiator_name": initiative.initiator_name,
        "lines": lines + [("", "")] * (BUDGET_ROWS - len(lines)),
        "organisers": organisers + [("", "")] * (ORGANISER_ROWS - len(organisers)),
    }


def _plain_euros(cents: int) -> str:
    return f"{cents // 100},{cents % 100:02d}" if cents % 100 else str(cents // 100)


def _empty_raw(account: Account) -> dict[str, Any]:
    return {
        "title": "",
        "summary": "",
        "description": "",
        "category": "",
        "area": "",
        "target": "",
        "deadline": "",
        "initiator_name": account.display_name,
        "lines": [("", "")] * BUDGET_ROWS,
        "organisers": [("", "")] * ORGANISER_ROWS,
    }


def _form_page(
    request: Request,
    raw: dict[str, Any],
    *,
    initiative_id: int | None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    with request.app.state.db.read() as session:
        area_options = [(a, parent) for a, parent in areas.all_areas(session)]
    settings = request.app.state.settings
    context = {
        "raw": raw,
        "initiative_id": initiative_id,
        "error": error,
        "area_options": area_options,
        "categories": CATEGORIES,
        "min_target_cents": settings.initiative_min_target_cents,
        "max_target_cents": settings.initiative_max_target_cents,
        "min_organisers": settings.initiative_min_organisers,
    }
    return render(request, "initiator/form.html", context, status_code=status, headers=NO_STORE)


@router.get("/my", response_class=HTMLResponse)
def my_initiatives(request: Request, account: Account = Depends(require_account)) -> Response:
    with request.app.state.db.read() as session:
        mine = list(
            session.scalars(
                select(Initiative)
                .where(Initiative.owner_account_id == account.id)
                .order_by(Initiative.id.desc())
            )
        )
    return render(
        request, "initiator/index.html", {"initiatives": mine, "account": account}, headers=NO_STORE
    )


@router.get("/my/initiatives/new", response_class=HTMLResponse)
def new_form(request: Request, account: Account = Depends(require_account)) -> Response:
    return _form_page(request, _empty_raw(account), initiative_id=None)


@router.post("/my/initiatives/new", response_class=HTMLResponse)
async def create(request: Request, account: Account = Depends(require_account)) -> Response:
    form = await read_form_large(request)
    return await run_in_threadpool(_save, request, account, form, None)


@router.get("/my/initiatives/{initiative_id}/edit", response_class=HTMLResponse)
def edit_form(initiative_id: int, request: Request, account: Account = Depends(require_account)) -> Response:
    with request.app.state.db.read() as session:
        initiative = editor.owned(session, initiative_id, account.id)
        raw = _raw_from(session, initiative)
    return _form_page(request, raw, initiative_id=initiative_id)


@router.post("/my/initiatives/{initiative_id}/edit", response_class=HTMLResponse)
async def update(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    form = await read_form_large(request)
    return await run_in_threadpool(_save, request, account, form, initiative_id)


async def read_form_large(request: Request) -> FormData:
    """The initiative form: more fields and text than the small forms allow."""
    return await read_form(request, max_bytes=64_000, max_fields=60)


def _save(request: Request, account: Account, form: FormData, initiative_id: int | None) -> Response:
    settings = request.app.state.settings
    day = today()
    raw: dict[str, Any] = {}
    try:
        data, organisers, raw = parse_initiative_form(form)

        def work(session: Session) -> int:
            if initiative_id is None:
                return editor.create_draft(
                    session, data, organisers, account_id=account.id, settings=settings, today=day
                )
            editor.update_draft(
                session, initiative_id, data, organisers, account_id=account.id, settings=settings, today=day
            )
            return initiative_id

        saved = request.app.state.db.run_write(work)
    except AppError as error:
        if not raw:
            raw = {
                **_empty_raw(account),
                **{k: field(form, k, 20_000) for k in ("title", "summary", "description")},
            }
        if error.status == 404:
            raise
        return _form_page(
            request,
            raw,
            initiative_id=initiative_id,
            error=error_message(request, error),
            status=error.status,
        )
    return RedirectResponse(f"/my/initiatives/{saved}", status_code=303)


@router.get("/my/initiatives/{initiative_id}", response_class=HTMLResponse)
def overview(initiative_id: int, request: Request, account: Account = Depends(require_account)) -> Response:
    return overview_page(request, account, initiative_id)


def overview_page(
    request: Request,
    account: Account,
    initiative_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    paper_results: list[tuple[str, int, str]] | None = None,
) -> Response:
    """The initiator's page of one initiative, with what can be done in its current status."""
    with request.app.state.db.read() as session:
        initiative = editor.owned(session, initiative_id, account.id)
        context = {
            "initiative": initiative,
            "photos": repository.photos(session, initiative_id),
            "budget_lines": repository.budget_lines(session, initiative_id),
            "history": list(
                session.scalars(
                    select(InitiativeTransition)
                    .where(InitiativeTransition.initiative_id == initiative_id)
                    .order_by(InitiativeTransition.id.desc())
                )
            ),
            "editable": initiative.status in editor.EDITABLE,
            "withdrawable": initiative.status in editor.WITHDRAWABLE,
            "max_photos": MAX_PHOTOS,
            "error": error,
            "public_url": f"{request.app.state.settings.base_url}/initiatives/{initiative_id}",
            "paper_results": paper_results,
        }
    return render(request, "initiator/overview.html", context, status_code=status, headers=NO_STORE)


@router.post("/my/initiatives/{initiative_id}/submit", response_class=HTMLResponse)
async def submit(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    await read_form(request)
    settings = request.app.state.settings
    return await run_in_threadpool(
        _act,
        request,
        account,
        initiative_id,
        lambda s: editor.submit(s, initiative_id, account_id=account.id, settings=settings, today=today()),
    )


@router.post("/my/initiatives/{initiative_id}/withdraw", response_class=HTMLResponse)
async def withdraw(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    form = await read_form(request)
    reason = field(form, "reason", 500)
    return await run_in_threadpool(
        _act,
        request,
        account,
        initiative_id,
        lambda s: editor.withdraw(s, initiative_id, account_id=account.id, reason=reason, today=today()),
    )


@router.post("/my/initiatives/{initiative_id}/photos", response_class=HTMLResponse)
async def add_photo(
    initiative_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    try:
        form = await read_upload_form(request, max_file_bytes=MAX_UPLOAD_BYTES)
    except AppError as error:
        if error.status == 403:
            raise
        return overview_page(
            request, account, initiative_id, error=error_message(request, error), status=error.status
        )
    try:
        data = await uploaded_bytes(form, "photo", MAX_UPLOAD_BYTES)
        alt = field(form, "alt_text", 200)
    finally:
        await form.close()
    media = request.app.state.settings.media_dir
    return await run_in_threadpool(
        _act,
        request,
        account,
        initiative_id,
        lambda s: editor.add_photo(s, initiative_id, data, alt, account_id=account.id, media_dir=media),
    )


@router.post("/my/initiatives/{initiative_id}/photos/{photo_id}/delete", response_class=HTMLResponse)
async def remove_photo(
    initiative_id: int, photo_id: int, request: Request, account: Account = Depends(require_account)
) -> Response:
    await read_form(request)
    return await run_in_threadpool(
        _act,
        request,
        account,
        initiative_id,
        lambda s: editor.remove_photo(s, initiative_id, photo_id, account_id=account.id),
    )


def _act(request: Request, account: Account, initiative_id: int, work: Any) -> Response:
    try:
        request.app.state.db.run_write(work)
    except AppError as error:
        if error.status == 404:
            raise
        return overview_page(
            request, account, initiative_id, error=error_message(request, error), status=error.status
        )
    response = RedirectResponse(f"/my/initiatives/{initiative_id}", status_code=303)
    response.background = schedule_send(request)  # a status change may have queued a mail
    return response
