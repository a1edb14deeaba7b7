"""The print batch: the only place a voucher code exists in plain text.

Written to a temporary file beside the target (mode 0600) while the vouchers are issued, flushed to disk,
and renamed into place only after the database committed, so a failure never leaves a file of codes that
do not work, nor a half file that looks complete.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Row

COLUMNS = ("address_id", "postcode", "huisnummer", "huisletter", "toevoeging", "straat", "woonplaats", "code")


class PrintBatchExists(Exception):
    """The target file is there already: it may hold the only copy of earlier codes."""


class CodesFile:
    def __init__(self, path: Path, *, overwrite: bool = False) -> None:
        self.path = path
        self.count = 0
        self._committed = False
        self._overwrite = overwrite
        directory = path.parent if str(path.parent) else Path(".")
        if path.exists() and not overwrite:
            raise PrintBatchExists(
                f"{path} exists already and may hold the only copy of earlier codes; choose a new file name"
            )
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
        except OSError as exc:
            from app.cli import CliFailure

            raise CliFailure(f"--codes-out: cannot write in {directory}: {exc.strerror}") from exc
        self._tmp = Path(tmp)
        self._handle = os.fdopen(fd, "w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(COLUMNS)

    def write(self, household: Row[Any], code: str) -> None:
        self._writer.writerow(
            (
                household.address_id or "",
                household.postcode,
                household.huisnummer,
                household.huisletter,
                household.toevoeging,
                household.straat,
                household.woonplaats,
                code,
            )
        )
        self.count += 1

    def commit(self) -> None:
        """Make the file visible under its name; call only after the database transaction committed."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        if self._overwrite:
            os.replace(self._tmp, self.path)
        else:
            # link() fails if the name appeared meanwhile, so an earlier batch is never overwritten.
            os.link(self._tmp, self.path)
            self._tmp.unlink()
        self._committed = True

    def __enter__(self) -> CodesFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            self._handle.close()
            self._tmp.unlink(missing_ok=True)
