"""Domain errors and their one mapping to `application/problem+json` (RFC 9457).

Texts are plain Dutch first; English is chosen when the client prefers it (Accept-Language).
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, ClassVar

import structlog

if TYPE_CHECKING:  # FastAPI is imported where it is used, so the CLI starts without it (~0.4 s)
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

PROBLEM_JSON = "application/problem+json"

log = structlog.get_logger(__name__)


class AppError(Exception):
    """An expected failure the client can act on. Subclasses set status, slug and texts."""

    status: ClassVar[int] = 400
    slug: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Verzoek niet uitgevoerd"
    title_en: ClassVar[str] = "Request not carried out"
    message: ClassVar[str] = ""
    """The detail when none is given (Dutch); `message_en` likewise in English."""
    message_en: ClassVar[str] = ""

    def __init__(self, detail: str = "", detail_en: str = "", **extra: Any) -> None:
        self.detail = detail or self.message or self.title
        self.detail_en = detail_en or self.message_en or self.title_en
        super().__init__(self.detail)
        self.extra = extra
        self.headers: dict[str, str] = {}

    def problem(self, english: bool = False) -> dict[str, Any]:
        body = {
            "type": f"/problems/{self.slug}",
            "title": self.title_en if english else self.title,
            "status": self.status,
            "detail": self.detail_en if english else self.detail,
        }
        body.update(self.extra)
        return body


class NotFound(AppError):
    status = 404
    slug = "not-found"
    title = "Niet gevonden"
    title_en = "Not found"


class Conflict(AppError):
    status = 409
    slug = "conflict"
    title = "Kan nu niet"
    title_en = "Not possible now"


class Forbidden(AppError):
    status = 403
    slug = "forbidden"
    title = "Niet toegestaan"
    title_en = "Not allowed"


class InvalidInput(AppError):
    status = 422
    slug = "invalid-input"
    title = "Ongeldige invoer"
    title_en = "Invalid input"


class TooManyAttempts(AppError):
    status = 429
    slug = "too-many-attempts"
    title = "Te veel pogingen"
    title_en = "Too many attempts"

    def __init__(self, retry_after: int, detail: str = "", detail_en: str = "") -> None:
        super().__init__(
            detail
            or f"Er zijn te veel onjuiste codes geprobeerd. Probeer het over {retry_after} seconden opnieuw.",
            detail_en or f"Too many wrong codes were tried. Try again in {retry_after} seconds.",
        )
        self.headers = {"Retry-After": str(retry_after)}


class ServiceBusy(AppError):
    status = 503
    slug = "busy"
    title = "Even druk"
    title_en = "Busy"


class DatabaseUnavailable(AppError):
    """The database cannot be reached (restarting, failing over, the pool exhausted): try again soon."""

    status = 503
    slug = "unavailable"
    title = "Even niet bereikbaar"
    title_en = "Temporarily unavailable"
    message = "Buurtkas kan zijn gegevens nu even niet bereiken. Probeer het over een paar seconden opnieuw."
    message_en = "Buurtkas cannot reach its data right now. Try again in a few seconds."
    retry_after = 5

    def __init__(self) -> None:
        super().__init__()
        self.headers = {"Retry-After": str(self.retry_after)}


def is_database_unavailable(exc: BaseException) -> bool:
    """A lost or refused database connection, a server shutting down or out of resources, a failover, or no
    connection free in time; not a bug in a query (those stay server errors)."""
    from sqlalchemy.exc import DBAPIError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if type(exc.orig).__module__.startswith("sqlite3"):  # SQLite says "no such table" the same way
        return isinstance(exc, OperationalError) and str(exc.orig).lower().startswith(_SQLITE_UNAVAILABLE)
    code = getattr(exc.orig, "sqlstate", None)
    if code is None:  # psycopg's own: connection refused or lost before the server could answer
        return isinstance(exc, OperationalError)
    return code[:2] in _PG_UNAVAILABLE_CLASSES or code in _PG_UNAVAILABLE_CODES


_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")
# Connection exception, insufficient resources, operator intervention (shutdown, statement timeout),
# system error; and a read-only transaction: writes meeting a standby during a failover.
_PG_UNAVAILABLE_CLASSES = frozenset({"08", "53", "57", "58"})
_PG_UNAVAILABLE_CODES = frozenset({"25006", "55P03"})


def prefers_english(request: Request) -> bool:
    accept = request.headers.get("accept-language", "")
    first = accept.split(",")[0].strip().lower()
    return first.startswith("en")


def problem_response(request: Request, error: AppError) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse(
        error.problem(prefers_english(request)),
        status_code=error.status,
        media_type=PROBLEM_JSON,
        headers=error.headers,
    )


_HTTP_TITLES = {
    400: ("Verzoek niet begrepen", "Bad request"),
    404: ("Niet gevonden", "Not found"),
    405: ("Methode niet toegestaan", "Method not allowed"),
    413: ("Verzoek te groot", "Request too large"),
    415: ("Soort inhoud niet ondersteund", "Unsupported media type"),
}
# What a page visitor reads for an HTTP error the framework raised: (nl, en).
_HTML_DETAILS = {
    404: (
        "Deze pagina bestaat niet (meer). Kijk of het adres klopt, of ga naar de startpagina.",
        "This page does not exist (any more). Check the address, or go to the home page.",
    ),
    405: ("Dit kan op deze pagina niet.", "This is not possible on this page."),
}
# Details the framework writes in English, e.g. for a body that is not UTF-8: (nl, en).
_FRAMEWORK_DETAILS = {
    "There was an error parsing the body": (
        "De inhoud van het verzoek kon niet worden gelezen. Stuur geldige JSON in UTF-8.",
        "The request body could not be read. Send valid JSON in UTF-8.",
    ),
}


MACHINE_PREFIXES = ("/api/", "/openapi.json", "/webhooks/", "/feeds/", "/healthz", "/readyz", "/metrics")


def wants_html(request: Request) -> bool:
    """Pages get an HTML error page; the API, feeds and probes get problem+json."""
    return not request.url.path.startswith(MACHINE_PREFIXES)


def html_error(request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from app.templating import render

    return render(
        request,
        "errors/error.html",
        {"status": status, "title": title, "detail": detail},
        status_code=status,
        headers=headers,
    )


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.encoders import jsonable_encoder
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.exc import TimeoutError as PoolTimeout
    from starlette.exceptions import HTTPException as StarletteHTTPException

    from app.web.session import locale_of

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def _database_error(request: Request, exc: Exception) -> Response:
        if not is_database_unavailable(exc):
            raise exc  # a real bug: the server error page and the traceback in the log
        log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
        return await _app_error(request, DatabaseUnavailable())

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        if wants_html(request):
            english = locale_of(request) == "en"
            return html_error(
                request,
                exc.status,
                exc.title_en if english else exc.title,
                exc.detail_en if english else exc.detail,
                exc.headers,
            )
        return problem_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        if wants_html(request):
            english = locale_of(request) == "en"
            return html_error(
                request,
                422 if request.method == "POST" else 404,
                InvalidInput.title_en if english else InvalidInput.title,
                "This address or form is not valid." if english else "Dit adres of formulier klopt niet.",
            )
        english = prefers_english(request)
        invalid = [
            {
                "name": ".".join(str(part) for part in err.get("loc", ()) if part != "body") or "body",
                "reason": err.get("msg", ""),
                "code": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        body = {
            "type": "/problems/invalid-input",
            "title": InvalidInput.title_en if english else InvalidInput.title,
            "status": 422,
            "detail": (
                "The request contains fields that are missing or invalid."
                if english
                else "Het verzoek bevat velden die ontbreken of niet kloppen."
            ),
            "invalidParams": jsonable_encoder(invalid),
        }
        return JSONResponse(body, status_code=422, media_type=PROBLEM_JSON)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        nl, en = _HTTP_TITLES.get(exc.status_code, ("Fout", "Error"))
        if wants_html(request):
            english = locale_of(request) == "en"
            texts = _HTML_DETAILS.get(exc.status_code, ("Dat lukte niet.", "That did not work."))
            return html_error(
                request,
                exc.status_code,
                en if english else nl,
                texts[1] if english else texts[0],
                getattr(exc, "headers", None),
            )
        english = prefers_english(request)
        default = (
            HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else ""
        )
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in (nl, en, default) else ""
        if detail in _FRAMEWORK_DETAILS:
            detail = _FRAMEWORK_DETAILS[detail][1 if english else 0]
        body = {
            "type": "about:blank",
            "title": en if english else nl,
            "status": exc.status_code,
            "detail": detail or (en if english else nl),
        }
        return JSONResponse(
            body, status_code=exc.status_code, media_type=PROBLEM_JSON, headers=getattr(exc, "headers", None)
        )
