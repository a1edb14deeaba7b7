"""Small helpers for HTML form routes: reading a posted form safely and wording errors."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request

from app.errors import AppError, InvalidInput
from app.web.csrf import FIELD, CsrfFailed, verify_csrf
from app.web.session import locale_of

MAX_FORM_BYTES = 16_384


class FormTooLarge(InvalidInput):
    status = 413
    slug = "form-too-large"
    title = "Formulier te groot"
    title_en = "Form too large"
    message = "Dit formulier bevat te veel tekst."
    message_en = "This form contains too much text."


class FormHasNul(InvalidInput):
    slug = "form-unreadable"
    message = "Dit formulier bevat een onzichtbaar teken dat niet kan worden bewaard. Typ de tekst opnieuw."
    message_en = "This form contains an invisible character that cannot be saved. Please type the text again."


def _refuse_nul(form: FormData) -> None:
    """PostgreSQL cannot store NUL in text; no browser sends one in a field, so refuse the form (not a 500)."""
    if any(isinstance(value, str) and "\x00" in value for _, value in form.multi_items()):
        raise FormHasNul()


async def read_form(request: Request, *, max_bytes: int = MAX_FORM_BYTES, max_fields: int = 20) -> FormData:
    """The posted form after the CSRF check; refuses bodies larger than the form ever needs."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise FormTooLarge()
    form = await request.form(max_files=0, max_fields=max_fields, max_part_size=max_bytes)
    verify_csrf(request, _text(form, FIELD))
    _refuse_nul(form)
    return form


async def read_upload_form(request: Request, *, max_file_bytes: int) -> FormData:
    """A posted form with one file (multipart), after the CSRF check; bodies past the limit are refused."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_file_bytes + MAX_FORM_BYTES:
        raise FormTooLarge(
            f"Dit bestand is te groot. Een bestand mag hoogstens {max_file_bytes // (1024 * 1024)} MB zijn.",
            f"This file is too large. A file may be at most {max_file_bytes // (1024 * 1024)} MB.",
        )
    form = await request.form(max_files=1, max_fields=10, max_part_size=max_file_bytes + 1)
    try:
        verify_csrf(request, _text(form, FIELD))
        _refuse_nul(form)
    except (CsrfFailed, FormHasNul):
        await form.close()
        raise
    return form


async def uploaded_bytes(form: FormData, name: str, max_bytes: int) -> bytes:
    """The content of an uploaded file field, read up to `max_bytes` + 1 (so "too large" can be told)."""
    upload = form.get(name)
    if upload is None or isinstance(upload, str):
        return b""
    return await upload.read(max_bytes + 1)


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def field(form: FormData, name: str, max_length: int = 200) -> str:
    """A text field, stripped and cut to a sane length (a missing field is empty)."""
    return _text(form, name).strip()[:max_length]


def error_message(request: Request, error: AppError) -> str:
    return error.detail_en if locale_of(request) == "en" else error.detail


def safe_next(value: str, default: str) -> str:
    """Only a path on this site (no scheme, no host, no backslashes) may be a redirect target."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value and len(value) <= 200:
        return value
    return default
