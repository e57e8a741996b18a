"""Charts drawn on the server as SVG, from the numbers as shown (a hidden count draws no bar and
no colour, only its "< 5" or "verborgen"). Each chart has the same numbers in a table beside it."""
from __future__ import annotations

from typing import List

from markupsafe import Markup, escape

from .report import Report, Table, label, row_label

WIDTH = 600
ROW = 26
LABEL_WIDTH = 230
INK = "#1a1a1a"
BAR = "#2f6fa8"


def _svg(height: int, title_id: str, body: List[str], width: int = WIDTH) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="{title_id}" class="chart" focusable="false">' + "".join(body) + "</svg>")


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" text-anchor="{anchor}" font-size="13" font-weight="{weight}" '
            f'fill="{INK}">{escape(text)}</text>')


def _short(text: str, limit: int = 32) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(report: Report, table: Table, title_id: str) -> Markup:
    """Horizontal bars, one per row of a one-way table."""
    numbers = [report.number(table.row_key(r)) for r in table.rows]
    top = max([n for n in numbers if n is not None] + [1])
    span = WIDTH - LABEL_WIDTH - 80
    body = [] if table.rows else [_text(8, 27, "Geen aantallen in deze periode.")]
    for i, (row, number) in enumerate(zip(table.rows, numbers)):
        y = 8 + i * ROW
        body.append(_text(LABEL_WIDTH - 8, y + 17, _short(row_label(table, row)), "end"))
        if number is not None and number > 0:
            length = max(2, span * number / top)
            body.append(f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{length:.0f}" height="{ROW - 8}" fill="{BAR}"/>')
            body.append(_text(LABEL_WIDTH + length + 6, y + 17, str(number)))
        else:
            body.append(_text(LABEL_WIDTH + 6, y + 17, report.shown(table.row_key(row))))
    return _svg(16 + ROW * max(1, len(table.rows)), title_id, body)


def _fill(number: int, top: int) -> str:
    """Light to mid blue: dark text stays readable on every step."""
    share = number / top if top else 0
    light, dark = (238, 244, 251), (127, 176, 224)
    r, g, b = (round(light[i] + (dark[i] - light[i]) * share) for i in range(3))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(report: Report, table: Table, title_id: str) -> Markup:
    """A grid of rows by columns; the colour follows the counts shown."""
    cols = table.cols
    cell_width = 104
    width = LABEL_WIDTH + cell_width * len(cols) + 8
    numbers = {(i, j): report.number(table.row_key(r, c)) for i, r in enumerate(table.rows) for j, c in enumerate(cols)}
    top = max([n for n in numbers.values() if n is not None] + [1])
    body = []
    for j, col in enumerate(cols):
        body.append(_text(LABEL_WIDTH + j * cell_width + cell_width / 2, 18,
                          _short(label(table.col_dim or "", col), 13), "middle", "bold"))
    for i, row in enumerate(table.rows):
        y = 28 + i * ROW
        body.append(_text(LABEL_WIDTH - 8, y + 17, _short(row_label(table, row)), "end"))
        for j, col in enumerate(cols):
            x = LABEL_WIDTH + j * cell_width
            number = numbers[(i, j)]
            fill = _fill(number, top) if number is not None else "#ffffff"
            body.append(f'<rect x="{x + 1}" y="{y + 1}" width="{cell_width - 2}" height="{ROW - 2}" fill="{fill}" '
                        f'stroke="#8a8a8a" stroke-width="0.5"/>')
            body.append(_text(x + cell_width / 2, y + 17, report.shown(table.row_key(row, col)), "middle"))
    return _svg(36 + ROW * max(1, len(table.rows)), title_id, body, width=width)


def chart(report: Report, table: Table, title_id: str) -> Markup:
    return heatmap(report, table, title_id) if table.col_dim else bar_chart(report, table, title_id)
