"""Stripe's webhook: check the signature on the raw body, store the event once, then process it.

`receive` answers as soon as the event is safely in the inbox; processing is a short transaction right
after, and whatever fails there is retried by the tick (`process_pending`). Processing is idempotent: the
event row is locked and marked processed in the same transaction that books it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import Any

import stripe
import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import Database, upsert_insert
from app.donations import refunds, service
from app.donations.gateway import METADATA_KEY, RefundResult
from app.models import DonationRefund, StripeEvent, StripeSignature
from app.models.base import utcnow

log = structlog.get_logger(__name__)

MAX_PAYLOAD_BYTES = 256 * 1024
MAX_ATTEMPTS = 10


class BadWebhook(Exception):
    """The request is not a genuine, fresh Stripe event: refused with 400, nothing changes."""


def _signature(settings: Settings, payload: bytes, header: str | None, now: float) -> str:
    """Check the `Stripe-Signature` header; returns the signature that matched (to spot a replay)."""
    if not header:
        raise BadWebhook("no Stripe-Signature header")
    try:
        text = payload.decode("utf-8")
        stripe.WebhookSignature.verify_header(
            text, header, settings.stripe_webhook_secret, settings.stripe_webhook_tolerance_seconds
        )
    except (UnicodeDecodeError, stripe.SignatureVerificationError, ValueError) as exc:
        raise BadWebhook(f"signature not valid: {exc}") from None
    timestamp = int(dict(part.split("=", 1) for part in header.split(",") if "=" in part)["t"])
    if timestamp > now + settings.stripe_webhook_tolerance_seconds:
        raise BadWebhook("signature timestamp lies in the future")
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(settings.stripe_webhook_secret.encode(), signed, hashlib.sha256).hexdigest()


def _event(payload: bytes) -> dict[str, Any]:
    try:
        event = json.loads(payload)
    except ValueError:
        raise BadWebhook("body is not JSON") from None
    if not (
        isinstance(event, dict)
        and isinstance(event.get("id"), str)
        and 0 < len(event["id"]) <= 255
        and isinstance(event.get("type"), str)
        and 0 < len(event["type"]) <= 100
        and isinstance(event.get("data"), dict)
        and isinstance(event["data"].get("object"), dict)
    ):
        raise BadWebhook("not a Stripe event")
    return event


def _insert_ignoring_conflict(session: Session, table: Any, values: dict[str, Any], key: str) -> bool:
    make = upsert_insert(session)
    result = session.execute(
        make(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(getattr(table, key))
    )
    return result.first() is not None


def receive(db: Database, payload: bytes, header: str | None, *, now: float | None = None) -> str:
    """Verify and store one delivery, then process the event. Raises BadWebhook (nothing stored)."""
    settings = db.settings
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadWebhook("body too large")
    signature = _signature(settings, payload, header, time.time() if now is None else now)
    event = _event(payload)

    def store(session: Session) -> bool:
        if not _insert_ignoring_conflict(
            session, StripeSignature, {"signature": signature, "seen_at": utcnow()}, "signature"
        ):
            raise BadWebhook("this signed request was already received (replay)")
        fresh = _insert_ignoring_conflict(
            session,
            StripeEvent,
            {
                "event_id": event["id"],
                "type": event["type"],
                "payload": payload.decode("utf-8"),
                "received_at": utcnow(),
                "deliveries": 1,
                "outcome": "",
                "attempts": 0,
            },
            "event_id",
        )
        if not fresh:
            session.execute(
                update(StripeEvent)
                .where(StripeEvent.event_id == event["id"])
                .values(deliveries=StripeEvent.deliveries + 1)
            )
        processed = session.execute(
            select(StripeEvent.processed_at).where(StripeEvent.event_id == event["id"])
        ).scalar_one()
        return processed is None

    if not db.run_write(store):
        return "already processed"
    return process_event(db, event["id"])


def process_event(db: Database, event_id: str) -> str:
    """Process one stored event if it is not yet; errors are written to the inbox and retried later."""
    settings = db.settings

    def work(session: Session) -> str:
        row = session.execute(
            select(StripeEvent).where(StripeEvent.event_id == event_id).with_for_update()
        ).scalar_one()
        if row.processed_at is not None:  # another delivery of it got there first
            return "already processed"
        event = json.loads(row.payload)
        outcome = dispatch(session, settings, event["type"], event["data"]["object"])
        session.execute(
            update(StripeEvent)
            .where(StripeEvent.id == row.id)
            .values(processed_at=utcnow(), outcome=outcome[:200], attempts=StripeEvent.attempts + 1)
        )
        return outcome

    try:
        return db.run_write(work)
    except Exception as exc:  # recorded in the inbox for the tick to retry; never lost
        log.exception("stripe.event_failed", stripe_event=event_id)
        message = f"error: {type(exc).__name__}: {exc}"[:200]
        db.run_write(
            lambda s: s.execute(
                update(StripeEvent)
                .where(StripeEvent.event_id == event_id)
                .values(outcome=message, attempts=StripeEvent.attempts + 1)
            )
        )
        return message


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, dict):  # an expanded object
        value = value.get("id")
    return value if isinstance(value, str) and 0 < len(value) <= 255 else None


def _public_id(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    value = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    if value is None and obj.get("object") == "checkout.session":
        value = obj.get("client_reference_id")
    return value if isinstance(value, str) and 0 < len(value) <= 32 else None


def _cents(obj: dict[str, Any], *keys: str) -> int:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def dispatch(session: Session, settings: Settings, kind: str, obj: dict[str, Any]) -> str:
    """Apply one event to our records; returns a short outcome for the inbox."""
    public_id = _public_id(obj)
    if kind == "payment_intent.succeeded":
        return service.confirm_payment(
            session,
            settings,
            public_id=public_id,
            payment_intent_id=_text(obj, "id"),
            amount_cents=_cents(obj, "amount_received", "amount"),
            currency=str(obj.get("currency") or ""),
        )
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        payment_intent_id = _text(obj, "payment_intent")
        if obj.get("payment_status") != "paid":
            return service.attach_payment(session, public_id=public_id, payment_intent_id=payment_intent_id)
        return service.confirm_payment(
            session,
            settings,
            public_id=public_id,
            payment_intent_id=payment_intent_id,
            amount_cents=_cents(obj, "amount_total"),
            currency=str(obj.get("currency") or ""),
        )
    if kind in ("payment_intent.payment_failed", "checkout.session.async_payment_failed"):
        payment_intent_id = (
            _text(obj, "id") if obj.get("object") == "payment_intent" else _text(obj, "payment_intent")
        )
        return service.payment_failed(session, public_id=public_id, payment_intent_id=payment_intent_id)
    if kind == "checkout.session.expired":
        return service.checkout_expired(session, public_id=public_id)
    if kind in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        return _refund_event(session, settings, obj)
    return "ignored: not an event we use"


def _refund_event(session: Session, settings: Settings, obj: dict[str, Any]) -> str:
    metadata = obj.get("metadata")
    key = metadata.get("key") if isinstance(metadata, dict) else None
    parsed = refunds.parse_refund_key(key) if isinstance(key, str) else None
    refund_id = _text(obj, "id")
    if parsed is None or refund_id is None:
        return "ignored: not a refund of ours"
    ours, attempt = parsed
    if session.get(DonationRefund, ours) is None:
        return "ignored: unknown refund"
    result = RefundResult(
        refund_id=refund_id,
        status=str(obj.get("status") or ""),
        failure_reason=str(obj.get("failure_reason") or ""),
    )
    status = refunds.apply_refund_result(session, settings, ours, result, attempt=attempt)
    return f"refund {status}"


def process_pending(db: Database, *, older_than: timedelta = timedelta(minutes=1)) -> int:
    """Retry events whose processing failed (or was cut off); returns how many were tried."""
    cutoff = utcnow() - older_than
    with db.read() as session:
        ids = session.scalars(
            select(StripeEvent.event_id)
            .where(
                StripeEvent.processed_at.is_(None),
                StripeEvent.attempts < MAX_ATTEMPTS,
                StripeEvent.received_at <= cutoff,
            )
            .order_by(StripeEvent.id)
            .limit(500)
        ).all()
    for event_id in ids:
        process_event(db, event_id)
    return len(ids)


def purge_signatures(session: Session, settings: Settings, *, now: datetime | None = None) -> int:
    """Forget signatures older than twice the tolerance: a replay of those is refused as stale anyway."""
    cutoff = (now or utcnow()) - timedelta(seconds=2 * settings.stripe_webhook_tolerance_seconds)
    result = session.execute(delete(StripeSignature).where(StripeSignature.seen_at < cutoff))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
