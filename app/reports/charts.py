"""Horizontal bar charts as data for an inline SVG (drawn by templates/macros/charts.html).

Each chart has a title and a description for screen readers, and the page shows the same figures in a
table, so the picture is never the only way to read them.
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL_WIDTH = 130
BAR_AREA = 150
VALUE_WIDTH = 80
ROW_HEIGHT = 28
BAR_HEIGHT = 18


@dataclass(frozen=True)
class Bar:
    label: str
    value_text: str
    y: int
    width: int


@dataclass(frozen=True)
class BarChart:
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_height: int


def bar_chart(rows: list[tuple[str, int, str]], *, maximum: int | None = None) -> BarChart:
    """(label, value, value as text) per row → bar geometry; bars scale to `maximum` or the largest value."""
    top = maximum if maximum is not None else max((value for _, value, _ in rows), default=0)
    bars = [
        Bar(
            label=label,
            value_text=text,
            y=index * ROW_HEIGHT,
            width=round(BAR_AREA * value / top) if top > 0 else 0,
        )
        for index, (label, value, text) in enumerate(rows)
    ]
    return BarChart(
        bars=bars,
        width=LABEL_WIDTH + BAR_AREA + VALUE_WIDTH,
        height=max(ROW_HEIGHT, len(rows) * ROW_HEIGHT),
        label_width=LABEL_WIDTH,
        bar_height=BAR_HEIGHT,
    )
