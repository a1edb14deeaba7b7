"""Back-office news: the list of items in the staff member's scope, writing and scheduling posts with an
image, and hiding or restoring any item (also initiators' updates and automatic items).

Every item fetched by id goes through the scope (404 outside it, also for forged form posts); every change
is recorded in the audit log by `app.news.service`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, QueryParams

from app.errors import AppError, NotFound
from app.initiatives.uploads import MAX_UPLOAD_BYTES
from app.kit.clock import AMSTERDAM
from app.models import NewsItem, NewsKind
from app.models.base import utcnow
from app.news import repository, service
from app.news.repository import StaffNewsFilter
from app.news.service import NewsInvalid, PostInput
from app.staff.deps import StaffContext, require_staff
from app.staff.scope import areas_in_scope
from app.templating import render
from app.web.forms import error_message, field, read_form, read_upload_form, safe_next, uploaded_bytes
from app.web.session import clear_flash, read_flash, set_flash

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
STATES = ("published", "scheduled", "hidden")
MAX_ID = 2**62


def _id_or_404(value: int) -> int:
    if not 0 < value < MAX_ID:
        raise NotFound(
            "Dit bestaat niet of valt buiten uw wijken.", "This does not exist or is outside your wijken."
        )
    return value


def _number(params: QueryParams, name: str) -> int | None:
    text = params.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) < MAX_ID:
        raise NewsInvalid("Dit filter klopt niet.", "This filter is not valid.")
    return int(text)


def _parse_filter(params: QueryParams) -> tuple[StaffNewsFilter, int]:
    kind = params.get("kind", "").strip()
    state = params.get("state", "").strip()
    if kind and kind not in {k.value for k in NewsKind}:
        raise NewsInvalid("Kies een soort bericht uit de lijst.", "Choose a kind of item from the list.")
    if state and state not in STATES:
        raise NewsInvalid("Kies een stand uit de lijst.", "Choose a state from the list.")
    page = _number(params, "page") or 1
    if page > 10_000:
        raise NewsInvalid("Dit filter klopt niet.", "This filter is not valid.")
    found = StaffNewsFilter(
        kind=kind, area_id=_number(params, "area"), state=state, initiative_id=_number(params, "initiative")
    )
    return found, page


def _inputs(found: StaffNewsFilter) -> dict[str, str]:
    return {
        "kind": found.kind,
        "area": str(found.area_id or ""),
        "state": found.state,
        "initiative": str(found.initiative_id or ""),
    }


def _link(values: dict[str, str]) -> str:
    query = urlencode({key: value for key, value in values.items() if value})
    return "/staff/news" + (f"?{query}" if query else "")


@router.get("/staff/news")
def news_list(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    error: AppError | None = None
    try:
        found, page = _parse_filter(request.query_params)
    except AppError as exc:
        error, found, page = exc, StaffNewsFilter(), 1
    now = utcnow()
    with request.app.state.db.read() as session:
        rows, has_next = repository.staff_page(session, staff.scope, found, now=now, page=page)
        areas = areas_in_scope(session, staff.scope)
    inputs = _inputs(found)
    flash = read_flash(request)
    context = {
        "rows": [] if error else rows,
        "areas": areas,
        "kinds": [k.value for k in NewsKind],
        "states": STATES,
        "inputs": inputs,
        "page": page,
        "here": _link({**inputs, "page": str(page) if page > 1 else ""}),
        "previous": _link({**inputs, "page": str(page - 1) if page > 2 else ""}) if page > 1 else "",
        "next": _link({**inputs, "page": str(page + 1)}) if has_next else "",
        "now": now,
        "error": error_message(request, error) if error else None,
        "notice": flash.get("notice"),
    }
    response = render(
        request,
        "staff/news/list.html",
        context,
        status_code=error.status if error else 200,
        headers=NO_STORE,
    )
    clear_flash(request, response)
    return response


def _values_of(item: NewsItem, now: Any) -> PostInput:
    scheduled = item.published_at > now
    local = item.published_at.astimezone(AMSTERDAM)
    return PostInput(
        title=item.title,
        body=item.body,
        area_id=str(item.area_id),
        publish="later" if scheduled else "now",
        publish_date=local.date().isoformat() if scheduled else "",
        publish_time=local.strftime("%H:%M") if scheduled else "",
        image_alt=item.image_alt,
    )


def _form_page(
    request: Request,
    staff: StaffContext,
    values: PostInput,
    *,
    item: NewsItem | None = None,
    error: AppError | None = None,
) -> Response:
    with request.app.state.db.read() as session:
        areas = areas_in_scope(session, staff.scope)
    context = {
        "values": values,
        "item": item,
        "areas": areas,
        "max_title": service.MAX_TITLE,
        "max_body": service.MAX_BODY,
        "max_alt": service.MAX_ALT,
        "now": utcnow(),
        "error": error_message(request, error) if error is not None else None,
    }
    return render(
        request,
        "staff/news/form.html",
        context,
        status_code=error.status if error is not None else 200,
        headers=NO_STORE,
    )


async def _read_post(request: Request) -> PostInput:
    form = await read_upload_form(request, max_file_bytes=MAX_UPLOAD_BYTES)
    try:
        image = await uploaded_bytes(form, "image", MAX_UPLOAD_BYTES)
        return _post_input(form, image)
    finally:
        await form.close()


def _post_input(form: FormData, image: bytes) -> PostInput:
    return PostInput(
        title=field(form, "title", service.MAX_TITLE + 1),
        body=field(form, "body", service.MAX_BODY + 1),
        area_id=field(form, "area", 12),
        publish=field(form, "publish", 10),
        publish_date=field(form, "publish_date", 12),
        publish_time=field(form, "publish_time", 8),
        image=image,
        image_alt=field(form, "image_alt", service.MAX_ALT + 1),
        remove_image=field(form, "remove_image", 5) == "1",
    )


def _done(request: Request, target: str, notice: str) -> Response:
    response = RedirectResponse(target, status_code=303, headers=NO_STORE)
    set_flash(request, response, notice=notice)
    return response


@router.get("/staff/news/new")
def new_post_form(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    return _form_page(request, staff, PostInput())


@router.post("/staff/news/new")
async def new_post(request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    try:
        values = await _read_post(request)
    except AppError as error:
        if error.status == 403:
            raise
        return await run_in_threadpool(_form_page, request, staff, PostInput(), error=error)
    media = request.app.state.settings.media_dir

    def create(session: Session) -> int:
        return service.create_post(
            session,
            values,
            scope=staff.scope,
            actor=staff.actor,
            staff_id=staff.member.id,
            author_name=staff.member.name,
            media_dir=media,
        )

    try:
        await run_in_threadpool(request.app.state.db.run_write, create, attempts=1)
    except AppError as error:
        return await run_in_threadpool(_form_page, request, staff, _without_image(values), error=error)
    return _done(request, "/staff/news", "created")


def _without_image(values: PostInput) -> PostInput:
    return PostInput(**{**values.__dict__, "image": b""})


def _item(request: Request, staff: StaffContext, news_id: int) -> NewsItem:
    with request.app.state.db.read() as session:
        return service.item_in_scope(session, _id_or_404(news_id), staff.scope)


@router.get("/staff/news/{news_id}/edit")
def edit_post_form(news_id: int, request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    item = _item(request, staff, news_id)
    if item.kind != NewsKind.post:
        raise service.NewsNotEditable()
    return _form_page(request, staff, _values_of(item, utcnow()), item=item)


@router.post("/staff/news/{news_id}/edit")
async def edit_post(news_id: int, request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    _id_or_404(news_id)
    try:
        values = await _read_post(request)
    except AppError as error:
        if error.status == 403:
            raise
        item = await run_in_threadpool(_item, request, staff, news_id)
        return await run_in_threadpool(
            _form_page, request, staff, _values_of(item, utcnow()), item=item, error=error
        )
    media = request.app.state.settings.media_dir

    def save(session: Session) -> None:
        service.update_post(session, news_id, values, scope=staff.scope, actor=staff.actor, media_dir=media)

    try:
        await run_in_threadpool(request.app.state.db.run_write, save, attempts=1)
    except AppError as error:
        if error.status == 404:
            raise
        item = await run_in_threadpool(_item, request, staff, news_id)
        return await run_in_threadpool(
            _form_page, request, staff, _without_image(values), item=item, error=error
        )
    return _done(request, "/staff/news", "saved")


async def _toggle(request: Request, staff: StaffContext, news_id: int, *, hidden: bool) -> Response:
    _id_or_404(news_id)
    form = await read_form(request)
    target = safe_next(field(form, "next", 200), "/staff/news")
    if not target.startswith("/staff/news"):
        target = "/staff/news"

    def work(session: Session) -> bool:
        return service.set_hidden(session, news_id, hidden=hidden, scope=staff.scope, actor=staff.actor)

    did = await run_in_threadpool(request.app.state.db.run_write, work)
    notice = ("hidden" if hidden else "restored") if did else "unchanged"
    return _done(request, target, notice)


@router.post("/staff/news/{news_id}/hide")
async def hide(news_id: int, request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    return await _toggle(request, staff, news_id, hidden=True)


@router.post("/staff/news/{news_id}/restore")
async def restore(news_id: int, request: Request, staff: StaffContext = Depends(require_staff)) -> Response:
    return await _toggle(request, staff, news_id, hidden=False)
