"""Small helpers for HTML form routes: reading a posted form safely and wording errors."""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request

from app.errors import AppError, InvalidInput
from app.web.csrf import FIELD, verify_csrf
from app.web.session import locale_of

MAX_FORM_BYTES = 16_384


class FormTooLarge(InvalidInput):
    status = 413
    slug = "form-too-large"
    title = "Formulier te groot"
    title_en = "Form too large"
    message = "Dit formulier bevat te veel tekst."
    message_en = "This form contains too much text."


async def read_form(request: Request) -> FormData:
    """The posted form after the CSRF check; refuses bodies larger than a page form ever needs."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise FormTooLarge()
    form = await request.form(max_files=0, max_fields=20, max_part_size=MAX_FORM_BYTES)
    verify_csrf(request, _text(form, FIELD))
    return form


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
