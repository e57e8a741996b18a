"""Helpers of the insight tests (issue 18): statistics records as the broker sends them, and an
attacker who tries to work hidden counts out of what a page or an export shows."""
from __future__ import annotations

import itertools
import math
import re
import uuid
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

SUPPRESSED, HIDDEN = "< 5", "verborgen"
_counter = itertools.count()


def question(day: str, topic: str, phase: str = "2-4", severity: str = "normaal", level: str = "B",
             hood: Optional[str] = None, local: bool = False, handoff: bool = False, channel: str = "rest",
             conversation: Optional[str] = None) -> List[Dict[str, Any]]:
    """The records of one conversation with one question, in the order the broker sends them."""
    conv = conversation or uuid.uuid4().hex[:16]

    def rec(**fields: Any) -> Dict[str, Any]:
        return {"schema": 1, "day": day, "hour": 10, "conversation": conv,
                "key": f"t{uuid.uuid4().hex[:20]}{next(_counter)}", **fields}

    records = [rec(type="session"), rec(type="user", intent="topic_x", channel=channel),
               rec(type="action", action="action_respond"), rec(type="bot", fallback=False),
               rec(type="slot", slot="phase", value=phase), rec(type="slot", slot="topic", value=topic),
               rec(type="slot", slot="severity", value=severity), rec(type="slot", slot="support_level", value=level)]
    if local:
        records += [rec(type="user", intent="support_nearby", channel=channel),
                    rec(type="action", action="action_support_nearby")]
    if hood:
        records += [rec(type="label", label="neighbourhood", value=hood)]
    if handoff:
        records += [rec(type="user", intent="ask_human", channel=channel), rec(type="action", action="handoff_form")]
    return records


def parse_cell(cell: str) -> Tuple[str, Dict[str, str]]:
    measure, *pairs = cell.split("|")
    return measure, dict(pair.split("=", 1) for pair in pairs)


def equations_of(table_cells: Mapping[str, Mapping[str, str]]) -> List[Tuple[str, List[str]]]:
    """Per table: every cell is the sum of the cells that add exactly one label to it."""
    found = []
    for cells in table_cells.values():
        parsed = {c: parse_cell(c) for c in cells}
        for parent, (measure, dims) in parsed.items():
            children: Dict[str, List[str]] = defaultdict(list)
            for child, (m, d) in parsed.items():
                extra = set(d) - set(dims)
                if m == measure and len(extra) == 1 and all(d.get(k) == v for k, v in dims.items()):
                    children[extra.pop()].append(child)
            for parts in children.values():
                found.append((parent, parts))
    return found


def attack(table_cells: Mapping[str, Mapping[str, str]]) -> Dict[str, Tuple[float, float]]:
    """For every cell shown as "< 5": the lowest and highest value that agrees with every number
    shown (a cell shown in two tables is one unknown), by linear programming. The attacker knows
    that "< 5" is 0 to 4 and that "verborgen" is 5 or more."""
    from scipy.optimize import linprog

    shown: Dict[str, str] = {}
    for cells in table_cells.values():
        for cell, text in cells.items():
            assert shown.setdefault(cell, text) == text, f"{cell} is shown as {text} and {shown[cell]}"
    hidden = sorted(c for c, t in shown.items() if t in (SUPPRESSED, HIDDEN))
    index = {c: i for i, c in enumerate(hidden)}
    rows, rhs = [], []
    for total, parts in equations_of(table_cells):
        row, constant = [0.0] * len(hidden), 0.0
        for sign, cell in [(-1.0, total)] + [(1.0, p) for p in parts]:
            if cell in index:
                row[index[cell]] += sign
            else:
                constant += sign * int(shown[cell])
        if any(row):
            rows.append(row)
            rhs.append(-constant)
        else:
            assert constant == 0, f"the numbers shown do not add up: {total}"
    bounds = [(0, 4) if shown[c] == SUPPRESSED else (5, None) for c in hidden]
    ranges = {}
    for cell in hidden:
        if shown[cell] != SUPPRESSED:
            continue
        ends = []
        for direction in (1.0, -1.0):
            objective = [0.0] * len(hidden)
            objective[index[cell]] = direction
            result = linprog(objective, A_eq=rows or None, b_eq=rhs or None, bounds=bounds, method="highs")
            assert result.success, result.message
            ends.append(direction * result.fun)
        ranges[cell] = (ends[0], ends[1])
    return ranges


def whole_numbers(low: float, high: float) -> int:
    return max(0, math.floor(high + 1e-6) - math.ceil(low - 1e-6) + 1)


def naive_recoveries(table_cells: Mapping[str, Mapping[str, str]]) -> List[str]:
    """Cells a reader works out with one subtraction: the only hidden member of a total."""
    found = []
    for cells in [dict(itertools.chain.from_iterable(c.items() for c in table_cells.values()))]:
        for total, parts in equations_of(table_cells):
            hidden = [c for c in [total] + parts if cells[c] in (SUPPRESSED, HIDDEN)]
            if len(hidden) == 1:
                found.append(hidden[0])
    return found


def page_cells(html: str) -> Dict[str, Dict[str, str]]:
    """{table id: {cell: text}} of the page's tables (their data-cell attributes)."""
    tables: Dict[str, Dict[str, str]] = {}
    for match in re.finditer(r'<table class="insight-table"[^>]*data-table="([^"]+)"(.*?)</table>', html, re.S):
        cells = tables.setdefault(match.group(1), {})
        for cell, text in re.findall(r'<td[^>]*data-cell="([^"]+)"[^>]*>([^<]*)</td>', match.group(2)):
            cells[cell] = text.strip().replace("&lt;", "<")
    return tables


def csv_cells(text: str) -> Dict[str, Dict[str, str]]:
    import csv
    import io

    tables: Dict[str, Dict[str, str]] = {}
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    dims = [f for f in reader.fieldnames or [] if f not in ("tabel", "maat", "van", "tot_en_met", "kanaal",
                                                            "wijk_filter", "aantal")]
    for row in reader:
        measure = "q" if row["maat"] == "vragen" else "c"
        cell = "|".join([measure] + [f"{d}={row[d]}" for d in dims if row[d] != ""])
        tables.setdefault(row["tabel"], {})[cell] = row["aantal"]
    return tables
