"""Command line check of a catalogue file: ``python -m bot.domain.catalogue.check PATH``.

Prints the findings grouped (errors per file, then warnings per kind) and a summary line.
Exit code 1 when there are errors (or the command is used wrongly), 0 otherwise.
Options: ``--today YYYY-MM-DD`` (date for the 'future' and 'more than a year' checks),
``--no-gaps`` (skip the gap warnings), ``--quiet`` (errors and summary only).
"""
from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from datetime import date
from typing import Sequence, TextIO

from .loader import resolve_path
from .model import Issue, reference
from .validate import ValidationReport, display_path, validate_path

WARNING_GROUPS = {
    "stale": "not checked for more than a year",
    "gap": "gaps: topic x phase x level without an offer for parents",
    "naming": "fictional catalogue: names that do not show it",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # exit 1 (not argparse's 2): "1 on errors"
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(1)


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date like 2026-11-28") from exc


def _line(out: TextIO, text: str = "") -> None:
    out.write(text + "\n")


def _sort_key(issue: Issue) -> tuple:
    return (issue.path, issue.line or 0, issue.field)


def render(report: ValidationReport, out: TextIO, quiet: bool = False) -> None:
    """Write the grouped findings and the summary line."""
    catalogue = report.catalogue
    if catalogue is not None and not quiet:
        muni = catalogue.municipality
        head = f"{muni.name}{' (fictional)' if muni.fictional else ''}" if muni else "national file"
        included = [display_path(p) for p in report.files[1:]]  # type: ignore[arg-type]
        _line(out, f"Catalogue {report.path}: {head}"
              + (f", includes {', '.join(included)}" if included else ""))
        counts = catalogue.level_counts()
        labels = reference().level_labels
        _line(out, f"Offers: {len(catalogue.offers)} ("
              + ", ".join(f"{lvl} {n} {labels[lvl]}" for lvl, n in counts.items()) + ")")
        if muni is None:
            _line(out, "Gap check skipped: it runs on a municipality file (with this file included).")
        _line(out)
    errors = report.errors
    if errors:
        by_file: dict[str, list[Issue]] = defaultdict(list)
        for issue in errors:
            by_file[issue.path].append(issue)
        _line(out, f"ERRORS ({len(errors)})")
        for path, issues in by_file.items():
            _line(out, f"  in {path}:")
            for issue in sorted(issues, key=_sort_key):
                _line(out, f"    {issue}")
        _line(out)
    warnings = report.warnings
    if warnings and not quiet:
        by_kind: dict[str, list[Issue]] = defaultdict(list)
        for issue in warnings:
            by_kind[issue.kind].append(issue)
        for kind, issues in by_kind.items():
            _line(out, f"WARNINGS: {WARNING_GROUPS.get(kind, kind)} ({len(issues)})")
            for issue in issues if kind == "gap" else sorted(issues, key=_sort_key):
                _line(out, f"    {issue}")
            _line(out)
    verdict = "NOT OK, fix the errors above" if errors else "OK"
    _line(out, f"Summary: {report.path}: {len(errors)} error(s), {len(warnings)} warning(s): {verdict}")


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = _Parser(prog="python -m bot.domain.catalogue.check",
                     description="Check an Opvoedmaatje support catalogue file.")
    parser.add_argument("path", nargs="?", default=None,
                        help="catalogue .yml file (default: env OPVOED_CATALOGUE or the example)")
    parser.add_argument("--today", type=_parse_date, default=None,
                        help="date for the date checks, YYYY-MM-DD (default: today)")
    parser.add_argument("--no-gaps", action="store_true", help="skip the gap warnings")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors and summary only")
    args = parser.parse_args(argv)
    out = out or sys.stdout
    path = resolve_path(args.path) if args.path else resolve_path(None)
    report = validate_path(path, today=args.today, check_gaps=not args.no_gaps)
    render(report, out, quiet=args.quiet)
    return 1 if report.errors else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
