"""Conditional GET: an ETag (and Last-Modified) on a rendered body, and 304 when the client has it already.

Feeds and embeddable widgets are fetched over and over by feed readers and by every visitor of a municipal
page; a 304 saves the bytes (the body is still rendered: the ETag is its hash, so it can never be stale).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response


def etag_of(body: bytes) -> str:
    """A weak validator: GZip may re-encode the bytes, the meaning stays the same."""
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def _matches(header: str, etag: str) -> bool:
    wanted = etag.removeprefix("W/")
    return any(tag.strip() == "*" or tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= since


def conditional_response(
    request: Request,
    body: bytes,
    *,
    media_type: str,
    last_modified: datetime | None = None,
    max_age: int = 60,
    headers: dict[str, str] | None = None,
) -> Response:
    """200 with the body, or 304 when If-None-Match (or, without it, If-Modified-Since) says it is unchanged."""
    etag = etag_of(body)
    out = {"ETag": etag, "Cache-Control": f"public, max-age={max_age}", **(headers or {})}
    if last_modified is not None:
        out["Last-Modified"] = format_datetime(last_modified.astimezone(UTC), usegmt=True)
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        fresh = _matches(if_none_match, etag)
    else:
        since = request.headers.get("if-modified-since")
        fresh = since is not None and last_modified is not None and _not_modified_since(since, last_modified)
    if fresh:
        return Response(status_code=304, headers=out)
    return Response(body, media_type=media_type, headers=out)
