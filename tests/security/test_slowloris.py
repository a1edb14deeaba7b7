"""Slowloris: a client that sends its request headers a byte at a time is cut off once they take longer
than the time limit, on a new connection and on a kept-alive one, while a request that is merely slow
but finishes in time is answered.

Guards GuardedHttpToolsProtocol in app/ops/serving.py (the protocol `buurtkas serve` gives uvicorn, which
has no header time limit of its own). The last test fails if serve stops using it; the first fails
against uvicorn's plain protocol (checked: with `http=HttpToolsProtocol` the connection stayed open for the
whole 4 s and the test failed; undone).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.ops.serving import GuardedHttpToolsProtocol
from tests.databases import test_settings

LIMIT = 1.0  # seconds, instead of the 20 s in production


class QuickLimit(GuardedHttpToolsProtocol):
    header_timeout = LIMIT


@pytest.fixture
def backend() -> str:
    return "sqlite"  # this is about connections, not the database


@pytest.fixture
def port(database_url: str) -> Iterator[int]:
    conf = test_settings(database_url)
    db = Database(conf)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(conf, db), http=QuickLimit, lifespan="on", log_config=None, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield int(listener.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(5)
        listener.close()
        db.dispose()


def closed_while_dripping(sock: socket.socket, *, for_seconds: float) -> float | None:
    """Drip header bytes; the seconds until the server closed the connection, or None if it never did."""
    started = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - started < for_seconds:
        try:
            sock.sendall(b"X-Drip: a\r\n")
            if sock.recv(1024) == b"":
                return time.monotonic() - started
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - started
    return None


def test_headers_dripped_on_a_new_connection_are_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        closed_after = closed_while_dripping(sock, for_seconds=8 * LIMIT)
    assert closed_after is not None, "the server kept a dripping connection open"
    assert closed_after < 6 * LIMIT


def test_headers_dripped_on_a_kept_alive_connection_are_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert closed_while_dripping(sock, for_seconds=8 * LIMIT) is not None


def test_a_request_that_is_slow_but_in_time_is_answered(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n", b"\r\n"):
            sock.sendall(part)
            time.sleep(LIMIT / 16)
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        # and the time limit does not end a connection that is just waiting for its answer or idle
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        time.sleep(2 * LIMIT)  # idle between requests: uvicorn's keep-alive (5 s) decides, not this limit
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")


def test_serve_uses_the_guarded_protocol(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import cli

    seen: dict[str, Any] = {}
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)  # serve would empty it
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(cli, "settings", lambda: Settings(_env_file=None))  # type: ignore[call-arg]
    cli.serve(host="127.0.0.1", port=8000, workers=2)
    assert seen["http"] is GuardedHttpToolsProtocol
    assert 5 <= GuardedHttpToolsProtocol.header_timeout <= 60
