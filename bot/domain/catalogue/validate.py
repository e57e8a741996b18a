"""Validation of catalogue files: YAML syntax, JSON Schema, semantic checks, gap warnings.

Every message names file, line, field, what is wrong and what would be right, e.g.
``catalogue/x.yml:42: offers[3].level: 'E' is not one of A, B, C, D``. Line numbers come from
ruamel.yaml's round-trip loader (YAML 1.2, so ``no`` and ``09:00`` stay text).
"""
from __future__ import annotations

import logging
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from rapidfuzz import process
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from .hours import HOLIDAY_KEY, TZ, WEEKDAYS, HoursError, parse_day
from .model import (
    ALL,
    LEVELS,
    Catalogue,
    Issue,
    Offer,
    build_municipality,
    build_offer,
    reference,
)

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).with_name("schema.yml")
STALE_AFTER_DAYS = 365
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_INCLUDE_DEPTH = 5


@dataclass
class ValidationReport:
    """All findings for one catalogue file (and what it includes)."""

    path: str
    issues: list[Issue] = field(default_factory=list)
    catalogue: Catalogue | None = None
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


class _TextDatesConstructor(RoundTripConstructor):
    """Round-trip constructor that keeps dates as text, so a bad date gets a line number."""


_TextDatesConstructor.add_constructor(
    "tag:yaml.org,2002:timestamp", _TextDatesConstructor.construct_yaml_str
)


@dataclass
class _Doc:
    path: Path
    display: str
    root: Any
    data: Any


# --- helpers ------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        schema = yaml.safe_load(handle)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def display_path(path: Path) -> str:
    """A path as the editor knows it: relative to the working directory when possible."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _plain(node: Any) -> Any:
    """ruamel round-trip nodes -> plain Python (dates as ISO text) for the schema."""
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, str) else str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, (datetime, date)):
        return node.isoformat()
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    return node


def _line(root: Any, path: Sequence[Any]) -> int | None:
    """1-based line of the deepest existing element of `path` in the ruamel tree."""
    node = root
    line = getattr(getattr(root, "lc", None), "line", None)
    for key in path:
        try:
            if isinstance(node, CommentedMap):
                match = key if key in node else next((k for k in node if str(k) == str(key)), None)
                if match is None:
                    break
                line = node.lc.key(match)[0]
                node = node[match]
            elif isinstance(node, CommentedSeq) and isinstance(key, int) and key < len(node):
                line = node.lc.item(key)[0]
                node = node[key]
            else:
                break
        except (KeyError, IndexError, TypeError, AttributeError):
            break
    return None if line is None else int(line) + 1


def field_name(path: Iterable[Any]) -> str:
    """('offers', 3, 'level') -> 'offers[3].level'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _suggest(value: str, choices: Iterable[str], cutoff: float = 70) -> str:
    found = process.extractOne(str(value), list(choices), score_cutoff=cutoff)
    return f"; did you mean '{found[0]}'?" if found else ""


def _show(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


_TYPE_WORDS = {
    "string": "text", "object": "a block of fields", "array": "a list", "integer": "a whole number",
    "number": "a number", "boolean": "true or false", "null": "nothing",
}


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, dict):
        return "a block of fields"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else type(value).__name__


def _describe(error: ValidationError) -> tuple[list[Any], str]:
    """(path, message) for one schema error, with a hint of what would be right."""
    path = list(error.absolute_path)
    hint = error.schema.get("x-hint") if isinstance(error.schema, dict) else None
    kw, value, instance = error.validator, error.validator_value, error.instance
    if kw == "required":
        # jsonschema reports one error per missing field: "'name' is a required property"
        found = re.match(r"^'(.+)' is a required property$", str(error.message))
        missing = [r for r in value if isinstance(instance, dict) and r not in instance]
        name = found.group(1) if found else (missing[0] if missing else "?")
        return path + [name], "is missing (required)"
    if kw == "additionalProperties":
        allowed = list((error.schema.get("properties") or {}).keys())
        extras = [k for k in instance if k not in allowed] if isinstance(instance, dict) else []
        if extras:
            return path + [extras[0]], (
                f"unknown field '{extras[0]}'{_suggest(extras[0], allowed)}"
                + ("" if _suggest(extras[0], allowed) else f" (allowed: {', '.join(allowed)})")
            )
    if kw in ("anyOf", "oneOf") and not hint and error.context:
        return _describe(best_match(error.context))
    if kw == "enum":
        if "propertyNames" in error.schema_path and isinstance(instance, str):
            path = path + [instance]  # a wrong key: point at the key itself
        msg = f"{_show(instance)} is not one of {', '.join(str(v) for v in value)}"
        suggestion = _suggest(instance, [str(v) for v in value]) if isinstance(instance, str) else ""
        return path, msg + (suggestion or (f" ({hint})" if hint else ""))
    if kw == "const":
        msg = f"{_show(instance)} should be {value!r}"
    elif kw == "type":
        wanted = value if isinstance(value, list) else [value]
        msg = (f"expected {' or '.join(_TYPE_WORDS.get(w, w) for w in wanted)}, "
               f"got {_kind_of(instance)} {_show(instance)}")
    elif kw == "pattern":
        msg = f"{_show(instance)} has the wrong form"
    elif kw == "minItems":
        msg = f"needs at least {value} item(s)"
    elif kw == "minLength":
        msg = f"is too short (at least {value} characters)"
    elif kw == "maxLength":
        msg = f"is too long ({len(instance)} characters, at most {value})"
    elif kw == "minimum":
        msg = f"{_show(instance)} is too small (at least {value})"
    elif kw == "maximum":
        msg = f"{_show(instance)} is too large (at most {value})"
    elif kw == "minProperties":
        msg = "is empty"
    elif kw in ("anyOf", "oneOf") and hint:
        return path, str(hint)
    elif kw in ("anyOf", "oneOf"):
        msg = "is not valid"
    else:
        msg = str(error.message)
    if hint:
        msg += f"; {hint}"
    return path, msg


def _today(today: date | None) -> date:
    return today or datetime.now(TZ).date()


# --- loading one file -----------------------------------------------------------------------------

def _read(path: Path, display: str, issues: list[Issue]) -> _Doc | None:
    try:
        stat = path.stat()
    except OSError:
        issues.append(Issue(display, None, "", "file not found; give the path of a catalogue .yml file",
                            kind="include"))
        return None
    if stat.st_size > MAX_FILE_BYTES:
        issues.append(Issue(display, None, "", f"file is too large ({stat.st_size} bytes)", kind="yaml"))
        return None
    key = (str(path), stat.st_mtime_ns, stat.st_size, display)
    if key in _READ:
        return _READ[key]
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(Issue(display, None, "", f"cannot be read as UTF-8 text ({exc.__class__.__name__})",
                            kind="yaml"))
        return None
    doc = _parse(text, path, display, issues)
    if doc is not None:  # a file that parses is kept until it changes (the editor checks often)
        if len(_READ) >= 16:
            _READ.clear()
        _READ[key] = doc
    return doc


# parsed catalogue files by (path, modification time, size, display name); read-only trees
_READ: dict[tuple, _Doc] = {}


def _parse(text: str, path: Path, display: str, issues: list[Issue]) -> _Doc | None:
    """The round-trip tree of one catalogue text (read from `path`, or stored in the database)."""
    loader = YAML(typ="rt")
    loader.Constructor = _TextDatesConstructor
    loader.allow_duplicate_keys = False
    try:
        root = loader.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        issues.append(Issue(display, line, "", f"YAML syntax: {problem}; check the indentation "
                            "(spaces, no tabs), colons and quotes", kind="yaml"))
        return None
    except YAMLError as exc:
        issues.append(Issue(display, None, "", f"YAML syntax: {exc}", kind="yaml"))
        return None
    except (ValueError, TypeError, RecursionError) as exc:
        issues.append(Issue(display, None, "", f"cannot be read as YAML ({exc.__class__.__name__})",
                            kind="yaml"))
        return None
    if root is None:
        issues.append(Issue(display, None, "", "file is empty", kind="yaml"))
        return None
    return _Doc(path=path, display=display, root=root, data=_plain(root))


def _schema_issues(doc: _Doc) -> list[Issue]:
    out = []
    errors = sorted(_validator().iter_errors(doc.data), key=lambda e: list(map(str, e.absolute_path)))
    for error in errors:
        path, message = _describe(error)
        out.append(Issue(doc.display, _line(doc.root, path), field_name(path) or "(file)", message))
    return out


# --- semantic checks --------------------------------------------------------------------------------

def _issue(doc: _Doc, path: list[Any], message: str, severity: str = "error",
           kind: str = "semantic") -> Issue:
    return Issue(doc.display, _line(doc.root, path), field_name(path), message, severity, kind)


def _check_ids(doc: _Doc, values: Any, path: list[Any], known: Sequence[str], what: str,
               issues: list[Issue]) -> None:
    if not isinstance(values, list):
        return
    strings = [v for v in values if isinstance(v, str)]
    if ALL in strings and len(values) > 1:
        issues.append(_issue(doc, path, f"'{ALL}' means all {what}s; remove '{ALL}' or the other {what}s"))
    for i, value in enumerate(values):
        if not isinstance(value, str) or value == ALL:
            continue
        if value not in known:
            issues.append(_issue(doc, path + [i], f"'{value}' is not a {what} id{_suggest(value, known)}"
                                 f" (see catalogue/README.md for the list, or use '{ALL}')"))


def _check_hours_map(doc: _Doc, hours: Any, path: list[Any], issues: list[Issue]) -> None:
    if not isinstance(hours, dict):
        return
    for day, value in hours.items():
        if (day not in WEEKDAYS and day != HOLIDAY_KEY) or not isinstance(value, str):
            continue  # the schema reports these
        try:
            parse_day(value)
        except HoursError as exc:
            issues.append(_issue(doc, path + [day], str(exc)))


def _municipality_checks(doc: _Doc, muni: Any, issues: list[Issue]) -> dict[str, str]:
    """Checks on the header; returns folded neighbourhood name -> canonical name."""
    names: dict[str, str] = {}
    if not isinstance(muni, dict):
        return names
    _check_hours_map(doc, muni.get("office_hours"), ["municipality", "office_hours"], issues)
    seen: dict[str, str] = {}
    if isinstance(muni.get("name"), str):
        seen[muni["name"].strip().casefold()] = "the municipality"
        for j, alias in enumerate(muni.get("aliases") or []):
            if isinstance(alias, str):
                seen.setdefault(alias.strip().casefold(), "the municipality")
    for i, raw in enumerate(muni.get("neighbourhoods") or []):
        name = raw if isinstance(raw, str) else raw.get("name") if isinstance(raw, dict) else None
        if not isinstance(name, str) or not name.strip():
            continue
        aliases = raw.get("aliases") or [] if isinstance(raw, dict) else []
        for j, label in enumerate([name] + [a for a in aliases if isinstance(a, str)]):
            folded = label.strip().casefold()
            where = ["municipality", "neighbourhoods", i] + ([] if j == 0 else ["aliases", j - 1])
            if folded in seen and seen[folded] != name:
                issues.append(_issue(doc, where, f"'{label}' is already used for {seen[folded]}; "
                                     "names and aliases must be unique"))
            seen[folded] = name
        names[name.strip().casefold()] = name.strip()
    return names


def _offer_checks(doc: _Doc, index: int, offer: dict, neighbourhoods: dict[str, str] | None,
                  is_national: bool, today: date, issues: list[Issue]) -> None:
    ref = reference()
    base: list[Any] = ["offers", index]
    _check_ids(doc, offer.get("topics"), base + ["topics"], list(ref.topics), "topic", issues)
    _check_ids(doc, offer.get("phases"), base + ["phases"], list(ref.phases), "phase", issues)
    if "phases" in offer and "age_months" in offer:
        issues.append(_issue(doc, base + ["age_months"], "give either phases or age_months, not both"))
    age = offer.get("age_months")
    if isinstance(age, dict) and isinstance(age.get("min"), int) and isinstance(age.get("max"), int):
        if age["min"] > age["max"]:
            issues.append(_issue(doc, base + ["age_months"],
                                 f"min ({age['min']}) is larger than max ({age['max']})"))
    scope = offer.get("scope")
    if is_national and scope in ("neighbourhood", "municipality"):
        issues.append(_issue(doc, base + ["scope"], f"'{scope}' is not possible in a national file; "
                             "use scope: national"))
    listed = offer.get("neighbourhoods")
    if listed is not None and scope != "neighbourhood":
        issues.append(_issue(doc, base + ["neighbourhoods"],
                             "neighbourhoods only go with scope: neighbourhood; remove them or "
                             "change the scope"))
    if scope == "neighbourhood" and isinstance(listed, list) and neighbourhoods is not None:
        for i, name in enumerate(listed):
            if isinstance(name, str) and name.strip().casefold() not in neighbourhoods:
                known = list(neighbourhoods.values())
                issues.append(_issue(doc, base + ["neighbourhoods", i],
                                     f"'{name}' is not a neighbourhood of this municipality"
                                     f"{_suggest(name, known)} (known: {', '.join(known)})"))
    _check_hours_map(doc, offer.get("hours"), base + ["hours"], issues)
    if offer.get("signals") and offer.get("level") != "D":
        issues.append(_issue(doc, base + ["signals"], "crisis signals only go with level D"))
    checked = offer.get("last_checked")
    if isinstance(checked, str) and re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", checked):
        try:
            day = date.fromisoformat(checked)
        except ValueError:
            issues.append(_issue(doc, base + ["last_checked"],
                                 f"'{checked}' is not a real date; write YYYY-MM-DD"))
        else:
            if day > today:
                issues.append(_issue(doc, base + ["last_checked"],
                                     f"{checked} is in the future (today is {today.isoformat()}); "
                                     "use the date you checked the details"))
            elif today - day > timedelta(days=STALE_AFTER_DAYS):
                issues.append(_issue(doc, base + ["last_checked"],
                                     f"last checked on {checked}, more than a year ago; check the "
                                     "details and update last_checked", "warning", "stale"))


def _semantic_issues(doc: _Doc, today: date) -> tuple[list[Issue], dict[str, str] | None]:
    issues: list[Issue] = []
    data = doc.data if isinstance(doc.data, dict) else {}
    is_national = data.get("kind") == "national"
    neighbourhoods: dict[str, str] | None = None
    if is_national and "municipality" in data:
        issues.append(_issue(doc, ["municipality"], "a national file has no municipality header; "
                             "use kind: municipality or remove the header"))
    if isinstance(data.get("municipality"), dict):
        neighbourhoods = _municipality_checks(doc, data["municipality"], issues)
    first_line: dict[str, int | None] = {}
    offers = data.get("offers") if isinstance(data.get("offers"), list) else []
    fictional = bool(isinstance(data.get("municipality"), dict) and data["municipality"].get("fictional") is True)
    for i, offer in enumerate(offers):
        if not isinstance(offer, dict):
            continue
        oid = offer.get("id")
        if isinstance(oid, str):
            if oid in first_line:
                issues.append(_issue(doc, ["offers", i, "id"], f"duplicate id '{oid}' (first used on "
                                     f"line {first_line[oid]}); every offer needs its own id"))
            else:
                first_line[oid] = _line(doc.root, ["offers", i, "id"])
        _offer_checks(doc, i, offer, neighbourhoods, is_national, today, issues)
        if fictional and offer.get("scope") != "national":
            label = f"{offer.get('name', '')} {offer.get('description', '')}".casefold()
            if "voorbeeld" not in label:
                issues.append(_issue(doc, ["offers", i, "name"], "this catalogue is fictional; show it in "
                                     "the name, e.g. add '(voorbeeld)'", "warning", "naming"))
    return issues, neighbourhoods


# --- gaps ------------------------------------------------------------------------------------------------

def gap_warnings(catalogue: Catalogue, display: str) -> list[Issue]:
    """Topic x phase x level combinations without an offer for parents, grouped per level.

    Crisis lines (offers with `signals`) do not count: they are no support for the topic.
    """
    ref = reference()
    offers = [o for o in catalogue.offers if o.for_parents and not o.signals]
    phase_order = list(ref.phases)
    out: list[Issue] = []
    for level in LEVELS:
        at_level = [o for o in offers if o.level == level]
        none_at_all: list[str] = []
        partial: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for topic, phases in ref.topics.items():
            missing = tuple(p for p in phases
                            if not any(o.covers_topic(topic) and o.covers_phase(p) for o in at_level))
            if not missing:
                continue
            if len(missing) == len(phases):
                none_at_all.append(topic)
            else:
                partial[missing].append(topic)
        label = f"level {level} ({ref.level_labels.get(level, '')})"
        if none_at_all:
            out.append(Issue(display, None, f"gaps {label}",
                             f"no offer at all for {len(none_at_all)} topic(s): {', '.join(none_at_all)}",
                             "warning", "gap"))
        for missing, topics in sorted(partial.items(),
                                      key=lambda kv: [phase_order.index(p) for p in kv[0]]):
            out.append(Issue(display, None, f"gaps {label}",
                             f"no offer for phase {', '.join(missing)} on {len(topics)} topic(s): "
                             f"{', '.join(topics)}", "warning", "gap"))
    return out


# --- the whole file --------------------------------------------------------------------------------------

def _load_tree(path: Path, today: date, report: ValidationReport, stack: tuple[Path, ...],
               origin_issue: tuple[_Doc, list[Any]] | None,
               text: str | None = None) -> list[tuple[_Doc, dict[str, str] | None]]:
    """Validate `path` (or `text` as if it were that file) and, recursively, what it includes;
    returns the valid-enough docs."""
    display = display_path(path)
    if path in stack:
        doc, where = origin_issue  # type: ignore[misc]
        report.issues.append(_issue(doc, where, f"'{display}' includes itself (directly or through "
                                    "another file); remove the loop", kind="include"))
        return []
    if len(stack) > MAX_INCLUDE_DEPTH:
        doc, where = origin_issue  # type: ignore[misc]
        report.issues.append(_issue(doc, where, "includes are nested too deep", kind="include"))
        return []
    read_issues: list[Issue] = []
    if text is None:
        doc = _read(path, display, read_issues)
    elif len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        read_issues.append(Issue(display, None, "", "text is too large", kind="yaml"))
        doc = None
    else:
        doc = _parse(text, path, display, read_issues)
    if doc is None:
        if origin_issue is not None and read_issues and read_issues[0].kind == "include":
            parent, where = origin_issue
            report.issues.append(_issue(parent, where, f"included file '{display}' not found; the path "
                                        "is relative to this file", kind="include"))
        else:
            report.issues.extend(read_issues)
        return []
    report.files.append(str(path))
    report.issues.extend(_schema_issues(doc))
    semantic, neighbourhoods = _semantic_issues(doc, today)
    report.issues.extend(semantic)
    docs = [(doc, neighbourhoods)]
    data = doc.data if isinstance(doc.data, dict) else {}
    if origin_issue is not None and data.get("kind") == "municipality":
        parent, where = origin_issue
        report.issues.append(_issue(parent, where, f"'{display}' is a municipality file; only a "
                                    "national file can be included", kind="include"))
    includes = data.get("include") if isinstance(data.get("include"), list) else []
    for i, name in enumerate(includes):
        if isinstance(name, str) and name.strip():
            target = (path.parent / name.strip()).resolve()
            docs.extend(_load_tree(target, today, report, stack + (path,), (doc, ["include", i])))
    return docs


def validate_text(text: str, path: str | os.PathLike[str], *, today: date | None = None,
                  check_gaps: bool = True) -> ValidationReport:
    """Validate a catalogue document given as text (e.g. stored in the database) as if it were
    the file `path`: its includes are found relative to that path's folder."""
    return validate_path(path, today=today, check_gaps=check_gaps, text=text)


def validate_path(path: str | os.PathLike[str], *, today: date | None = None,
                  check_gaps: bool = True, text: str | None = None) -> ValidationReport:
    """Validate a catalogue file and what it includes; build the Catalogue when valid."""
    resolved = Path(path).expanduser().resolve()
    report = ValidationReport(path=display_path(resolved))
    day = _today(today)
    try:
        docs = _load_tree(resolved, day, report, (), None, text)
    except RecursionError:  # pragma: no cover - guarded by MAX_INCLUDE_DEPTH
        report.issues.append(Issue(report.path, None, "", "includes are nested too deep", kind="include"))
        return report
    if not docs:
        return report
    main = docs[0][0]
    main_data = main.data if isinstance(main.data, dict) else {}
    # duplicate ids across files
    owners: dict[str, tuple[_Doc, int]] = {}
    for doc, _ in docs[1:] + docs[:1]:  # report duplicates in the editor's own file
        offers = doc.data.get("offers") if isinstance(doc.data, dict) else None
        for i, offer in enumerate(offers if isinstance(offers, list) else []):
            oid = offer.get("id") if isinstance(offer, dict) else None
            if not isinstance(oid, str):
                continue
            if oid in owners and owners[oid][0] is not doc:
                first, j = owners[oid]
                report.issues.append(_issue(doc, ["offers", i, "id"], f"duplicate id '{oid}': already "
                                            f"used in {first.display}:{_line(first.root, ['offers', j, 'id'])}"
                                            "; every offer needs its own id"))
            owners.setdefault(oid, (doc, i))
    if report.errors:
        return report
    try:
        catalogue = _build(docs, main, main_data, report)
    except (KeyError, TypeError, ValueError, HoursError) as exc:  # pragma: no cover - defensive
        logger.exception("catalogue passed validation but could not be built")
        report.issues.append(Issue(main.display, None, "", f"could not be built: {exc.__class__.__name__}"))
        return report
    if check_gaps and catalogue.municipality is not None:
        report.issues.extend(gap_warnings(catalogue, main.display))
    report.catalogue = Catalogue(path=catalogue.path, municipality=catalogue.municipality,
                                 offers=catalogue.offers, warnings=tuple(report.warnings),
                                 files=tuple(report.files))
    return report


def _build(docs: list[tuple[_Doc, dict[str, str] | None]], main: _Doc, main_data: dict,
           report: ValidationReport) -> Catalogue:
    municipality = build_municipality(main_data["municipality"]) if main_data.get("municipality") else None
    muni_name = municipality.name if municipality else None
    offers: list[Offer] = []
    for doc, neighbourhoods in docs:
        for i, raw in enumerate(doc.data.get("offers") or []):
            offer = build_offer(raw, municipality=muni_name, origin=doc.display,
                                line=_line(doc.root, ["offers", i]))
            if neighbourhoods and offer.neighbourhoods:
                canonical = tuple(neighbourhoods.get(n.casefold(), n) for n in offer.neighbourhoods)
                offer = replace(offer, neighbourhoods=canonical)
            offers.append(offer)
    return Catalogue(path=str(main.path), municipality=municipality, offers=tuple(offers),
                     files=tuple(report.files))
