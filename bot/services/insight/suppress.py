"""Small-cell protection: every count under 5 is hidden, and so many others that the totals shown
cannot be used to work a hidden count out (complementary suppression).

A *cell* is any number the page shows: an inner cell, a row or column total or a grand total,
named by a key (a tuple of (dimension, value) pairs). An *equation* says that one cell is the sum
of others (a total and its parts); tables that show the same cell share it, so a total shown in
two tables is protected in both.

1. Primary: every cell under ``THRESHOLD`` is hidden (shown as "< 5").
2. Complementary: an equation with exactly one hidden member would give it away; the smallest
   shown part (else the total) is hidden too, until no equation has exactly one.
3. Audit: for every hidden cell under 5, the lowest and highest value that agrees with everything
   shown is computed by linear programming (scipy's HiGHS), assuming the reader knows that "< 5"
   means 0 to 4 and that the other hidden cells are 5 or more. If fewer than two whole numbers
   remain possible, one more shown cell of its equations is hidden, and the audit runs again.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, Hashable, Iterable, List, Optional, Sequence, Set, Tuple

THRESHOLD = 5
Key = Hashable


@dataclass
class Equation:
    total: Key
    parts: Tuple[Key, ...]


@dataclass
class Protection:
    values: Dict[Key, int]
    primary: Set[Key] = field(default_factory=set)
    complementary: Set[Key] = field(default_factory=set)

    def hidden(self, key: Key) -> bool:
        return key in self.primary or key in self.complementary

    def shown(self, key: Key) -> Optional[int]:
        """The value to show, or None when it is hidden."""
        return None if self.hidden(key) else self.values.get(key, 0)


def _uses(equations: Sequence[Equation]) -> Dict[Key, int]:
    uses: Dict[Key, int] = {}
    for equation in equations:
        for member in (equation.total,) + equation.parts:
            uses[member] = uses.get(member, 0) + 1
    return uses


def _cost(values: Dict[Key, int], uses: Dict[Key, int], key: Key) -> tuple:
    """Which shown cell to hide first: one in few equations (an inner cell rather than a total
    that many tables share), then the smallest."""
    return (uses.get(key, 0), values.get(key, 0), repr(key))


def _complete(values: Dict[Key, int], equations: Sequence[Equation], hidden: Set[Key],
              primary: Set[Key]) -> Set[Key]:
    """Hide more cells until no equation has exactly one hidden member."""
    uses = _uses(equations)
    added: Set[Key] = set()
    changed = True
    while changed:
        changed = False
        for equation in equations:
            members = (equation.total,) + equation.parts
            if sum(1 for m in members if m in hidden) != 1:
                continue
            candidates = sorted((m for m in equation.parts if m not in hidden),
                                key=lambda m: _cost(values, uses, m))
            if not candidates and equation.total not in hidden:
                candidates = [equation.total]
            if candidates:
                hidden.add(candidates[0])
                added.add(candidates[0])
                changed = True
    return added


def feasible_range(values: Dict[Key, int], equations: Sequence[Equation], primary: Set[Key],
                   complementary: Set[Key], key: Key) -> Tuple[float, float]:
    """The lowest and highest value of hidden cell `key` that agrees with everything shown."""
    from scipy.optimize import linprog

    hidden = sorted(primary | complementary, key=repr)
    index = {k: i for i, k in enumerate(hidden)}
    rows, rhs = [], []
    for equation in equations:
        members = (equation.total,) + equation.parts
        if not any(m in index for m in members):
            continue
        row = [0.0] * len(hidden)
        constant = 0.0
        for sign, member in [(-1.0, equation.total)] + [(1.0, p) for p in equation.parts]:
            if member in index:
                row[index[member]] += sign
            else:
                constant += sign * values.get(member, 0)
        rows.append(row)
        rhs.append(-constant)
    bounds = [(0, THRESHOLD - 1) if k in primary else (THRESHOLD, None) for k in hidden]
    result = []
    for direction in (1.0, -1.0):
        objective = [0.0] * len(hidden)
        objective[index[key]] = direction
        answer = linprog(objective, A_eq=rows or None, b_eq=rhs or None, bounds=bounds, method="highs")
        if not answer.success:
            return (values.get(key, 0), values.get(key, 0))
        result.append(direction * answer.fun)
    return result[0], result[1]


def whole_numbers(low: float, high: float) -> int:
    return max(0, math.floor(high + 1e-6) - math.ceil(low - 1e-6) + 1)


def protect(values: Dict[Key, int], equations: Sequence[Equation], cells: Iterable[Key],
            audit: bool = True, max_rounds: int = 100) -> Protection:
    """Which of `cells` (every number shown) to hide."""
    cells = list(dict.fromkeys(cells))
    primary = {k for k in cells if values.get(k, 0) < THRESHOLD}
    hidden = set(primary)
    complementary = _complete(values, equations, hidden, primary)
    uses = _uses(equations)
    # hiding a cell only widens what the others may be: a cell found safe stays safe
    suspects = [k for k in sorted(primary, key=repr) if values.get(k, 0) > 0]
    for _ in range(max_rounds if audit else 0):
        weak = [k for k in suspects
                if whole_numbers(*feasible_range(values, equations, primary, complementary, k)) < 2]
        suspects = weak
        if not weak:
            break
        grew = False
        for key in weak:
            options = sorted((m for e in equations if key in (e.total,) + e.parts
                              for m in (e.total,) + e.parts if m not in hidden),
                             key=lambda m: _cost(values, uses, m))
            if options:
                hidden.add(options[0])
                complementary.add(options[0])
                grew = True
        if not grew:
            break
        complementary |= _complete(values, equations, hidden, primary)
    return Protection(values, primary, complementary)
