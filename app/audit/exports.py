"""Streaming CSV and JSON downloads that stay in bounded memory, and CSV cells safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: a leading = + - @ (or tab, CR) gets a quote in front
    (formula injection, OWASP). Integers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    """The CSV text, a line at a time (UTF-8 with a byte-order mark so spreadsheets read the accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([safe_cell(name) for name in header])
    yield "\ufeff" + take()
    for row in rows:
        writer.writerow([safe_cell(value) for value in row])
        yield take()


def json_document(head: dict[str, Any], key: str, items: Iterable[dict[str, Any]]) -> Iterator[str]:
    """`{...head, key: [items...]}` written piece by piece."""
    opening = json.dumps(head, ensure_ascii=False, default=str)
    yield opening[:-1] + ("," if head else "") + json.dumps(key) + ":["
    first = True
    for item in items:
        yield ("" if first else ",\n") + json.dumps(item, ensure_ascii=False, default=str)
        first = False
    yield "]}\n"


def attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"}
