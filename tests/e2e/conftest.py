"""Browser tests: the real app under uvicorn on 127.0.0.1, driven in Debian's headless Chromium by Playwright.

Fixtures:
  live_server -> str        base URL ("http://127.0.0.1:PORT") of the app serving this test's SQLite database
  browser     -> Browser    one headless Chromium per session (/usr/bin/chromium; never `playwright install`);
                            skipped when it is missing, failed instead when BUURTKAS_REQUIRE_BROWSER is set
  phone       -> Page       a page in a fresh phone-sized context (390x844 @2x, touch, nl-NL, JavaScript on)
  phone_nojs  -> Page       the same with JavaScript disabled

A context's pages may only talk to 127.0.0.1/localhost: other requests are aborted, and at teardown the
test fails listing them, and listing any console errors or uncaught page errors. Use
`helpers.guard_of(page).allow_console_error(regex)` for an error a test expects. When the test also uses
`live_server`, the context's base URL is the server's, so `phone.goto("/")` works.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.databases import test_settings
from tests.e2e.helpers import BrowserGuard

CHROMIUM = Path(os.environ.get("BUURTKAS_CHROMIUM", "/usr/bin/chromium"))  # Debian's chromium package
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "nl-NL",
}
LAPTOP = {
    "viewport": {"width": 1366, "height": 768},
    "device_scale_factor": 1,
    "is_mobile": False,
    "has_touch": False,
    "locale": "nl-NL",
}
STARTUP_SECONDS = 15.0
SHUTDOWN_SECONDS = 10.0


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.browser)


# ---------------------------------------------------------------------------------------------------------
# The app on a real socket
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only (overrides the sqlite/postgresql parametrisation)."""
    return "sqlite"


@pytest.fixture
def live_socket() -> Iterator[socket.socket]:
    """A listening address picked before the settings are built, so `settings.base_url` is the real one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def settings(database_url: str, live_socket: socket.socket) -> Settings:
    host, port = live_socket.getsockname()
    return test_settings(database_url).model_copy(update={"base_url": f"http://{host}:{port}"})


@pytest.fixture
def live_server(settings: Settings, db: Database, live_socket: socket.socket) -> Iterator[str]:
    """Run `create_app(settings, db)` under uvicorn in a thread; yield its base URL."""
    url = settings.base_url
    config = uvicorn.Config(
        create_app(settings, db),
        lifespan="on",
        ws="none",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    failure: list[BaseException] = []

    def serve() -> None:
        try:
            server.run(sockets=[live_socket])
        except BaseException as error:  # reported in the test, not as an unhandled thread exception
            failure.append(error)

    thread = threading.Thread(target=serve, name="live-server", daemon=True)
    thread.start()
    try:
        _wait_until_healthy(url, thread, failure)
        yield url
    finally:
        server.should_exit = True
        thread.join(SHUTDOWN_SECONDS)
    if thread.is_alive():
        pytest.fail(f"live server at {url} did not stop within {SHUTDOWN_SECONDS}s")
    if failure:
        raise failure[0]


def _wait_until_healthy(url: str, thread: threading.Thread, failure: list[BaseException]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last: object = None
    with httpx.Client(trust_env=False, timeout=1.0) as client:
        while time.monotonic() < deadline:
            if failure:
                raise RuntimeError(f"live server failed to start: {failure[0]!r}") from failure[0]
            if not thread.is_alive():
                raise RuntimeError("live server stopped during startup (lifespan failed?)")
            try:
                response = client.get(f"{url}/healthz")
                if response.status_code == 200:
                    return
                last = response.status_code
            except httpx.TransportError as error:
                last = error
            time.sleep(0.02)
    raise RuntimeError(f"live server at {url} did not answer /healthz within {STARTUP_SECONDS}s: {last!r}")


# ---------------------------------------------------------------------------------------------------------
# Chromium
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (scripts/setup installs Debian's chromium)"
        if os.environ.get("BUURTKAS_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}; BUURTKAS_REQUIRE_BROWSER is set, so browser tests may not be skipped")
        pytest.skip(reason)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


ContextFactory = Callable[..., Page]


@pytest.fixture
def new_phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[ContextFactory]:
    """Factory: `new_phone(**context_options) -> Page` in a fresh guarded phone context; checked at teardown."""
    opened: list[tuple[BrowserContext, BrowserGuard]] = []
    base_url = request.getfixturevalue("live_server") if "live_server" in request.fixturenames else None

    def make(**options: Any) -> Page:
        settings = {**PHONE, **({"base_url": base_url} if base_url else {}), **options}
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)
        context.set_default_navigation_timeout(15_000)
        guard = BrowserGuard().attach(context)
        opened.append((context, guard))
        return context.new_page()

    yield make
    problems = []
    for context, guard in opened:
        context.close()
        try:
            guard.check()
        except AssertionError as error:
            problems.append(str(error))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def phone(new_phone: ContextFactory) -> Page:
    return new_phone()


@pytest.fixture
def phone_nojs(new_phone: ContextFactory) -> Page:
    return new_phone(java_script_enabled=False)


@pytest.fixture
def laptop(new_phone: ContextFactory) -> Page:
    """The back office is used on a laptop: 1366×768, mouse, no touch."""
    return new_phone(**LAPTOP)
