"""Oversized bodies are refused before they are read in full: JSON API bodies (MAX_JSON_BYTES, 256 KiB, set as
max_body_size on the JSON routers), form posts (read_form's max_bytes) and photo uploads (10 MB); 413 (or 422
for a field that is too long), never a 500, nothing stored.

Guards app/kit/http.py MAX_JSON_BYTES on the pledge, voucher-check and donation routes, and the limits in
app/web/forms.py. Checked to fail without the protection: before this test the JSON routes had no limit at
all (a 20 MB pledge body was read and parsed, answering 422): the JSON cases failed, which is why
max_body_size was added; with the Content-Length check in read_form removed (and max_part_size raised) the
form case failed; with the check in read_upload_form removed the upload case failed (each undone).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi.testclient import TestClient

from app.db import Database
from app.kit.http import MAX_JSON_BYTES
from tests.api_cases import C, P
from tests.dbstate import snapshot
from tests.factories import World
from tests.initiator_helpers import signed_in
from tests.pages_helpers import form_fields
from tests.security.helpers import jpeg, new_draft

VOLATILE = ("rate_counters", "sessions", "audit_events")


def chunks(prefix: bytes, size: int, suffix: bytes) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked), so only counting the bytes read can stop it."""
    yield prefix
    for _ in range(size // 65_536 + 1):
        yield b"x" * 65_536
    yield suffix


def test_json_bodies_over_the_limit_are_refused_unread(
    client: TestClient, db: Database, world: World
) -> None:
    before = snapshot(db)
    json_headers = {"content-type": "application/json"}
    pad = "x" * (MAX_JSON_BYTES + 1)
    for path, body in (
        (P, {"code": world.codes[0], "initiative_id": world.initiative_id, "pad": pad}),
        (C, {"code": world.codes[0], "pad": pad}),
        (f"/api/v1/initiatives/{world.initiative_id}/donations", {"amount_cents": 500, "pad": pad}),
        (P, {"code": world.codes[0], "initiative_id": world.initiative_id, "pad": "x" * 5_000_000}),
    ):
        answer = client.post(path, content=json.dumps(body), headers=json_headers)
        assert answer.status_code == 413, (path, answer.status_code, answer.text[:200])
        streamed = client.post(
            path,
            content=chunks(
                b'{"code": "' + world.codes[0].encode() + b'", "pad": "', 2 * MAX_JSON_BYTES, b'"}'
            ),
            headers=json_headers,
        )
        assert streamed.status_code == 413, (path, streamed.status_code)
        assert streamed.headers["content-type"] == "application/problem+json"
    assert snapshot(db) == before
    # a body within the limit still works
    assert (
        client.post(P, json={"code": world.codes[0], "initiative_id": world.initiative_id}).status_code == 201
    )
    # a too-long code inside a small body is bad input, not a server error
    assert client.post(C, json={"code": "A" * 10_000}).status_code == 422


def test_form_posts_over_the_limit_are_refused(client: TestClient, db: Database, world: World) -> None:
    page = client.get("/voucher")
    fields = form_fields(page, "/voucher")
    before = snapshot(db)
    for size in (20_000, 2_000_000):
        fields["code"] = "A" * size
        answer = client.post("/voucher", data=fields, follow_redirects=False)
        assert answer.status_code == 413, answer.status_code
    # streamed, without Content-Length: the multipart parser's part limit stops it
    streamed = client.post(
        "/voucher",
        content=chunks(f"csrf_token={fields['csrf_token']}&code=".encode(), 200_000, b""),
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert streamed.status_code in (400, 413), streamed.status_code
    assert snapshot(db) == before


def test_uploads_over_the_limit_are_refused_and_nothing_is_stored(
    client: TestClient, db: Database, world: World
) -> None:
    me = signed_in(client, db, "groot@example.org")
    initiative_id = new_draft(me)
    token = form_fields(
        me.get(f"/my/initiatives/{initiative_id}"), f"/my/initiatives/{initiative_id}/photos"
    )["csrf_token"]
    before = snapshot(db, skip=VOLATILE)
    huge = me.post(
        f"/my/initiatives/{initiative_id}/photos",
        data={"csrf_token": token, "alt_text": "Groot"},
        files={"photo": ("groot.jpg", jpeg() + b"\0" * (11 * 1024 * 1024), "image/jpeg")},
        follow_redirects=False,
    )
    assert huge.status_code == 413, huge.status_code
    two = me.post(
        f"/my/initiatives/{initiative_id}/photos",
        data={"csrf_token": token, "alt_text": "Twee"},
        files=[("photo", ("a.jpg", jpeg(), "image/jpeg")), ("photo", ("b.jpg", jpeg(), "image/jpeg"))],
        follow_redirects=False,
    )
    assert two.status_code in (400, 413, 422), two.status_code
    assert snapshot(db, skip=VOLATILE) == before
