"""Helpers of the insight tests (issue 18): statistics records as the broker sends them, and an
attacker who tries to work hidden counts out of what a page or an export shows; the console users,
the aggregates' totals, the consumer process and the queue depth (tests/e2e/test_insight.py and
tests/browser/test_insight_assistant.py)."""
from __future__ import annotations

import itertools
import math
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple

import sqlalchemy as sa

from bot.services.cases.schema import insight_daily
from bot.services.console.auth import hash_password
from tests.support.paths import ROOT
from tests.support.rabbitmq import AMQP
from tests.support.web_fixture import free_port

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


# --- the console's users, the aggregates, the consumer ------------------------------------------------

PASSWORD = "een lang wachtwoord 42"
PASSWORD_HASH = hash_password(PASSWORD)
BELEID, PROFESSIONAL, ADMIN = "beleid@voorbeeldstad.example", "sanne@voorbeeldstad.example", "beheer@voorbeeldstad.example"


def totals(engine: sa.engine.Engine) -> Dict[tuple, int]:
    """{(day, cell labels...): questions} of every aggregate row."""
    columns = [c for c in insight_daily.c if c.name not in ("id", "questions")]
    with engine.connect() as connection:
        rows = connection.execute(sa.select(*columns, insight_daily.c.questions)).all()
    return {tuple(r[:-1]): r[-1] for r in rows}


class ConsumerProcess:
    """``python -m bot.services.insight.consume`` on a queue of RabbitMQ and a case store."""

    def __init__(self, url: str, queue: str, exchange: str, log: Path, **extra: str) -> None:
        env = {**os.environ, "EVENT_BROKER_URL": AMQP, "EVENT_BROKER_QUEUE": queue, "EVENT_BROKER_EXCHANGE": exchange,
               "CASE_STORE_URL": url, **extra}
        self.port = free_port()
        self.log = log.open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "bot.services.insight.consume", "--port", str(self.port)],
                                        cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def health(self) -> Dict[str, Any]:
        import requests

        try:
            return requests.get(f"http://127.0.0.1:{self.port}/health", timeout=2).json()
        except Exception:  # noqa: BLE001 - not up yet
            return {}

    def wait_applied(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.health().get("applied", -1) >= count:
                return
            time.sleep(0.2)
        raise AssertionError(f"the consumer did not take {count} record(s): {self.health()}")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout=30)
        self.log.close()
        return code


async def queue_depth(queue: str) -> int:
    """The number of messages waiting in a queue of the local RabbitMQ."""
    import aio_pika

    connection = await aio_pika.connect_robust(AMQP)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, durable=True, passive=True)
        return declared.declaration_result.message_count
