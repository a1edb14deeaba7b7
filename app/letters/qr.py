"""A QR code drawn as vector paths on a ReportLab canvas (the voucher letters and the initiative poster).

Sharp at any print size and small: each row's dark modules are merged into runs, written as one filled
path in module units (integer coordinates under a scaling matrix), so a letter's QR code costs about
a kilobyte of page content and no image.
"""

from __future__ import annotations

import segno
from reportlab.pdfgen.canvas import Canvas

QUIET_ZONE = 4
"""Light modules around the symbol, as the QR standard asks."""


def qr_symbol(url: str, *, fast: bool = False) -> segno.QRCode:
    """The QR code for `url` (error correction M).

    `fast` fixes the mask pattern instead of scoring all eight, which makes encoding about five times
    faster; every mask gives a valid code that any reader decodes. For tens of thousands of letters.
    """
    if fast:
        return segno.make(url, error="m", mask=0, boost_error=False, mode="byte")
    return segno.make(url, error="m")


def dark_runs(symbol: segno.QRCode) -> list[tuple[int, int, int]]:
    """(row, column, length) of each horizontal run of dark modules, rows counted from the top."""
    runs = []
    for r, row in enumerate(symbol.matrix):
        start = -1
        for c, dark in enumerate(row):
            if dark and start < 0:
                start = c
            elif not dark and start >= 0:
                runs.append((r, start, c - start))
                start = -1
        if start >= 0:
            runs.append((r, start, len(row) - start))
    return runs


def draw_qr(
    canvas: Canvas,
    url: str,
    *,
    x: float,
    y: float,
    size: float,
    quiet_zone: int = QUIET_ZONE,
    fast: bool = False,
) -> None:
    """Draw the QR code for `url` in the square of `size` points whose lower left corner is (x, y); the
    square includes a white quiet zone of `quiet_zone` modules."""
    symbol = qr_symbol(url, fast=fast)
    modules = len(symbol.matrix)
    count = modules + 2 * quiet_zone
    module = size / count
    top = count - quiet_zone - 1
    path = " ".join(f"{quiet_zone + c} {top - r} {n} 1 re" for r, c, n in dark_runs(symbol))
    # Raw operators: ReportLab's path API formats every number through Python floats and is several times
    # slower for the ~300 rectangles of a letter's code. q … Q keeps the canvas state untouched.
    canvas.addLiteral(
        f"q 1 0 0 1 {x:.2f} {y:.2f} cm {module:.4f} 0 0 {module:.4f} 0 0 cm "
        f"1 g 0 0 {count} {count} re f 0 g {path} f Q"
    )
