"""Idempotency-Key: the same key with the same request returns the first response and moves nothing again.

The key row is inserted first in the request's own transaction. A concurrent twin blocks on the unique
index until the first commits, then fails and replays the stored response; if the first rolls back, the
twin goes ahead. Only successful responses are stored: a failed request changed nothing to replay.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import Database
from app.errors import Conflict, InvalidInput
from app.models import IdempotencyKey
from app.models.base import UTCDateTime, utcnow

MAX_KEY_LENGTH = 255
_KEYS: Table = IdempotencyKey.__table__  # type: ignore[assignment]
_INSERT_KEY = insert(_KEYS).values(
    key=bindparam("key"),
    request_hash=bindparam("request_hash"),
    status_code=bindparam("status_code"),
    response_body="",
    created_at=bindparam("now", type_=UTCDateTime()),
)
_STORE_RESPONSE = (
    update(_KEYS)
    .where(_KEYS.c.key == bindparam("k"))
    .values(status_code=bindparam("status_code"), response_body=bindparam("body"))
)
PENDING = 0


class IdempotencyKeyReused(InvalidInput):
    slug = "idempotency-key-reused"
    title = "Sleutel al gebruikt"
    title_en = "Key already used"

    message = "Deze Idempotency-Key is al gebruikt voor een ander verzoek."
    message_en = "This Idempotency-Key was already used for a different request."


class IdempotencyInProgress(Conflict):
    slug = "idempotency-in-progress"
    title = "Verzoek loopt nog"
    title_en = "Request in progress"

    message = "Een verzoek met deze Idempotency-Key wordt nog verwerkt. Probeer het zo opnieuw."
    message_en = "A request with this Idempotency-Key is still being processed. Try again shortly."


def request_fingerprint(secret: bytes, payload: dict[str, Any]) -> str:
    """Keyed hash of the request body (it may hold a voucher code, so never a plain hash)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()


def run_idempotent(
    db: Database,
    *,
    scope: str,
    key: str | None,
    fingerprint: str,
    work: Callable[[Session], tuple[int, dict[str, Any]]],
    retry_on: tuple[type[Exception], ...] = (),
) -> tuple[int, dict[str, Any], bool]:
    """Run `work` once per key; returns (status, body, replayed)."""
    if key is None:
        status, body = db.run_write(work, retry_on=retry_on)
        return status, body, False
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"De Idempotency-Key moet 1 tot {MAX_KEY_LENGTH} leesbare tekens hebben.",
            f"The Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters.",
        )
    full_key = f"{scope}:{key}"

    def guarded(session: Session) -> tuple[int, dict[str, Any]]:
        session.connection().execute(
            _INSERT_KEY,
            {"key": full_key, "request_hash": fingerprint, "status_code": PENDING, "now": utcnow()},
        )
        status, body = work(session)
        session.connection().execute(
            _STORE_RESPONSE, {"k": full_key, "status_code": status, "body": json.dumps(body)}
        )
        return status, body

    # Go straight for the insert: a new key (the usual case) costs no extra read; a used key fails on the
    # unique index, and only then is the stored response read.
    try:
        status, body = db.run_write(guarded, retry_on=retry_on)
        return status, body, False
    except IntegrityError:
        stored = _stored(db, full_key)
        if stored is None:
            raise
    if stored.request_hash != fingerprint:
        raise IdempotencyKeyReused()
    if stored.status_code == PENDING:
        raise IdempotencyInProgress()
    return stored.status_code, json.loads(stored.response_body), True


def _stored(db: Database, full_key: str) -> IdempotencyKey | None:
    with db.read() as session:
        return session.execute(
            select(IdempotencyKey).where(IdempotencyKey.key == full_key)
        ).scalar_one_or_none()
