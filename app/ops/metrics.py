"""Prometheus metrics at GET /metrics: requests, pledges, money moved, failures.

What is counted in the app process (requests by method, route template and status class, their latency,
webhook refusals) lives in prometheus_client metrics. What concerns money and work queues is read from the
database at scrape time (pledges, ledger transfers per kind, failed mail, failed refunds, unprocessed
webhook events): that is exact whichever process answers the scrape and however many processes run.

Several processes (`buurtkas serve --workers N`): set PROMETHEUS_MULTIPROC_DIR to a directory writable by
the app (e.g. /tmp/buurtkas-metrics, on local disk, one per server); `prepare_multiprocess_dir` empties it
before the workers start. Every process then writes its counters there and whichever process answers a
scrape sums them all. Without it, each process reports only its own requests (the database figures are
exact either way).

Labels never hold a path as requested: only the route template (`/api/v1/initiatives/{initiative_id}`),
so no voucher code, token or id ends up in a label. Nothing personal is read for the gauges: counts and
sums only.

Access: with METRICS_TOKEN set, /metrics answers only `Authorization: Bearer <token>` (404 otherwise);
without it, /metrics is open in development and test and answers 404 in production.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.config import Environment

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from app.db import Database

METRICS_PATH = "/metrics"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
WEBHOOK_ROUTE = "/webhooks/stripe"
DB_CACHE_SECONDS = 5.0
"""Each process reads the database figures at most this often (a burst of scrapes costs one read)."""

if os.environ.get(MULTIPROC_ENV, "").strip():  # prometheus_client writes its files there from the start
    Path(os.environ[MULTIPROC_ENV].strip()).mkdir(parents=True, exist_ok=True)

# The registry this process writes to. In multiprocess mode the values go to files, not to this registry.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "buurtkas_http_requests",
    "HTTP requests answered, by method, route template and status class (2xx, 3xx, 4xx, 5xx).",
    ["method", "route", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "buurtkas_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by method and route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)
SERVER_ERRORS = Counter(
    "buurtkas_http_server_errors",
    "Responses with a 5xx status other than 503 (unhandled exceptions included), by route template.",
    ["route"],
    registry=REGISTRY,
)
UNAVAILABLE = Counter(
    "buurtkas_http_unavailable",
    "Responses with 503: the database could not be reached or the service was busy; clients try again.",
    ["route"],
    registry=REGISTRY,
)
WEBHOOK_REFUSALS = Counter(
    "buurtkas_webhook_refusals",
    "Stripe webhook deliveries refused (bad or replayed signature, bad body): 4xx answers to the webhook.",
    registry=REGISTRY,
)


def route_template(scope: Scope) -> str:
    """The matched route's template, never the raw path (no codes, tokens or ids)."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str) or not template:
        return UNMATCHED
    if type(route).__name__ == "Mount":  # /static, /media: the file name is not a label either
        return template.rstrip("/") + "/{path}"
    return template


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class RequestMetrics:
    """Pure ASGI middleware that counts every HTTP request and times it (to the last body byte)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observe_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observe_status)
        except BaseException:
            status = 500
            raise
        finally:
            try:
                record(scope, status, time.perf_counter() - started)
            except Exception:  # counting must never cost a request its answer
                log.warning("metrics.record_failed", exc_info=True)


def record(scope: Scope, status: int, seconds: float) -> None:
    route = route_template(scope)
    if route == METRICS_PATH:
        return  # the scrapes themselves are not the service's traffic
    method = scope.get("method", "")
    method = method if method in METHODS else "other"
    REQUESTS.labels(method, route, status_class(status)).inc()
    LATENCY.labels(method, route).observe(seconds)
    if status == 503:
        UNAVAILABLE.labels(route).inc()  # an outage, not a bug: alert on it separately
    elif status >= 500:
        SERVER_ERRORS.labels(route).inc()
    if route == WEBHOOK_ROUTE and 400 <= status < 500:
        WEBHOOK_REFUSALS.inc()


# --- figures read from the database at scrape time -------------------------------------------------------


def database_metrics(db: Database) -> list[Metric]:
    """Pledges, money moved per transfer kind, and what failed: counts and sums from the tables."""
    from app.models import (
        DonationRefund,
        LedgerTransfer,
        OutboxMessage,
        OutboxStatus,
        Pledge,
        RefundStatus,
        StripeEvent,
    )

    pledges = CounterMetricFamily("buurtkas_pledges", "Pledges made (returned ones included).")
    returned = CounterMetricFamily(
        "buurtkas_pledges_returned", "Pledges given back because their initiative ended unfunded."
    )
    pledged = CounterMetricFamily(
        "buurtkas_pledged_cents", "Voucher value pledged, in euro cents (returned pledges included)."
    )
    moved = CounterMetricFamily(
        "buurtkas_ledger_moved_cents",
        "Money moved in the ledger, in euro cents, by transfer kind.",
        labels=["kind"],
    )
    transfers = CounterMetricFamily(
        "buurtkas_ledger_transfers", "Ledger transfers booked, by transfer kind.", labels=["kind"]
    )
    mail = GaugeMetricFamily(
        "buurtkas_outbox_messages", "E-mails in the outbox, by status.", labels=["status"]
    )
    refunds = GaugeMetricFamily(
        "buurtkas_donation_refunds",
        "Donation refunds, by status (failed: retried, shown to staff).",
        labels=["status"],
    )
    inbox = GaugeMetricFamily(
        "buurtkas_stripe_events_unprocessed",
        "Stripe webhook events stored but not processed yet, by whether processing was tried and failed.",
        labels=["state"],
    )
    up = GaugeMetricFamily(
        "buurtkas_database_up", "1 when the figures above could be read from the database."
    )
    try:
        with db.read() as session:
            made, given_back, total_pledged = session.execute(
                select(
                    func.count(),
                    func.count(Pledge.returned_at),
                    func.coalesce(func.sum(Pledge.amount_cents), 0),
                )
            ).one()
            ledger_rows = session.execute(
                select(
                    LedgerTransfer.kind, func.count(), func.coalesce(func.sum(LedgerTransfer.amount_cents), 0)
                )
                .group_by(LedgerTransfer.kind)
                .order_by(LedgerTransfer.kind)
            ).all()
            mail_rows = dict(
                session.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                ).all()
            )
            refund_rows = dict(
                session.execute(
                    select(DonationRefund.status, func.count()).group_by(DonationRefund.status)
                ).all()
            )
            tried = StripeEvent.attempts > 0
            inbox_rows = dict(
                session.execute(
                    select(tried, func.count()).where(StripeEvent.processed_at.is_(None)).group_by(tried)
                ).all()
            )
    except Exception:  # a scrape must answer even when the database does not
        up.add_metric([], 0)
        return [up]
    pledges.add_metric([], int(made))
    returned.add_metric([], int(given_back))
    pledged.add_metric([], int(total_pledged or 0))
    for kind, count, cents in ledger_rows:
        transfers.add_metric([str(kind)], int(count))
        moved.add_metric([str(kind)], int(cents))
    for status in OutboxStatus:
        mail.add_metric([status.value], int(mail_rows.get(status.value, 0)))
    for refund_status in RefundStatus:
        refunds.add_metric([refund_status.value], int(refund_rows.get(refund_status.value, 0)))
    inbox.add_metric(["waiting"], int(inbox_rows.get(False, 0)))
    inbox.add_metric(["failed"], int(inbox_rows.get(True, 0)))
    up.add_metric([], 1)
    return [pledges, returned, pledged, moved, transfers, mail, refunds, inbox, up]


class DatabaseCollector(Collector):
    """Reads the database figures when scraped, reusing them for DB_CACHE_SECONDS."""

    def __init__(self, db: Database, cache_seconds: float = DB_CACHE_SECONDS) -> None:
        self.db = db
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._metrics: list[Metric] = []

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= self.cache_seconds:
                self._metrics = database_metrics(self.db)
                self._read_at = now
            metrics = list(self._metrics)
        yield from metrics


def exposition(db: Database | None, collector: Collector | None = None) -> bytes:
    """The text format for one scrape: this process's (or every process's) counters and the database's."""
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    if collector is not None:
        registry.register(collector)
    elif db is not None:
        registry.register(DatabaseCollector(db, cache_seconds=0))
    return generate_latest(registry)


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterable[Metric]:
        return self.registry.collect()


def prepare_multiprocess_dir() -> Path | None:
    """Before the app processes start: create PROMETHEUS_MULTIPROC_DIR (when set) and remove the counter
    files a previous run left there (only prometheus_client's own *.db files)."""
    value = os.environ.get(MULTIPROC_ENV, "").strip()
    if not value:
        return None
    directory = Path(value)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    return directory


# --- the route and its access rule ------------------------------------------------------------------------


def allowed(request: Request) -> bool:
    settings = request.app.state.settings
    token = settings.metrics_token
    if not token:
        return bool(settings.environment != Environment.production)
    given = request.headers.get("authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}


def install_metrics(app: FastAPI) -> None:
    """The request middleware (outermost, so it sees every answer) and GET /metrics (not in the API schema)."""
    if getattr(app.state, "metrics_installed", False):
        return
    app.state.metrics_installed = True
    app.add_middleware(RequestMetrics)
    collectors: dict[int, DatabaseCollector] = {}

    def metrics(request: Request) -> Response:
        if not allowed(request):
            # the very answer of a path that does not exist, so the endpoint does not give itself away
            raise StarletteHTTPException(status_code=404, headers=NO_STORE)
        db = request.app.state.db
        collector = collectors.get(id(db))
        if collector is None or collector.db is not db:
            collector = collectors[id(db)] = DatabaseCollector(db, DB_CACHE_SECONDS)
        return Response(exposition(db, collector), media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)

    app.add_api_route(METRICS_PATH, metrics, methods=["GET"], include_in_schema=False)
