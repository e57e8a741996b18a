"""The offer form of the catalogue editor: form fields <-> one offer of the catalogue document,
and the catalogue check's findings as Dutch errors at the field (texts in messages.yml).

The form adds two checks of its own before the catalogue check: no ``<`` or ``>`` (no HTML or
script in a text that parents will read) and a length limit on every text.
"""
from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import yaml

from bot.domain.catalogue.hours import HOLIDAY_KEY, WEEKDAYS
from bot.domain.catalogue.model import Issue
from bot.domain.translations import languages as other_languages

MESSAGES = Path(__file__).with_name("messages.yml")
DAYS: tuple[str, ...] = tuple(WEEKDAYS) + (HOLIDAY_KEY,)
CONTACT_KEYS = ("address", "phone", "whatsapp", "website", "email", "chat")
HOURS_MODES = {"week": None, "always": "24/7", "appointment": "op afspraak"}
TEXT_LIMITS = {"description": 300, "hours_note": 200, "cost_note": 200, "decline_reason": 500}
DESCRIPTION_IN = "description_"  # + a language code: the description in that language (issue 17)
DEFAULT_LIMIT = 200
HTML = re.compile(r"[<>]")
LIST_FIELDS = ("topics", "phases", "neighbourhoods", "audience", "signals")


@lru_cache(maxsize=1)
def messages() -> dict:
    with open(MESSAGES, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def form_message(key: str, **values: Any) -> str:
    return str(messages()["form"][key]).format(**values)


def text_problem(value: str, limit: int) -> Optional[str]:
    """The form's own check of one text: HTML characters, length."""
    if HTML.search(value):
        return form_message("html")
    if len(value) > limit:
        return form_message("too_long", limit=limit)
    return None



def offer_from_form(form: Any) -> tuple[dict, dict[str, str]]:
    """(raw offer for the catalogue document, form errors by field name)."""
    errors: dict[str, str] = {}

    def text(name: str, limit: Optional[int] = None) -> str:
        value = (form.get(name) or "").strip()
        default = TEXT_LIMITS["description"] if name.startswith(DESCRIPTION_IN) else DEFAULT_LIMIT
        problem = text_problem(value, limit or TEXT_LIMITS.get(name, default))
        if problem:
            errors[name] = problem
            return ""
        return value

    def many(name: str) -> list[str]:
        values = [v.strip() for v in form.getlist(name) if v and v.strip()]
        for value in values:
            problem = text_problem(value, DEFAULT_LIMIT)
            if problem:
                errors[name] = problem
                return []
        return values

    raw: dict[str, Any] = {}
    for name in ("id", "name"):
        value = text(name)
        if value:
            raw[name] = value
    if form.get("level"):
        raw["level"] = text("level")
    raw["topics"] = many("topics")
    age_min, age_max = text("age_min"), text("age_max")
    if age_min or age_max:
        try:
            raw["age_months"] = {"min": int(age_min), "max": int(age_max)}
        except ValueError:
            errors["age_months"] = messages()["fields"]["age_months"]["wrong"]
    phases = many("phases")
    if phases or "age_months" not in raw:
        raw["phases"] = phases
    if form.get("scope"):
        raw["scope"] = text("scope")
    hoods = many("neighbourhoods")
    if hoods:
        raw["neighbourhoods"] = hoods
    contact = {}
    for key in CONTACT_KEYS:
        value = text(f"contact_{key}")
        if value:
            contact[key] = value
    raw["contact"] = contact
    mode = form.get("hours_mode") or "week"
    if HOURS_MODES.get(mode):
        raw["hours"] = HOURS_MODES[mode]
    else:
        raw["hours"] = {day: value for day in DAYS if (value := text(f"hours_{day}", 60))}
    if form.get("open_on_holidays"):
        raw["open_on_holidays"] = True
    for name in ("hours_note",):
        value = text(name)
        if value:
            raw[name] = value
    languages = [code.strip().lower() for code in text("languages").split(",") if code.strip()]
    raw["languages"] = languages
    for name in ("cost",):
        if form.get(name):
            raw[name] = text(name)
    value = text("cost_note")
    if value:
        raw["cost_note"] = value
    if form.get("format"):
        raw["format"] = text("format")
    audience = many("audience")
    if audience:
        raw["audience"] = audience
    signals = many("signals")
    if signals:
        raw["signals"] = signals
    for name in ("description", "source", "last_checked"):
        value = text(name)
        if value:
            raw[name] = value
    translated = {code: value for code in other_languages() if (value := text(DESCRIPTION_IN + code))}
    if translated:
        raw["descriptions"] = translated
    # empty lists are missing fields for the schema's checks
    for name in LIST_FIELDS + ("languages",):
        if name in raw and not raw[name]:
            del raw[name]
    if not raw["contact"]:
        del raw["contact"]
    return raw, errors


def form_from_offer(raw: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """The form's values for an offer of the document (a new, empty offer for None)."""
    raw = raw or {}
    values: dict[str, Any] = {
        "id": raw.get("id", ""), "name": raw.get("name", ""), "level": raw.get("level", "A"),
        "topics": [str(t) for t in raw.get("topics") or []],
        "phases": [str(p) for p in raw.get("phases") or []],
        "age_min": "", "age_max": "",
        "scope": raw.get("scope", "municipality"),
        "neighbourhoods": [str(n) for n in raw.get("neighbourhoods") or []],
        "languages": ", ".join(str(x) for x in raw.get("languages") or ["nl"]),
        "cost": raw.get("cost", "free"), "cost_note": raw.get("cost_note", "") or "",
        "format": raw.get("format", "group"),
        "audience": [str(a) for a in raw.get("audience") or ["parents"]],
        "signals": [str(s) for s in raw.get("signals") or []],
        "description": " ".join(str(raw.get("description", "")).split()),
        "source": raw.get("source", ""), "last_checked": str(raw.get("last_checked") or date.today().isoformat()),
        "hours_note": raw.get("hours_note", "") or "",
        "open_on_holidays": bool(raw.get("open_on_holidays")),
    }
    translated = raw.get("descriptions") if isinstance(raw.get("descriptions"), Mapping) else {}
    for code in other_languages():
        values[DESCRIPTION_IN + code] = " ".join(str(translated.get(code, "") or "").split())
    age = raw.get("age_months")
    if isinstance(age, Mapping):
        values["age_min"], values["age_max"] = str(age.get("min", "")), str(age.get("max", ""))
    contact = raw.get("contact") or {}
    for key in CONTACT_KEYS:
        values[f"contact_{key}"] = str(contact.get(key, "") or "")
    hours = raw.get("hours")
    values["hours_mode"] = "always" if hours == "24/7" else "appointment" if hours == "op afspraak" else "week"
    for day in DAYS:
        values[f"hours_{day}"] = str(hours.get(day, "")) if isinstance(hours, Mapping) else ""
    return values


def form_from_request(form: Any) -> dict[str, Any]:
    """The values the editor typed, to show the form again with errors."""
    values = {key: form.get(key, "") for key in form.keys()}
    for name in LIST_FIELDS:
        values[name] = form.getlist(name)
    values["open_on_holidays"] = bool(form.get("open_on_holidays"))
    values.setdefault("hours_mode", "week")
    return values


def _form_field(field: str) -> tuple[str, str]:
    """An issue's field inside the offer ('hours.ma', 'topics[0]') -> (form field, message key)."""
    field = re.sub(r"\[\d+\]", "", field).strip(".")
    parts = field.split(".") if field else ["other"]
    head = parts[0]
    if head == "hours" and len(parts) > 1:
        return f"hours_{parts[1]}", "hours.day"
    if head == "contact" and len(parts) > 1:
        return f"contact_{parts[1]}", f"contact.{parts[1]}"
    if head == "descriptions" and len(parts) > 1:
        return DESCRIPTION_IN + parts[1], "descriptions"
    if head == "descriptions":
        return DESCRIPTION_IN + "en", "descriptions"
    if head == "age_months":
        return "age_months", "age_months"
    if head == "open_on_holidays":
        return "hours", "hours"
    return head, head


def field_errors(issues: Iterable[Issue], index: int) -> dict[str, str]:
    """Dutch errors by form field for the catalogue check's errors on offer `index`."""
    texts = messages()["fields"]
    prefix = f"offers[{index}]"
    out: dict[str, str] = {}
    for issue in issues:
        if not issue.field.startswith(prefix):
            out.setdefault("other", texts["other"])
            continue
        name, key = _form_field(issue.field[len(prefix):])
        entry = texts.get(key) or {}
        if "duplicate id" in issue.message and "duplicate" in entry:
            message = entry["duplicate"]
        elif "is missing" in issue.message and "missing" in entry:
            message = entry["missing"]
        else:
            message = entry.get("wrong") or entry.get("missing") or texts["other"]
        out.setdefault(name, message)
    return out
