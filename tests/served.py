"""The real server in tests: `buurtkas serve --workers N` as a child process on a free port.

The race tests of modules marked `served` run through it as well as through the in-process `TestClient`
(the `client` fixture in conftest): there, several operating-system processes, each with its own
connection pool, compete for the same rows, as they do in production. The fault suite kills it
with SIGKILL and starts it again.

`ServedClient` is an `httpx2.Client` with the server's address as its base URL, so the helpers that take a
`TestClient` (`client.post("/api/v1/pledges", …)`) work unchanged.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
from fastapi.testclient import TestClient

from tests.cli_helpers import BUURTKAS
from tests.databases import TEST_SECRET

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
# 4 workers x (6 + 4) connections stay well inside PostgreSQL's 100, beside the other tests running.
SERVER_POOL = {"DB_POOL_SIZE": "6", "DB_MAX_OVERFLOW": "4"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_ticks(pid: int) -> int:
    """User + system CPU time of a process, in clock ticks (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _workers_of(pid: int) -> list[int]:
    """The uvicorn workers among a process's children (not multiprocessing's resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with contextlib.suppress(FileNotFoundError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(int(child))
    return found


class Server:
    """One `buurtkas serve` process tree. `start()` and `kill()` may be called again and again."""

    def __init__(
        self, database_url: str, *, workers: int = WORKERS, env: dict[str, str] | None = None
    ) -> None:
        self.database_url = database_url
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        keep = ("PATH", "HOME", "TMPDIR")
        self.env = {name: os.environ[name] for name in keep if name in os.environ}
        self.env.update(
            DATABASE_URL=database_url,
            SECRET_KEY=TEST_SECRET,
            ENVIRONMENT="test",
            BASE_URL=self.base_url,
            EMBED_CACHE_SECONDS="0",
            LANG="C.UTF-8",
            **SERVER_POOL,
            **(env or {}),
        )
        self.process: subprocess.Popen[bytes] | None = None
        self._cpu_at_start: dict[int, int] = {}
        # The server's output goes to a file: a pipe nobody reads fills up and blocks the server. Appending,
        # so that reading it here never moves where the server writes.
        self._output = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115  # closed by stop()
        self._home = tempfile.TemporaryDirectory(prefix="buurtkas-served-")
        self.env["MEDIA_DIR"] = str(Path(self._home.name) / "media")

    def start(self, *, timeout: float = 60) -> None:
        self.process = subprocess.Popen(
            [
                str(BUURTKAS),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            env=self.env,
            cwd=self._home.name,  # no developer's .env, nothing written into the checkout
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() takes the workers with it
        )
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f"the server stopped: {self.log()}"
            assert time.monotonic() < deadline, f"the server did not become ready: {self.log()}"
            if self.ready() and (self.workers == 1 or len(self.worker_pids()) == self.workers):
                break
            time.sleep(0.1)
        self._cpu_at_start = self._when_idle(deadline)

    def _when_idle(self, deadline: float) -> dict[int, int]:
        """CPU ticks of each worker once none has used any for 0.3 s (all have imported the app)."""
        last = {pid: _cpu_ticks(pid) for pid in self.worker_pids()}
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = {pid: _cpu_ticks(pid) for pid in self.worker_pids()}
            if now == last:
                return now
            last = now
        raise AssertionError(f"the workers did not settle: {self.log()}")

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def mark(self) -> None:
        """From now on `busy_workers` counts (a server shared by several tests)."""
        self._cpu_at_start = {pid: _cpu_ticks(pid) for pid in self.worker_pids()}

    def ready(self) -> bool:
        try:
            return httpx2.get(f"{self.base_url}/readyz", timeout=2).status_code == 200
        except httpx2.HTTPError:
            return False

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        if self.workers == 1:
            return [self.process.pid]
        try:
            return _workers_of(self.process.pid)
        except FileNotFoundError:
            return []

    def busy_workers(self, *, min_ticks: int = 5) -> int:
        """Workers that used at least `min_ticks` (1/100 s each) of CPU since start(): they served requests."""
        return sum(
            1
            for pid, before in self._cpu_at_start.items()
            if Path(f"/proc/{pid}").exists() and _cpu_ticks(pid) - before >= min_ticks
        )

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown, no finished requests, no flushed buffers."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM and a clean shutdown; then SIGKILL to whatever of the group is left (orphaned workers)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=20)
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=20)
        self._output.close()
        self._home.cleanup()

    def log(self, tail: int = 4000) -> str:
        """The end of what the server printed (all of its runs)."""
        if self._output.closed:
            return ""
        self._output.flush()
        self._output.seek(0)
        return self._output.read().decode(errors="replace")[-tail:]

    def client(self, **kw: Any) -> ServedClient:
        return ServedClient(self, **kw)


class ServedClient(httpx2.Client):
    """A browser or API client of a served app (its own cookies), with room for many threads at once."""

    def __init__(self, server: Server, **kw: Any) -> None:
        kw.setdefault("timeout", 60)
        kw.setdefault("limits", httpx2.Limits(max_connections=256, max_keepalive_connections=256))
        super().__init__(base_url=server.base_url, **kw)
        self.server = server
        self._others: list[ServedClient] = []

    def another(self) -> ServedClient:
        """Another browser; closed with this one."""
        other = ServedClient(self.server)
        self._others.append(other)
        return other

    def close(self) -> None:
        for other in self._others:
            other.close()
        super().close()

    def __exit__(self, *exc: Any) -> None:
        for other in self._others:
            other.close()
        super().__exit__(*exc)


@contextmanager
def served(
    database_url: str, *, workers: int = WORKERS, env: dict[str, str] | None = None
) -> Iterator[Server]:
    server = Server(database_url, workers=workers, env=env)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def another_browser(client: Any) -> Any:
    """Another browser (its own cookies) on the same running app, in-process or served."""
    if isinstance(client, ServedClient):
        return client.another()
    return TestClient(client.app)
