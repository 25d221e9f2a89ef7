"""The staff page's charts: SVG drawn here, on the server (no script, no library, nothing
fetched), from counts only. Each chart is a figure with a text alternative (its <title>) and
the same numbers as a table, for screen readers and for copying into a report."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Colours that keep 3:1 against white (WCAG 1.4.11, non-text contrast) and apart from each
# other for the common colour blindnesses (Okabe-Ito, darkened).
PALETTE = ("#0b5394", "#b35900", "#1b7a4a", "#9c2f6b", "#5b4b8a", "#6b6b00")
WIDTH, BAR_AREA, LABEL_WIDTH = 640, 200, 180


@dataclass(frozen=True)
class Chart:
    """A chart as the template shows it: the SVG, and the table of the same numbers."""

    id: str
    title: str
    svg: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    empty: bool


MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def tick(column: str) -> str:
    """A column's label on the axis: "05 Dec" for 2026-12-05, "Dec 26" for 2026-12."""
    parts = column.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return f"{parts[2]} {MONTHS[int(parts[1]) - 1]}"
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        return f"{MONTHS[int(parts[1]) - 1]} {parts[0][2:]}"
    return column[-6:]


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def bars(chart_id: str, title: str, items: Sequence[tuple[str, int]], unit: str) -> Chart:
    """Horizontal bars, one per item, longest first as given."""
    top = max((value for _, value in items), default=0) or 1
    row_height = 26
    height = max(1, len(items)) * row_height + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{chart_id}-title" viewBox="0 0 {WIDTH} {height}" width="100%">',
        f'<title id="{chart_id}-title">{_e(title)}</title>',
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * row_height
        length = round((WIDTH - LABEL_WIDTH - 60) * value / top)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 16}" text-anchor="end" class="label">'
            f"{_e(label[:28])}</text>"
            f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{max(length, 1)}" height="18" '
            f'fill="{PALETTE[0]}" class="bar"><title>{_e(label)}: {value} {_e(unit)}</title></rect>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 16}" class="value">{value}</text>'
        )
    parts.append("</svg>")
    return Chart(
        chart_id,
        title,
        "".join(parts),
        ("", unit),
        tuple((label, str(value)) for label, value in items),
        not items,
    )


def stacked_columns(
    chart_id: str,
    title: str,
    columns: Sequence[str],
    series: Mapping[str, Sequence[int]],
    unit: str,
) -> Chart:
    """Vertical columns (a day, a month), each stacked by series (a channel, an outcome)."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(columns))]
    top = max(totals, default=0) or 1
    count = max(1, len(columns))
    slot = (WIDTH - 40) / count
    bar_width = max(2.0, min(40.0, slot * 0.7))
    legend_height = 22
    height = BAR_AREA + 40 + legend_height
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'aria-labelledby="{chart_id}-title" viewBox="0 0 {WIDTH} {height}" width="100%">',
        f'<title id="{chart_id}-title">{_e(title)}</title>',
        f'<line x1="30" y1="{BAR_AREA + 10}" x2="{WIDTH - 10}" y2="{BAR_AREA + 10}" '
        'class="axis" stroke="#555"/>',
        f'<text x="26" y="16" text-anchor="end" class="value">{top}</text>',
        f'<text x="26" y="{BAR_AREA + 10}" text-anchor="end" class="value">0</text>',
    ]
    for i, column in enumerate(columns):
        x = 35 + i * slot + (slot - bar_width) / 2
        y = BAR_AREA + 10.0
        for s, (name, values) in enumerate(series.items()):
            value = values[i]
            if not value:
                continue
            h = BAR_AREA * value / top
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}" class="bar">'
                f"<title>{_e(column)}, {_e(name)}: {value} {_e(unit)}</title></rect>"
            )
        if count <= 16 or i % max(1, count // 8) == 0:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{BAR_AREA + 26}" text-anchor="middle" '
                f'class="label">{_e(tick(column))}</text>'
            )
    x = 35.0
    for s, name in enumerate(series):
        colour = PALETTE[s % len(PALETTE)]
        parts.append(
            f'<rect x="{x:.0f}" y="{BAR_AREA + 40}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16:.0f}" y="{BAR_AREA + 51}" class="label">{_e(name)}</text>'
        )
        x += 24 + 8 * len(name)
    parts.append("</svg>")
    names = tuple(series)
    rows = tuple(
        (column, *(str(series[n][i]) for n in names), str(totals[i]))
        for i, column in enumerate(columns)
    )
    return Chart(chart_id, title, "".join(parts), ("", *names, "total"), rows, not any(totals))
