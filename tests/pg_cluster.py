"""A private PostgreSQL cluster for the fault suite: its own data directory and port, so a test may stop,
crash and restart it without touching the shared server other tests run against.

Built with the server binaries of the machine's PostgreSQL (`/usr/lib/postgresql/<version>/bin`). As root
(CI), the cluster runs as the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from tests.served import free_port


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


class PrivateCluster:
    def __init__(self) -> None:
        binaries = server_binaries()
        if binaries is None:
            raise RuntimeError("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are not installed")
        self.bin = binaries
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="buurtkas-pg-"))
        self.data = self.root / "data"
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            account = pwd.getpwnam(self.user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        try:
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"
            )
        except BaseException:
            shutil.rmtree(self.root, ignore_errors=True)
            raise
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=on"
            " -c max_connections=120 -c shared_buffers=32MB"
        )
        self._options = options
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/buurtkas"

    def _run(
        self, tool: str, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / tool), *args]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=self.root)
        assert not check or done.returncode == 0, f"{tool} failed: {done.stdout}\n{done.stderr}"
        return done

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", self._options, "-l", str(self.root / "log"), "-w", "start"
        )

    def restart(self, mode: str) -> None:
        """`fast`: sessions are ended and rolled back; `immediate`: no shutdown at all, crash recovery on start."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        time.sleep(1.0)  # the app meets a server that is really gone, not just a blip
        self.start()

    def create_database(self) -> None:
        engine = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with engine.connect() as conn:
            conn.execute(text("CREATE DATABASE buurtkas"))
        engine.dispose()

    def destroy(self) -> None:
        """Stop it however it is (never hiding the test's own failure) and remove its files."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
