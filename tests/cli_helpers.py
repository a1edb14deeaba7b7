"""Running the real `buurtkas` command in tests, and reading what it did.

A failing command must exit non-zero with a clear message on stderr (naming the CSV line where there is
one) and print no traceback: `failure_problems` lists what is wrong with how a command failed.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.kit.clock import today as amsterdam_today
from tests.databases import TEST_SECRET
from tests.factories import BUURTEN

# The console script of the environment running the tests (the venv in scripts/test), else the one on PATH.
BUURTKAS = Path(sys.executable).with_name("buurtkas")
if not BUURTKAS.exists():
    BUURTKAS = Path(shutil.which("buurtkas") or "buurtkas")
AREA_COLUMNS = ["code", "name", "kind", "parent_code"]
CODE_FORMAT = re.compile(r"^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}$")
ADDRESS_FIELDS = ("postcode", "huisnummer", "huisletter", "toevoeging", "straat", "woonplaats")


@dataclass(frozen=True)
class Result:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"$ buurtkas {' '.join(self.args)}\n[exit {self.returncode}]\n{self.stdout}\n{self.stderr}"


class Cli:
    def __init__(self, database_url: str, cwd: Path) -> None:
        self.cwd = cwd
        keep = ("PATH", "HOME", "TMPDIR", "SYSTEMROOT")
        self.env = {name: os.environ[name] for name in keep if name in os.environ}
        self.env.update(
            DATABASE_URL=database_url,
            SECRET_KEY=TEST_SECRET,
            ENVIRONMENT="test",
            LANG="C.UTF-8",
            PYTHONIOENCODING="utf-8",
            NO_COLOR="1",
            TERM="dumb",
            COLUMNS="200",
        )

    def __call__(self, *args: object, lang: str | None = None, stdin: str | None = None) -> Result:
        env = dict(self.env, LANG=lang) if lang else self.env
        argv = tuple(str(arg) for arg in args)
        done = subprocess.run(
            [str(BUURTKAS), *argv],
            cwd=self.cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            input=stdin if stdin is not None else "",
        )
        return Result(argv, done.returncode, done.stdout, done.stderr)

    def many(self, *commands: Sequence[object], langs: Sequence[str | None] = ()) -> list[Result]:
        """Independent commands, two at a time (`langs`: LANG per command, default Dutch)."""
        languages = list(langs) or [None] * len(commands)
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda args, lang: self(*args, lang=lang), commands, languages))


def ok(result: Result) -> Result:
    assert result.returncode == 0, str(result)
    assert "Traceback" not in result.stderr, str(result)
    return result


def failure_problems(result: Result, messages: Sequence[str], *, exit_code: int | None = None) -> list[str]:
    """What is wrong with how a command failed (empty when it failed as it should)."""
    problems = []
    if result.returncode == 0 or (exit_code is not None and result.returncode != exit_code):
        problems.append(f"exit code {result.returncode}")
    if "Traceback" in result.stderr or "╭" in result.stderr or 'File "' in result.stderr:
        problems.append("a traceback on stderr")
    problems += [f"stderr lacks {message!r}" for message in messages if message not in result.stderr]
    if re.search(r"^\d+$", result.stdout, re.MULTILINE):
        problems.append("an id on stdout")
    return [f"{' '.join(result.args)}: {problem}\n{result}" for problem in problems]


def addresses(count: int, *, start: int = 0) -> list[tuple[Any, ...]]:
    """Distinct valid addresses spread over the three buurten."""
    return [
        ("", f"{7600 + n // 50}AB", n % 50 + 1, "", "", "Grotestraat", "Almelo", BUURTEN[n % len(BUURTEN)])
        for n in range(start, start + count)
    ]


def read_codes(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def stray_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.rglob("*") if path.is_file())


def day(offset: int) -> str:
    return (amsterdam_today() + timedelta(days=offset)).isoformat()
