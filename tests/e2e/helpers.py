"""Helpers for browser tests: accessibility (axe-core), layout, screenshots, page weight, and the guard
that keeps pages from talking to third parties or logging errors.

All of them take a Playwright sync `Page`; the fixtures in tests/e2e/conftest.py provide one.
"""

from __future__ import annotations

import re
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, ConsoleMessage, Page, Request, Response, Route, WebError
from playwright.sync_api import Error as PlaywrightError

E2E_DIR = Path(__file__).parent
AXE_PATH = E2E_DIR / "vendor" / "axe.min.js"
SCREENSHOT_DIR = E2E_DIR.parent / "artifacts" / "screenshots"

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_WAIT_SECONDS = 120.0

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# Resource types that count towards page weight (images, fonts and media do not).
WEIGHED_TYPES = frozenset({"document", "stylesheet", "script"})


# --------------------------------------------------------------------------------------------------------
# Guard: third-party requests, console errors, page errors
# --------------------------------------------------------------------------------------------------------


@dataclass
class BrowserGuard:
    """Blocks and records requests to hosts other than 127.0.0.1/localhost, and records console errors and
    uncaught page errors, for one browser context. `check()` raises AssertionError listing them."""

    third_party: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    allowed_console: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> BrowserGuard:
        context.route("**/*", self._route)
        context.on("console", self._on_console)
        context.on("weberror", self._on_page_error)
        _GUARDS[context] = self
        return self

    def allow_console_error(self, pattern: str) -> None:
        """Tolerate console errors matching `pattern` (a regex searched in "text @ url"), e.g. the
        "Failed to load resource: ... status of 422" Chromium logs when a form is answered with 422."""
        self.allowed_console.append(re.compile(pattern))

    def _route(self, route: Route, request: Request) -> None:
        if is_local_url(request.url):
            route.continue_()
        else:
            self.third_party.append(f"{request.method} {request.url} ({request.resource_type})")
            route.abort("blockedbyclient")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        where = message.location.get("url") or ""
        entry = f"{message.text} @ {where}" if where else message.text
        if not any(pattern.search(entry) for pattern in self.allowed_console):
            self.console_errors.append(entry)

    def _on_page_error(self, web_error: WebError) -> None:
        error = web_error.error
        where = web_error.page.url if web_error.page else "?"
        self.page_errors.append(f"{error.name}: {error.message} @ {where}\n{error.stack or ''}".rstrip())

    def third_party_problems(self) -> str | None:
        if not self.third_party:
            return None
        lines = "\n".join(f"  - {entry}" for entry in self.third_party)
        return f"{len(self.third_party)} third-party request(s) attempted (blocked):\n{lines}"

    def error_problems(self) -> str | None:
        parts = []
        if self.console_errors:
            lines = "\n".join(f"  - {entry}" for entry in self.console_errors)
            parts.append(f"{len(self.console_errors)} console error(s):\n{lines}")
        if self.page_errors:
            lines = "\n".join(f"  - {entry}" for entry in self.page_errors)
            parts.append(f"{len(self.page_errors)} uncaught page error(s):\n{lines}")
        return "\n".join(parts) or None

    def check_third_party(self) -> None:
        problem = self.third_party_problems()
        if problem:
            raise AssertionError(problem)

    def check_errors(self) -> None:
        problem = self.error_problems()
        if problem:
            raise AssertionError(problem)

    def check(self) -> None:
        problems = [p for p in (self.third_party_problems(), self.error_problems()) if p]
        if problems:
            raise AssertionError("\n".join(problems))


_GUARDS: weakref.WeakKeyDictionary[BrowserContext, BrowserGuard] = weakref.WeakKeyDictionary()


def guard_of(page: Page) -> BrowserGuard:
    """The guard of the context `page` belongs to (e.g. to call `allow_console_error`)."""
    return _GUARDS[page.context]


def is_local_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return (parts.hostname or "") in LOCAL_HOSTS


# --------------------------------------------------------------------------------------------------------
# Accessibility
# --------------------------------------------------------------------------------------------------------


def _axe_source() -> Path:
    deadline = time.monotonic() + AXE_WAIT_SECONDS
    while not AXE_PATH.is_file() or AXE_PATH.stat().st_size == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"axe-core is missing: expected {AXE_PATH} (vendored axe.min.js)")
        time.sleep(1)
    return AXE_PATH


def _inject_axe(page: Page) -> None:
    """Add axe-core to the page with `add_script_tag`. A page whose Content-Security-Policy refuses inline
    scripts makes that fail (and log a console error): then evaluate the source over the DevTools protocol,
    which the CSP does not restrict, and forget the console error our own injection caused."""
    if page.evaluate("typeof window.axe") == "object":
        return
    path = _axe_source()
    guard = _GUARDS.get(page.context)
    logged = len(guard.console_errors) if guard else 0
    try:
        page.add_script_tag(path=path)
    except PlaywrightError as error:
        if "Content Security Policy" not in str(error):
            raise
        page.evaluate("source => { (0, eval)(source); }", path.read_text(encoding="utf-8"))
        if guard:
            guard.console_errors[logged:] = [
                entry for entry in guard.console_errors[logged:] if "Content Security Policy" not in entry
            ]
    if page.evaluate("typeof window.axe") != "object":
        raise AssertionError(f"could not load axe-core from {path} into {page.url}")


def format_violations(violations: list[dict[str, Any]]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} [{violation.get('impact') or 'n/a'}]: {violation['help']} "
            f"({violation.get('helpUrl', '')})"
        )
        nodes = violation.get("nodes", [])
        for node in nodes[:3]:
            target = ", ".join(str(t) for t in node.get("target", []))
            html = " ".join(str(node.get("html", "")).split())
            if len(html) > 200:
                html = html[:197] + "..."
            lines.append(f"    {target}: {html}")
        if len(nodes) > 3:
            lines.append(f"    ... and {len(nodes) - 3} more")
    return "\n".join(lines)


def assert_accessible(page: Page, name: str) -> None:
    """Run axe-core (WCAG 2.1 A and AA rules) on the page once loaded; fail listing every violation."""
    page.wait_for_load_state("load")  # colour contrast needs the stylesheets
    _inject_axe(page)
    result = page.evaluate(
        """tags => axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations'],
        })""",
        AXE_TAGS,
    )
    violations = result["violations"]
    if violations:
        raise AssertionError(
            f"{len(violations)} accessibility violation(s) on {name} ({page.url}):\n"
            + format_violations(violations)
        )


# --------------------------------------------------------------------------------------------------------
# Layout and screenshots
# --------------------------------------------------------------------------------------------------------


def assert_no_sideways_scroll(page: Page) -> None:
    """The page must fit the viewport's width (no horizontal scrolling on a phone).

    Compares `document.documentElement.scrollWidth` with the layout viewport's width
    (`document.documentElement.clientWidth`): in Chromium's mobile emulation `window.innerWidth` grows with
    wide content (the page is zoomed out to fit), so on its own it would hide the overflow.
    """
    page.wait_for_load_state("load")  # after a click-navigation the stylesheets may still be arriving
    scroll_width, client_width, inner_width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth, window.innerWidth]"
    )
    viewport_width = min(client_width, inner_width)
    if scroll_width > viewport_width:
        wide = page.evaluate(
            """(limit) => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > limit + 1)
                .slice(-3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
                    (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : ''))""",
            viewport_width,
        )
    else:
        wide = []
    assert scroll_width <= viewport_width, (
        f"page scrolls sideways on {page.url}: document.documentElement.scrollWidth={scroll_width} > "
        f"viewport width={viewport_width} (documentElement.clientWidth={client_width}, "
        f"window.innerWidth={inner_width}); elements past the edge: {wide}"
    )


def screenshot(page: Page, name: str) -> Path:
    """A full-page PNG at tests/artifacts/screenshots/NAME.png (gitignored); returns its path."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


# --------------------------------------------------------------------------------------------------------
# Page weight
# --------------------------------------------------------------------------------------------------------


@dataclass
class PageWeight:
    """Bytes of the bodies of document, stylesheet and script responses (decoded, i.e. after gzip)."""

    items: list[tuple[str, str, int]] = field(default_factory=list)  # (resource type, url, bytes)

    @property
    def total(self) -> int:
        return sum(size for _, _, size in self.items)

    def by_type(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for kind, _, size in self.items:
            sizes[kind] = sizes.get(kind, 0) + size
        return sizes

    def describe(self) -> str:
        lines = [f"{self.total} bytes in total"]
        lines += [f"  {size:>8}  {kind:<10}  {url}" for kind, url, size in self.items]
        return "\n".join(lines)


class WeightMeter:
    """Collects responses of a page from now on; `weight()` sums their bodies. Attach before navigating."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.responses: list[Response] = []
        page.on("response", self._on_response)

    def _on_response(self, response: Response) -> None:
        self.responses.append(response)

    def weight(self) -> PageWeight:
        self.page.remove_listener("response", self._on_response)
        result = PageWeight()
        for response in self.responses:
            kind = response.request.resource_type
            if kind not in WEIGHED_TYPES or 300 <= response.status < 400:
                continue
            result.items.append((kind, response.url, len(response.body())))
        return result


def page_weight(page: Page, url: str) -> PageWeight:
    """Load `url` in `page` (waiting for the load event) and weigh its document, CSS and JS."""
    meter = WeightMeter(page)
    page.goto(url, wait_until="load")
    return meter.weight()
