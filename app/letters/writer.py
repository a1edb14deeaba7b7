"""Where new voucher codes go: the codes CSV, the letters PDF and the mail-merge CSV, in one pass.

`VoucherOutputs` is the sink `open_period` (and a reprint) calls once per voucher, in mail-house order;
each file writes that voucher at once, so memory stays small however many households there are. Every
file is an `AtomicFile` (app/vouchers/printbatch.py): `finish()` inside the transaction, `commit()` after
it, and without `commit()` nothing is left behind.

The mail-merge CSV is for a mail house's own printing: UTF-8 with a byte order mark and `;` between the
fields (what Dutch spreadsheet and word-processor settings open directly), one row per letter in the
same order as the PDF, with the lines as printed on the letter.
"""

from __future__ import annotations

import csv
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import Any

from reportlab import rl_config
from reportlab.pdfgen.canvas import Canvas

from app.kit.money import format_cents
from app.letters.layout import (
    AddressRow,
    Letterhead,
    LetterPage,
    PeriodFacts,
    last_day,
    new_canvas,
    postcode_line,
    qr_url,
    street_line,
)
from app.letters.pdfjoin import PdfJoiner
from app.vouchers.printbatch import AtomicFile, CodesFile, FileKept

PART_PAGES = 2_000
"""Letters drawn into one part before it is added to the PDF: ReportLab holds a part in memory."""
ADDRESSEE = "Aan de bewoners van"
MAILMERGE_COLUMNS = (
    "aanhef",
    "adres",
    "postcode",
    "woonplaats",
    "code",
    "qr_url",
    "bedrag",
    "periode",
    "geldig_tot_en_met",
)


class LettersPdf:
    """The letters, one A4 page per `write`, drawn in parts and joined into one PDF as they come."""

    def __init__(self, path: Path, letterhead: Letterhead, *, option: str = "--letters-out") -> None:
        self.path = path
        self.letterhead = letterhead
        self.count = 0
        self.file = AtomicFile(path, option=option, binary=True)
        try:
            self._parts = Path(
                tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".parts", dir=self.file.directory)
            )
        except OSError as exc:
            self.file.discard()
            raise self.file.failed(exc) from exc
        self._joiner: PdfJoiner | None = None
        self._page: LetterPage | None = None
        self._in_part = 0
        self._period: PeriodFacts | None = None
        self._reprint = False

    def start(self, period: PeriodFacts, *, reprint: bool = False) -> None:
        """Set what every letter says about the period; draws the shared part at once, so a logo that
        cannot be read fails here, before any voucher is issued."""
        self._period, self._reprint = period, reprint
        self._joiner = PdfJoiner(self.file.handle, title=self._title(), author=self._author())
        self._new_part()

    def write(self, household: AddressRow, code: str, amount_cents: int | None = None) -> None:
        if self._in_part == PART_PAGES:
            self._add_part()
        if self._page is None:
            self._new_part()
        assert self._page is not None
        self._page.draw(household, code, amount_cents)
        self._in_part += 1
        self.count += 1

    def finish(self) -> None:
        """Add the last part and close the PDF (page tree, cross-references), then flush it to disk."""
        if self._in_part:
            self._add_part()
        if self._joiner is not None:
            try:
                self._joiner.close()
            except OSError as exc:
                raise self.file.failed(exc) from exc
        self.file.finish()
        shutil.rmtree(self._parts, ignore_errors=True)

    def commit(self) -> None:
        self.file.commit()

    def discard(self) -> None:
        shutil.rmtree(self._parts, ignore_errors=True)
        self.file.discard()

    def _new_part(self) -> None:
        if self._period is None:
            raise RuntimeError("LettersPdf.start(period) was not called")
        canvas = new_canvas(str(self._parts / "part.pdf"), title=self._title(), author=self._author())
        self._page = LetterPage(canvas, self.letterhead, self._period, reprint=self._reprint)
        self._in_part = 0

    def _add_part(self) -> None:
        assert self._page is not None and self._joiner is not None
        part = self._parts / "part.pdf"
        try:
            _save_binary(self._page.canvas)
            self._joiner.add(part)
            part.unlink()
        except OSError as exc:
            raise self.file.failed(exc) from exc
        self._page = None
        self._in_part = 0

    def _title(self) -> str:
        return f"Voucherbrieven {self._period.name}" if self._period else "Voucherbrieven"

    def _author(self) -> str:
        return f"Gemeente {self.letterhead.municipality}"


def _save_binary(canvas: Canvas) -> None:
    """Save without ReportLab's ASCII85 layer over the compressed streams: a fifth smaller, and without
    its pure-Python encoder (a sixth of the time). Either form is valid PDF, so the global switch is only
    set for this save."""
    previous = rl_config.useA85
    rl_config.useA85 = 0
    try:
        canvas.save()
    finally:
        rl_config.useA85 = previous


class MailMergeCsv:
    """The same letters as rows for a mail house (see the module docstring for the format)."""

    def __init__(self, path: Path, letterhead: Letterhead, *, option: str = "--mailmerge-out") -> None:
        self.path = path
        self.letterhead = letterhead
        self.count = 0
        self.file = AtomicFile(path, option=option)
        self._period: PeriodFacts | None = None
        self.file.handle.write("\ufeff")
        self._writer = csv.writer(self.file.handle, delimiter=";")
        self._writer.writerow(MAILMERGE_COLUMNS)

    def start(self, period: PeriodFacts, *, reprint: bool = False) -> None:
        self._period = period

    def write(self, household: AddressRow, code: str, amount_cents: int | None = None) -> None:
        period = self._period
        if period is None:
            raise RuntimeError("MailMergeCsv.start(period) was not called")
        postcode, _, town = postcode_line(household).partition("  ")
        amount = amount_cents if amount_cents is not None else period.value_cents
        try:
            self._writer.writerow(
                (
                    ADDRESSEE,
                    street_line(household),
                    postcode,
                    town,
                    code,
                    qr_url(self.letterhead.base_url, code),
                    format_cents(amount, "nl"),
                    period.name,
                    last_day(period.ends_on),
                )
            )
        except OSError as exc:
            raise self.file.failed(exc) from exc
        self.count += 1

    def finish(self) -> None:
        self.file.finish()

    def commit(self) -> None:
        self.file.commit()

    def discard(self) -> None:
        self.file.discard()


class Progress:
    """A progress bar on stderr when it is a terminal; silent otherwise (logs, tests, cron)."""

    def __init__(self, total: int, label: str) -> None:
        self._bar: Any = None
        if total > 0 and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress as RichProgress

            self._bar = RichProgress(console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task(label, total=total)
            self._bar.start()

    def advance(self) -> None:
        if self._bar is not None:
            self._bar.advance(self._task)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class VoucherOutputs:
    """The files one run of new codes goes to; any of them may be left out, but not all three."""

    def __init__(
        self,
        *,
        letterhead: Letterhead,
        codes: Path | None = None,
        letters: Path | None = None,
        mailmerge: Path | None = None,
    ) -> None:
        if codes is None and letters is None and mailmerge is None:
            raise ValueError("new codes must go to at least one file")
        self.codes: CodesFile | None = None
        self.letters: LettersPdf | None = None
        self.mailmerge: MailMergeCsv | None = None
        self.progress: Progress | None = None
        self.written = 0
        with ExitStack() as opened:  # a file that cannot be opened removes those opened before it
            if codes is not None:
                self.codes = CodesFile(codes)
                opened.callback(self.codes.discard)
            if letters is not None:
                self.letters = LettersPdf(letters, letterhead)
                opened.callback(self.letters.discard)
            if mailmerge is not None:
                self.mailmerge = MailMergeCsv(mailmerge, letterhead)
                opened.callback(self.mailmerge.discard)
            opened.pop_all()

    def start(self, period: PeriodFacts, *, expected: int, reprint: bool = False) -> None:
        """What the letters say about the period, and how many are expected (for the progress bar)."""
        for output in (self.letters, self.mailmerge):
            if output is not None:
                output.start(period, reprint=reprint)
        self.progress = Progress(expected, "Brieven" if self.letters else "Codes")

    def write(self, household: Any, code: str, amount_cents: int | None = None) -> None:
        """The sink: one voucher's code to every file, at once."""
        for output in (self.codes, self.letters, self.mailmerge):
            if output is not None:
                output.write(household, code, amount_cents)
        self.written += 1
        if self.progress is not None:
            self.progress.advance()

    def finish(self) -> None:
        """Close every file and flush it to disk: the last step inside the transaction."""
        if self.progress is not None:
            self.progress.stop()
        for output in (self.codes, self.letters, self.mailmerge):
            if output is not None:
                output.finish()

    def commit(self) -> None:
        """Give every file its name; after the database committed. A PDF without pages is not kept.

        Each file is tried even when an earlier one could not be named; the first such error is raised.
        """
        failure: FileKept | None = None
        for output in (self.codes, self.letters, self.mailmerge):
            if output is None:
                continue
            if output is self.letters and not self.written:
                output.discard()
                continue
            try:
                output.commit()
            except FileKept as exc:
                failure = failure or exc
        if failure is not None:
            raise failure

    def summary(self) -> str:
        """`, codes in X, letters in Y, mail-merge list in Z` for the files written."""
        parts = []
        if self.codes is not None:
            parts.append(f"codes in {self.codes.path}")
        if self.letters is not None:
            parts.append(f"letters in {self.letters.path}" if self.written else "no letters (no new codes)")
        if self.mailmerge is not None:
            parts.append(f"mail-merge list in {self.mailmerge.path}")
        return "".join(f", {part}" for part in parts)

    def discard(self) -> None:
        if self.progress is not None:
            self.progress.stop()
        for output in (self.codes, self.letters, self.mailmerge):
            if output is not None:
                output.discard()

    def __enter__(self) -> VoucherOutputs:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.discard()
