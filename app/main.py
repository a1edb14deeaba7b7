"""The ASGI app: `app.main:app`."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.middleware.gzip import GZipMiddleware

from app.accounts.pages import router as account_pages
from app.areas.api import router as areas_router
from app.areas.pages import router as area_pages
from app.audit.pages import router as audit_pages
from app.config import Settings, get_settings
from app.db import Database
from app.donations.api import router as donations_router
from app.donations.gateway import build_gateway
from app.donations.pages import router as donation_pages
from app.donations.staff_pages import router as donation_staff_pages
from app.embed.pages import router as embed_pages
from app.errors import install_error_handlers
from app.initiatives.aftercare_pages import router as aftercare_pages
from app.initiatives.api import router as initiatives_router
from app.initiatives.initiator_pages import router as initiator_pages
from app.initiatives.pages import router as initiative_pages
from app.initiatives.staff_pages import router as initiative_staff_pages
from app.kit.http import problem
from app.kit.ratelimit import FailureLimit, FailureLimiter
from app.logging import configure_logging
from app.news.api import router as news_router
from app.news.feeds import router as feeds_router
from app.news.pages import router as news_pages
from app.news.staff_pages import router as news_staff_pages
from app.ops.metrics import install_metrics
from app.payouts.pages import router as payout_pages
from app.pledges.api import router as pledges_router
from app.pledges.pages import router as pledge_pages
from app.reports.pages import router as report_pages
from app.reports.staff_pages import router as report_staff_pages
from app.staff.members_pages import router as staff_member_pages
from app.staff.pages import router as staff_pages
from app.templating import STATIC_DIR
from app.vouchers.api import router as vouchers_router
from app.vouchers.pages import router as voucher_pages
from app.vouchers.staff_pages import router as voucher_staff_pages
from app.web.cors import install_cors
from app.web.headers import SecurityHeaders
from app.web.pages import router as site_pages
from app.web.static import CachedStaticFiles

DESCRIPTION = """
Buurtkas: every household gets a voucher twice a year to give to a neighbourhood initiative.

Money is always an integer number of euro cents. Errors are `application/problem+json` (RFC 9457).
Failed voucher-code attempts are limited per client and in total (429 with `Retry-After`).
"""


def create_app(settings: Settings | None = None, db: Database | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings)
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.worker_threads
        database = db or Database(settings)
        settings.media_dir.mkdir(parents=True, exist_ok=True)
        app.state.settings = settings
        app.state.db = database
        # None when no STRIPE_API_KEY is set: the donate button is hidden and the donation routes answer 404.
        app.state.stripe = build_gateway(settings)
        app.state.code_limiter = FailureLimiter(
            database,
            FailureLimit(
                scope="voucher-code",
                per_client=settings.code_failures_per_client,
                total=settings.code_failures_total,
                window_seconds=settings.code_failure_window_seconds,
            ),
        )
        app.state.fingerprint_key = hmac.new(
            settings.secret_key.encode(), b"idempotency", hashlib.sha256
        ).digest()
        try:
            yield
        finally:
            if db is None:
                database.dispose()

    app = FastAPI(
        title="Buurtkas",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Any operation may meet a database that is restarting (app.errors.DatabaseUnavailable).
        responses={
            503: problem("The database cannot be reached right now; try again after Retry-After seconds")
        },
    )
    install_error_handlers(app)
    app.add_middleware(GZipMiddleware, minimum_size=1_000, compresslevel=6)
    app.add_middleware(SecurityHeaders)
    install_cors(app, settings)
    install_metrics(app)
    app.include_router(areas_router)
    app.include_router(initiatives_router)
    app.include_router(vouchers_router)
    app.include_router(pledges_router)
    app.include_router(donations_router)
    app.include_router(feeds_router)
    app.include_router(news_router)
    for pages in (
        site_pages,
        voucher_pages,
        initiative_pages,
        pledge_pages,
        area_pages,
        report_pages,
        account_pages,
        initiator_pages,
        aftercare_pages,
        staff_pages,
        initiative_staff_pages,
        payout_pages,
        news_staff_pages,
        voucher_staff_pages,
        audit_pages,
        report_staff_pages,
        staff_member_pages,
        donation_pages,
        donation_staff_pages,
        embed_pages,
        news_pages,
    ):
        app.include_router(pages)
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR, immutable=True), name="static")
    app.mount(
        "/media",
        CachedStaticFiles(directory=settings.media_dir, immutable=True, check_dir=False),
        name="media",
    )

    @app.get("/healthz", tags=["operations"], summary="The process is alive")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="The database answers",
        responses={503: {"description": "Database unreachable"}},
    )
    def readyz(request: Request) -> JSONResponse:
        try:
            with request.app.state.db.read() as session:
                session.execute(text("SELECT 1"))
        except Exception:  # any failure to reach the database means not ready
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    return app


app = create_app()
