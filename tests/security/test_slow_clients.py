"""Slow clients (headers or a body trickled byte by byte, many at once) do not hold up anyone else, and
`buurtkas serve` keeps uvicorn's bounds on idle connections and header size.

Guards that the app reads request bodies asynchronously before a route's worker thread is taken (FastAPI
does this for JSON bodies; read_form does it for forms) and that uvicorn serves connections concurrently:
with WORKER_THREADS=1 a trickling body would block every other request if it were read inside the thread.
Checked to fail: the same test against a server started with `limit_concurrency=1` (a server that holds
one connection at a time) failed (the normal requests got 503 / waited), and with the serve command's
uvicorn.run given `timeout_keep_alive=600` the config test failed (both undone, never committed).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.databases import test_settings
from tests.factories import build_world

TRICKLERS = 20
BUDGET_SECONDS = 1.0  # a normal request must answer within this while the slow clients trickle


@pytest.fixture
def backend() -> str:
    """One database is enough: this is about the server's connection handling."""
    return "sqlite"


@pytest.fixture
def live(database_url: str) -> Iterator[tuple[str, int]]:
    conf = test_settings(database_url, worker_threads=1)
    db = Database(conf)
    build_world(db, conf, households=4)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        create_app(conf, db),
        lifespan="on",
        ws="none",
        log_config=None,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}", port
    finally:
        server.should_exit = True
        thread.join(5)
        listener.close()
        db.dispose()


def trickle(port: int, head: bytes, drip: bytes, stop: threading.Event, answers: list[bytes]) -> None:
    """Send `head`, then `drip` one byte every 50 ms until `stop`; then finish the request and read."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head)
        sent = 0
        while not stop.is_set() and sent < len(drip) - 1:
            sock.sendall(drip[sent : sent + 1])
            sent += 1
            time.sleep(0.05)
        sock.sendall(drip[sent:])
        answers.append(sock.recv(200))


def test_trickling_clients_do_not_block_others(live: tuple[str, int]) -> None:
    url, port = live
    body = b'{"code": "K7QM-2XHD-9RTW-FA"}' + b" " * 200
    slow_body = (
        b"POST /api/v1/vouchers/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    )
    slow_headers_drip = b"".join(f"X-Slow-{n}: {'a' * 5}\r\n".encode() for n in range(40)) + b"\r\n"
    stop = threading.Event()
    answers: list[bytes] = []
    threads = []
    for n in range(TRICKLERS):
        if n % 2:
            args: Any = (port, slow_body, body, stop, answers)
        else:
            args = (
                port,
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
                slow_headers_drip,
                stop,
                answers,
            )
        threads.append(threading.Thread(target=trickle, args=args, daemon=True))
    for thread in threads:
        thread.start()
    time.sleep(0.3)  # every trickler is connected and half-way through its request
    timings = []
    with httpx.Client(trust_env=False, timeout=5) as client:
        for path in ("/healthz", "/api/v1/areas", "/", "/initiatives", "/api/v1/areas") * 2:
            started = time.monotonic()
            response = client.get(url + path)
            timings.append(time.monotonic() - started)
            assert response.status_code == 200, (path, response.status_code)
        check = client.post(url + "/api/v1/vouchers/check", json={"code": "ABC"})
        assert check.status_code == 422
    assert max(timings) < BUDGET_SECONDS, timings
    assert all(thread.is_alive() for thread in threads), "the tricklers were still sending during the test"
    stop.set()
    for thread in threads:
        thread.join(5)
    # the slow clients were not dropped either: each got its answer once it finished
    assert len(answers) == TRICKLERS
    assert all(answer.startswith(b"HTTP/1.1 ") for answer in answers), answers[:3]
    assert all(b" 500 " not in answer for answer in answers)


def test_serve_keeps_uvicorns_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import cli

    seen: dict[str, Any] = {}

    def fake_run(app: str, **kwargs: Any) -> None:
        seen.update(kwargs, app=app)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setattr(cli, "settings", lambda: Settings(_env_file=None))  # type: ignore[call-arg]
    cli.serve(host="127.0.0.1", port=8000, workers=1)
    assert seen, "buurtkas serve no longer calls uvicorn.run: check its timeouts here"
    app = seen.pop("app")
    config = uvicorn.Config(app, **seen)
    assert 1 <= config.timeout_keep_alive <= 30  # idle keep-alive connections are closed
    assert config.h11_max_incomplete_event_size is None or config.h11_max_incomplete_event_size <= 65_536
    assert config.limit_concurrency is None or config.limit_concurrency >= 100
