"""Reading the municipality's CSV files with clear, line-numbered errors."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

MAX_FIELD = 500
MAX_ERRORS_SHOWN = 50


class CsvError(ValueError):
    """The file cannot be imported; `problems` lists what is wrong, by line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = problems[:MAX_ERRORS_SHOWN]
        more = len(problems) - len(shown)
        text = "\n".join(shown) + (f"\n… and {more} more problems" if more > 0 else "")
        super().__init__(text)


@dataclass
class Problems:
    items: list[str] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.items.append(f"line {line}: {message}")

    def raise_if_any(self) -> None:
        if self.items:
            raise CsvError(self.items)


def read_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with every required column present and values stripped."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvError([f"cannot open {path}: {exc.strerror}"]) from exc
    with handle:
        csv.field_size_limit(MAX_FIELD * 4)
        try:
            sample = handle.read(4096)
        except UnicodeDecodeError as exc:
            raise CsvError([_not_utf8(path)]) from exc
        handle.seek(0)
        delimiter = ";" if sample.count(";") > sample.count(",") else ","
        reader = csv.DictReader(handle, delimiter=delimiter)
        try:
            header = [name.strip().lower() for name in (reader.fieldnames or [])]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvError([f"line 1: cannot read the header: {exc}"]) from exc
        missing = [column for column in columns if column not in header]
        if missing:
            raise CsvError([f"line 1: missing column(s) {', '.join(missing)}; expected {','.join(columns)}"])
        reader.fieldnames = header
        try:
            for row in reader:
                line = reader.line_num
                if None in row:
                    raise CsvError([f"line {line}: more fields than the header has"])
                if any("\x00" in (value or "") for value in row.values()):
                    raise CsvError([f"line {line}: contains a NUL byte; is this a CSV text file?"])
                yield line, {key: (value or "").strip() for key, value in row.items() if key in columns}
        except UnicodeDecodeError as exc:
            raise CsvError([_not_utf8(path)]) from exc
        except csv.Error as exc:
            raise CsvError([f"line {reader.line_num}: not a readable CSV line ({exc})"]) from exc


def _not_utf8(path: Path) -> str:
    """Name the first line that is not UTF-8 (the decoder reads ahead, so the reader's count is no help)."""
    bad_line = 1
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                bad_line = number
                break
    return f'line {bad_line}: the file is not UTF-8 text; save it as "CSV UTF-8" and try again'
