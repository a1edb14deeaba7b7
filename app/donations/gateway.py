"""The one place that talks to Stripe: a `StripeClient` built from settings, and the few calls we make.

Every call names what it creates with an idempotency key, so a retry after a timeout never creates a
second Checkout Session or a second refund. Errors become `GatewayError` with a short reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
import structlog

from app.config import Settings

log = structlog.get_logger(__name__)

PAYMENT_METHODS = ["ideal", "card"]
"""iDEAL | Wero and cards. The current API filters the methods enabled in the dashboard with
`allowed_payment_method_types` (it refuses the older `payment_method_types`)."""
METADATA_KEY = "buurtkas_donation"
"""Metadata key on the Checkout Session and its PaymentIntent: the donation's public id."""


class GatewayError(Exception):
    """Stripe could not be reached or refused the call; nothing was created on our side.

    `answered`: Stripe answered with an error (so the call created nothing there either, and Stripe would
    replay the same error for the same idempotency key); False when the connection failed (Stripe may or may
    not have acted: repeat with the same key)."""

    def __init__(self, message: str, *, answered: bool = True) -> None:
        super().__init__(message)
        self.answered = answered


@dataclass(frozen=True)
class Checkout:
    session_id: str
    url: str


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    status: str
    """Stripe's status: pending, requires_action, succeeded, failed or canceled."""
    failure_reason: str = ""


@dataclass(frozen=True)
class StripePayment:
    payment_intent_id: str
    donation_public_id: str | None
    amount_cents: int
    currency: str
    status: str
    created: datetime


@dataclass(frozen=True)
class StripeRefund:
    refund_id: str
    payment_intent_id: str | None
    amount_cents: int
    status: str
    created: datetime


def _when(timestamp: Any) -> datetime:
    return datetime.fromtimestamp(int(timestamp), UTC)


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        base = {"api": settings.stripe_api_base} if settings.stripe_api_base else None
        self.client = stripe.StripeClient(
            settings.stripe_api_key,
            base_addresses=base,  # type: ignore[arg-type]
            max_network_retries=2,
            http_client=stripe.RequestsClient(timeout=20),
        )

    def _call(self, what: str, call: Any) -> Any:
        try:
            return call()
        except stripe.StripeError as exc:
            log.warning("stripe.error", call=what, error=type(exc).__name__, message=str(exc)[:300])
            raise GatewayError(
                f"{type(exc).__name__}: {exc.user_message or str(exc)}"[:480],
                answered=not isinstance(exc, stripe.APIConnectionError),
            ) from exc

    def _pages(self, what: str, page: Any) -> Iterator[Any]:
        """Every item of a list, fetching later pages as needed; a failure on any page is a GatewayError."""
        items = page.auto_paging_iter()
        while True:
            try:
                item = next(items)
            except StopIteration:
                return
            except stripe.StripeError as exc:
                self._call(what, lambda exc=exc: _raise(exc))
            yield item

    def create_checkout(
        self,
        *,
        public_id: str,
        amount_cents: int,
        description: str,
        locale: str,
        success_url: str,
        cancel_url: str,
        email: str | None,
        expires_at: datetime,
    ) -> Checkout:
        metadata = {METADATA_KEY: public_id}
        params: dict[str, Any] = {
            "mode": "payment",
            "submit_type": "donate",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "eur",
                        "unit_amount": amount_cents,
                        "product_data": {"name": description[:250]},
                    },
                }
            ],
            "allowed_payment_method_types": PAYMENT_METHODS,
            "locale": locale,
            "client_reference_id": public_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata, "description": description[:250]},
            "success_url": success_url,
            "cancel_url": cancel_url,
            "expires_at": int(expires_at.timestamp()),
        }
        if email:
            params["customer_email"] = email
        session = self._call(
            "checkout.create",
            lambda: self.client.v1.checkout.sessions.create(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"buurtkas-donation-{public_id}"},
            ),
        )
        if not session.url:
            raise GatewayError("Stripe gave no payment page address")
        return Checkout(session_id=session.id, url=session.url)

    def create_refund(self, *, payment_intent_id: str, amount_cents: int, key: str) -> RefundResult:
        refund = self._call(
            "refund.create",
            lambda: self.client.v1.refunds.create(
                params={
                    "payment_intent": payment_intent_id,
                    "amount": amount_cents,
                    "metadata": {"key": key},
                },
                options={"idempotency_key": key},
            ),
        )
        return _refund_result(refund)

    def retrieve_refund(self, refund_id: str) -> RefundResult:
        return _refund_result(
            self._call("refund.retrieve", lambda: self.client.v1.refunds.retrieve(refund_id))
        )

    def payments_since(self, since: datetime) -> Iterator[StripePayment]:
        page = self._call(
            "payment_intents.list",
            lambda: self.client.v1.payment_intents.list(
                params={"created": {"gte": int(since.timestamp())}, "limit": 100}
            ),
        )
        for item in self._pages("payment_intents.list", page):
            intent = item.to_dict()
            metadata = intent.get("metadata") or {}
            yield StripePayment(
                payment_intent_id=str(intent["id"]),
                donation_public_id=metadata.get(METADATA_KEY),
                amount_cents=int(intent.get("amount_received") or intent.get("amount") or 0),
                currency=str(intent.get("currency") or ""),
                status=str(intent.get("status") or ""),
                created=_when(intent["created"]),
            )

    def refunds_since(self, since: datetime) -> Iterator[StripeRefund]:
        page = self._call(
            "refunds.list",
            lambda: self.client.v1.refunds.list(
                params={"created": {"gte": int(since.timestamp())}, "limit": 100}
            ),
        )
        for item in self._pages("refunds.list", page):
            refund = item.to_dict()
            yield StripeRefund(
                refund_id=str(refund["id"]),
                payment_intent_id=refund.get("payment_intent"),
                amount_cents=int(refund.get("amount") or 0),
                status=str(refund.get("status") or ""),
                created=_when(refund["created"]),
            )


def _raise(exc: Exception) -> None:
    raise exc


def _refund_result(refund: Any) -> RefundResult:
    data = refund.to_dict()
    return RefundResult(
        refund_id=str(data["id"]),
        status=str(data.get("status") or ""),
        failure_reason=str(data.get("failure_reason") or ""),
    )


def build_gateway(settings: Settings) -> StripeGateway | None:
    """The gateway, or None when no Stripe key is configured (donations are off)."""
    return StripeGateway(settings) if settings.donations_enabled else None
