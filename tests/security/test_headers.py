"""Security headers on every kind of response, and cookies that scripts and other sites cannot use.

Guards app/web/headers.py (SecurityHeaders) and the cookie flags in app/web/csrf.py, app/web/session.py.
Checked to fail without the protection: with `'unsafe-inline'` added to script-src in headers._POLICY
both header cases failed; with `if https:` made `if True:` (HSTS over plain http) the http case failed; with
the CSRF cookie's `secure=` made False the https cookie case failed (each change undone, never committed).
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.factories import World

KINDS = {
    "page": "/",
    "page with a form": "/voucher",
    "api": "/api/v1/areas",
    "api error": "/api/v1/initiatives/987654",
    "html error": "/no-such-page",
    "static": "/static/css/buurtkas.css",
    "feed atom": "/feeds/GM0141.atom",
    "feed rss": "/feeds/GM0141.rss",
    "feed json": "/feeds/GM0141.json",
    "widget": "/embed/initiatives?area=GM0141",
    "widget 404": "/embed/nothing-here",
    "embed script": "/embed.js",
    "health": "/healthz",
}


def script_sources(csp: str) -> list[str]:
    """The sources scripts may come from: script-src, or default-src when there is none."""
    directives = {
        part.split()[0]: part.split()[1:] for part in (d.strip() for d in csp.split(";")) if part.strip()
    }
    return directives.get("script-src", directives.get("default-src", []))


def assert_secure_headers(headers: object, *, https: bool) -> None:
    h = headers  # httpx.Headers
    csp = h["content-security-policy"]  # type: ignore[index]
    sources = script_sources(csp)
    assert sources, csp
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources, csp
    assert "*" not in sources and "data:" not in sources, csp
    assert "object-src 'none'" in csp
    assert "frame-ancestors" in csp
    assert h["x-content-type-options"] == "nosniff"  # type: ignore[index]
    assert h["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin", "no-referrer")  # type: ignore[index]
    assert "camera=()" in h["permissions-policy"]  # type: ignore[index]
    hsts = h.get("strict-transport-security")  # type: ignore[attr-defined]
    if https:
        assert hsts is not None and "max-age=" in hsts
        assert int(hsts.split("max-age=")[1].split(";")[0]) >= 15_552_000  # at least half a year
    else:
        assert hsts is None, "HSTS over plain http would pin a site that may not have https"


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_every_response_kind_carries_the_headers(
    settings: Settings, db: Database, world: World, https: bool
) -> None:
    base = "https://testserver" if https else "http://testserver"
    with TestClient(create_app(settings, db), base_url=base) as client:
        for kind, path in KINDS.items():
            response = client.get(path)
            assert response.status_code < 500, (kind, response.status_code)
            assert_secure_headers(response.headers, https=https)
        # a refused form post (no CSRF token) and a method that does not exist
        assert_secure_headers(client.post("/voucher", data={"code": "x"}).headers, https=https)
        assert_secure_headers(client.delete("/api/v1/pledges").headers, https=https)
        # pages outside /embed/ may not be framed at all
        assert client.get("/").headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in client.get("/").headers["content-security-policy"]


def _set_cookies(response: object) -> dict[str, str]:
    found: dict[str, str] = {}
    for raw in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        name = raw.split("=", 1)[0].strip()
        found[name] = raw.lower()
    return found


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_cookies_are_httponly_samesite_and_secure_over_https(
    settings: Settings, db: Database, world: World, https: bool
) -> None:
    base = "https://testserver" if https else "http://testserver"
    with TestClient(create_app(settings, db), base_url=base) as client:
        seen: dict[str, str] = {}
        seen.update(_set_cookies(client.get("/voucher")))  # the CSRF cookie
        seen.update(_set_cookies(client.get(f"/v/{world.codes[0]}", follow_redirects=False)))  # voucher
        seen.update(_set_cookies(client.get("/lang/en", follow_redirects=False)))  # language
        seen.update(_set_cookies(client.get("/staff/login")))  # staff sign-in form
    assert {"bk_csrf", "bk_voucher"} <= set(seen), seen
    for name, raw in seen.items():
        assert "httponly" in raw, (name, raw)
        assert "samesite=lax" in raw or "samesite=strict" in raw, (name, raw)
        assert ("; secure" in raw) == https, (name, raw)
