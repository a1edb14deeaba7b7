"""`buurtkas serve --workers N` turns Nagle's algorithm off on the connections it accepts, on either event loop.

With several workers uvicorn's supervisor binds the listening socket with protocol 0; asyncio's own loop
then leaves TCP_NODELAY off on accepted sockets, and every request on a keep-alive connection waited 40 ms
for the client's delayed ACK (issue 9; scripts/bench/workers measures it). The option is read here on the
server's end of the connection, in the worker that accepted it (pidfd_getfd), never timed.
Checked to fail: with serve's `http=GuardedHttpToolsProtocol` removed, the asyncio case read 0 (undone).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_helpers import BUURTKAS
from tests.databases import TEST_SECRET

WORKERS = 2
SYS_PIDFD_GETFD = 438  # the same number on every Linux architecture (Linux >= 5.6)


@pytest.fixture
def backend() -> str:
    """One database is enough: this is about the server's sockets."""
    return "sqlite"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(pid: int) -> list[int]:
    found, todo = [pid], [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").iterdir():
            children = [int(child) for child in (task / "children").read_text().split()]
            found += children
            todo += children
    return found


@contextlib.contextmanager
def serve(database_url: str, port: int, python_path: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`buurtkas serve --workers 2`, yielded once both workers have started."""
    keep = ("PATH", "HOME", "TMPDIR")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=TEST_SECRET,
        ENVIRONMENT="test",
        BASE_URL=f"http://127.0.0.1:{port}",
        LANG="C.UTF-8",
    )
    if python_path:
        env["PYTHONPATH"] = python_path
    command = [str(BUURTKAS), "serve", "--port", str(port), "--workers", str(WORKERS)]
    with log.open("wb") as out:
        server = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while log.read_text(errors="replace").count("Application startup complete") < WORKERS:
            assert server.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.1)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def get_healthz(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while not answer.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(4096)
        assert chunk, answer
        answer += chunk
    return answer


def accepted_end(server_pid: int, client: socket.socket) -> tuple[int, socket.socket]:
    """The worker that accepted `client`'s connection and a duplicate of its socket (pidfd_getfd)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for pid in process_tree(server_pid):
        fds = [int(fd) for fd in os.listdir(f"/proc/{pid}/fd")]
        pidfd = os.pidfd_open(pid)
        try:
            for fd in fds:
                copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
                if copy < 0:
                    if ctypes.get_errno() in (errno.ENOSYS, errno.EPERM):
                        pytest.skip("pidfd_getfd is not available here (Linux >= 5.6, ptrace allowed)")
                    continue
                try:
                    sock = socket.socket(fileno=copy)
                except OSError:  # not a socket
                    os.close(copy)
                    continue
                with contextlib.suppress(OSError):  # OSError: the listening socket, no peer
                    if sock.family == socket.AF_INET and sock.getpeername() == client.getsockname():
                        return pid, sock
                sock.close()
        finally:
            os.close(pidfd)
    raise AssertionError("no server process holds the accepted connection")


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_accepted_connections_have_tcp_nodelay(loop: str, database_url: str, tmp_path: Path) -> None:
    python_path = ""
    if loop == "asyncio":  # as where uvloop is not installed: uvicorn's "auto" loop is then asyncio's
        (tmp_path / "no-uvloop").mkdir()
        (tmp_path / "no-uvloop" / "uvloop.py").write_text('raise ImportError("hidden by the test")\n')
        python_path = str(tmp_path / "no-uvloop")
    port = free_port()
    with (
        serve(database_url, port, python_path, tmp_path / "server.log") as server,
        socket.create_connection(("127.0.0.1", port), timeout=30) as client,
    ):
        assert b" 200 " in get_healthz(client).split(b"\r\n", 1)[0]
        worker, accepted = accepted_end(server.pid, client)
        with accepted:
            nodelay = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        # the request went to one of the workers, on the loop meant
        assert worker != server.pid
        uses_uvloop = "/uvloop/loop." in Path(f"/proc/{worker}/maps").read_text()
        assert uses_uvloop == (loop == "uvloop")
        assert nodelay == 1, f"{loop}, {WORKERS} workers: the accepted connection has Nagle's algorithm on"
