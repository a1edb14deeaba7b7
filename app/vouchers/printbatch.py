"""The print batch: the only place a voucher code exists in plain text.

Every file that holds codes (this CSV, the letters PDF, the mail-merge CSV) is an `AtomicFile`: written
to a temporary file beside the target (mode 0600) while the vouchers are issued, flushed to disk by
`finish()` before the database commits (so a full disk rolls the vouchers back), and given its name by
`commit()` only after the database committed. A failure never leaves a file of codes that do not work,
nor a half file that looks complete.
"""

from __future__ import annotations

import csv
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from sqlalchemy import Row

COLUMNS = ("address_id", "postcode", "huisnummer", "huisletter", "toevoeging", "straat", "woonplaats", "code")


class OutputFileError(Exception):
    """An output file cannot be written; the message names the option and the file."""


class PrintBatchExists(OutputFileError):
    """The target file is there already: it may hold the only copy of earlier codes."""


class OutputUnwritable(OutputFileError):
    """The folder cannot be written to, or writing failed (e.g. the disk is full)."""


class FileKept(Exception):
    """After the database committed, a file could not be given its name; it is kept under its temporary
    name (the message says which), because the codes in it work."""


class AtomicFile:
    """A file written under a hidden temporary name beside `path` and given its name only by `commit()`."""

    def __init__(self, path: Path, *, option: str, overwrite: bool = False, binary: bool = False) -> None:
        self.path = path
        self.option = option
        self._overwrite = overwrite
        self._finished = self._committed = False
        self.directory = path.parent if str(path.parent) else Path(".")
        if path.exists() and not overwrite:
            raise PrintBatchExists(
                f"{option}: {path} exists already and may hold the only copy of earlier codes; "
                "choose a new file name"
            )
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=self.directory)
        except OSError as exc:
            raise OutputUnwritable(f"{option}: cannot write in {self.directory}: {exc.strerror}") from exc
        self.tmp = Path(tmp)
        self.handle: IO[Any] = (
            os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="", encoding="utf-8")
        )

    def failed(self, exc: OSError) -> OutputUnwritable:
        """The error to raise when writing this file failed (disk full, folder gone)."""
        return OutputUnwritable(f"{self.option}: cannot write {self.path}: {exc.strerror or exc}")

    def finish(self) -> None:
        """Flush the file to disk and close it; call before the database commits, so a full disk stops
        the transaction."""
        if self._finished:
            return
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
        except OSError as exc:
            raise self.failed(exc) from exc
        self._finished = True

    def commit(self) -> None:
        """Make the file visible under its name; call only after the database transaction committed.

        The codes in it work from now on: if the name cannot be given (it appeared meanwhile), the
        temporary file is kept and `FileKept` says where it is.
        """
        self.finish()
        self._committed = True
        try:
            if self._overwrite:
                os.replace(self.tmp, self.path)
            else:
                # link() fails if the name appeared meanwhile, so an earlier batch is never overwritten.
                os.link(self.tmp, self.path)
                self.tmp.unlink()
        except OSError as exc:
            raise FileKept(
                f"{self.option}: the vouchers were issued, but {self.path} could not be written "
                f"({exc.strerror or exc}); the file is kept as {self.tmp}: rename it yourself"
            ) from exc

    def discard(self) -> None:
        if not self._committed:
            self.handle.close()
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()


class CodesFile(AtomicFile):
    """The print batch CSV: address columns and the code, one row per voucher issued."""

    def __init__(self, path: Path, *, overwrite: bool = False, option: str = "--codes-out") -> None:
        super().__init__(path, option=option, overwrite=overwrite)
        self.count = 0
        self._writer = csv.writer(self.handle)
        self._writer.writerow(COLUMNS)

    def write(self, household: Row[Any], code: str, amount_cents: int | None = None) -> None:
        try:
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
        except OSError as exc:
            raise self.failed(exc) from exc
        self.count += 1

    def __enter__(self) -> CodesFile:
        return self
