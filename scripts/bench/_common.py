"""Helpers shared by the benchmarks in scripts/bench/ (not part of the app, not imported by tests)."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"
BUURTKAS = VENV / "bin" / "buurtkas"
AREAS_CSV = ROOT / "app" / "demo" / "data" / "areas.csv"

PG_HOST = os.environ.get("BENCH_PG_HOST", "127.0.0.1")
PG_PORT = os.environ.get("BENCH_PG_PORT", "5432")
PG_USER = os.environ.get("BENCH_PG_USER", "postgres")

# Same key for issuing codes and for serving: the code hashes depend on it.
SECRET_KEY = "bench-only-secret-key-not-for-production-0123456789"

# The importer's header (app.households.service.COLUMNS), copied: this module is imported before the
# script has re-executed itself in the project venv, so it cannot import app yet.
HOUSEHOLD_COLUMNS = (
    "address_id",
    "postcode",
    "huisnummer",
    "huisletter",
    "toevoeging",
    "straat",
    "woonplaats",
    "buurtcode",
)
_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
_PAIRS = [a + b for a in _LETTERS for b in _LETTERS if a + b not in {"SA", "SD", "SS"}]
_PER_POSTCODE = 20


def ensure_venv() -> None:
    """Re-run this script with the project's venv (created by scripts/setup when missing)."""
    if not BUURTKAS.exists():
        subprocess.run([str(ROOT / "scripts" / "setup")], check=True)
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(VENV_PY), [str(VENV_PY), sys.argv[0], *sys.argv[1:]])


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def buurt_codes() -> list[str]:
    with AREAS_CSV.open(encoding="utf-8", newline="") as handle:
        return [row["code"] for row in csv.DictReader(handle) if row["kind"] == "buurt"]


def household_rows(count: int) -> Iterator[tuple[str, ...]]:
    """`count` unique, valid, fictitious addresses spread over the demo buurten (deterministic)."""
    buurten = buurt_codes()
    for n in range(count):
        block, number = divmod(n, _PER_POSTCODE)
        digits, pair = divmod(block, len(_PAIRS))
        if digits > 8999:
            raise ValueError("too many households for the postcode generator")
        postcode = f"{1000 + digits}{_PAIRS[pair]}"
        yield (
            f"99{n:014d}",
            postcode,
            str(number + 1),
            "",
            "",
            f"Benchstraat {block % 997}",
            "Almelo",
            buurten[block % len(buurten)],
        )


def write_households_csv(path: Path, count: int) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(HOUSEHOLD_COLUMNS)
        writer.writerows(household_rows(count))
    return path


def pg_url(database: str) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


def psql(database: str, sql: str) -> str:
    out = subprocess.run(
        [
            "psql",
            "-X",
            "-q",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            PG_HOST,
            "-p",
            PG_PORT,
            "-U",
            PG_USER,
            "-d",
            database,
            "-c",
            sql,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def create_database(name: str) -> None:
    drop_database(name)
    psql("postgres", f'CREATE DATABASE "{name}"')


def drop_database(name: str) -> None:
    psql("postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def app_env(database_url: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY=SECRET_KEY,
        ENVIRONMENT="production",
        INITIATIVE_MAX_TARGET_CENTS="100000000",
        CODE_FAILURES_PER_CLIENT="100000000",
        CODE_FAILURES_TOTAL="100000000",
    )
    env.update(extra)
    return env


def buurtkas(args: Sequence[str], env: dict[str, str], *, cwd: Path) -> str:
    """Run a `buurtkas` command; print its output and stop the benchmark when it fails."""
    result = subprocess.run([str(BUURTKAS), *args], env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"buurtkas {' '.join(args)} failed with exit {result.returncode}")
    return result.stdout


def timed(args: Sequence[str], env: dict[str, str], *, cwd: Path) -> tuple[float, int, str]:
    """Run a command as a direct child: (wall seconds, peak RSS in MB of that process, stdout+stderr)."""
    log_path = cwd / f".timed-{os.getpid()}-{time.monotonic_ns()}.log"
    with log_path.open("w") as out:
        started = time.perf_counter()
        child = subprocess.Popen(list(args), env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    text = log_path.read_text()
    log_path.unlink()
    if child.returncode != 0:
        sys.stderr.write(text)
        raise SystemExit(f"{' '.join(args)} failed with exit {child.returncode}")
    return elapsed, usage.ru_maxrss // 1024, text  # ru_maxrss is in KiB on Linux


def ensure_tool(binary: str, package: str) -> str:
    """Path of `binary`, installing the Debian package when it is missing (apt-get update on failure)."""
    found = shutil.which(binary)
    if found:
        return found
    log(f"installing {package} (apt-get)")
    install = ["apt-get", "install", "-y", "-q", package]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=True)
        subprocess.run(install, capture_output=True, check=True)
    found = shutil.which(binary)
    if not found:
        raise SystemExit(f"{binary} is still missing after installing {package}")
    return found


class CpuSampler:
    """CPU seconds (user+sys) used during a window by named groups of processes, sampled from /proc.

    `groups` maps a name to a predicate on (pid, cmdline). Processes are sampled every `interval` seconds
    so short-lived ones (pgbench's backends) are counted up to their last sample; a process first seen
    during the window counts from zero. Also measures the whole machine's busy share from /proc/stat.
    """

    def __init__(self, groups: dict[str, Callable[[int, str], bool]], interval: float = 0.25) -> None:
        self.groups = groups
        self.interval = interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._group_of: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.result: dict[str, float] = {}

    @staticmethod
    def _machine() -> tuple[float, float]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return float(sum(fields) - fields[3] - fields[4]), float(sum(fields))

    def _sample(self, initial: bool) -> None:
        ticks = os.sysconf("SC_CLK_TCK")
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            try:
                group = self._group_of.get(pid)
                if group is None:
                    cmdline = (
                        Path(f"/proc/{entry}/cmdline")
                        .read_bytes()
                        .replace(b"\0", b" ")
                        .decode(errors="replace")
                    )
                    group = next((name for name, match in self.groups.items() if match(pid, cmdline)), "")
                    self._group_of[pid] = group
                if not group:
                    continue
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            used = (int(fields[11]) + int(fields[12])) / ticks
            if pid not in self._first:
                self._first[pid] = used if initial else 0.0
            self._last[pid] = used

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample(False)

    def __enter__(self) -> CpuSampler:
        self._machine0 = self._machine()
        self._started = time.perf_counter()
        self._sample(True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._sample(False)
        self._stop.set()
        self._thread.join()
        self.seconds = time.perf_counter() - self._started
        busy1, total1 = self._machine()
        busy0, total0 = self._machine0
        ncpu = os.cpu_count() or 1
        self.result = {name: 0.0 for name in self.groups}
        for pid, last in self._last.items():
            self.result[self._group_of[pid]] += last - self._first[pid]
        # machine-wide busy CPU seconds over the window (all processes, ours and everyone else's)
        self.result["machine"] = (busy1 - busy0) / max(total1 - total0, 1) * ncpu * self.seconds


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = {pid}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found
