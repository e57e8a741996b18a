"""Understand a child's age in a Dutch (or Flemish) parent's message; pure Python, rule-based.

Words live in knowledge/age_words.yml; this module holds the logic. Conventions (context.md):
"van 3" / "3 jaar" = 36 months, "anderhalf" = 18, "bijna 4" = 47, "net 2" = 24, "groep N" =
(N+3) years, "brugklas" = 12 years, "N havo" / "klas N" of secondary school = (11+N) years, band
words (peuter, puber, ...) = the band's lower bound, not exact. Ages above 25 years are not a
child's (dropped); 19-25 years give a mention without a phase. Ages of the parent ("ik ben 34",
"mijn man van 40", "ik (28)") are ignored; "ik ben 13" (8-17 years) is a child writing about
itself, used only when no other child's age is stated.

What makes a number an age (besides a child word before it, "hij is", a unit at the start):
Flemish "mijn kind heeft 6 jaar" (not "heeft al 6 jaar"); a unit age standing alone at the end of
a sentence ("hij is zo onzeker. 7 jaar"); "<any subject> is 10 maanden" and "<noun or name> van 3
jaar" unless the noun is a thing or a time ("de wachttijd is 6 weken", "een contract van 2 jaar");
"net 14" / "bijna 4" as the whole message. Band words said of children in general ("een baby",
"pubers") set no age; "mijn baby", "de puber", "ik heb een peuter" do. "de derde klas" is
secondary school only when the message says so (havo, middelbare, puber, ...).

Which age ``parse_age`` picks when a message names several (documented rule):
1. stated ages (exact) win over band words ("peuter van 3" -> 36, not 24);
2. if a later word in the message points at one of the children ("... een zoon van 12 en een
   dochter van 3. Mijn dochter slaapt slecht"), that child's age; "de jongste" / "de oudste"
   point at the youngest / oldest age when no child is called that;
3. otherwise the first age in the text (the child the parent introduces first is the one the
   message is about; "7 en 9" -> 7).

Messages are normalised (lowercase, accents stripped) for matching; offsets point into the
original text. Only the first MAX_CHARS characters are read (a chat message is far shorter).
Nothing here raises on bad input and nothing logs message text.
"""
from __future__ import annotations

import bisect
import logging
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import yaml

from .phases import phase_for_months
from bot.vocabulary import KNOWLEDGE_DIR

log = logging.getLogger(__name__)

MAX_CHARS = 20_000          # characters read from a message
MAX_CHILD_MONTHS = 25 * 12  # above this it is not a child's age

_DATA_FILE = KNOWLEDGE_DIR / "age_words.yml"

# Months per unit.
_PER_UNIT = {"year": 12.0, "month": 1.0, "week": 12.0 / 52.0, "day": 12.0 / 365.0}


@dataclass(frozen=True)
class AgeMention:
    """One age expression in a message."""

    months: int          # age in months (band words: the band's lower bound)
    phase: str | None    # phase_for_months(months); None from 228 months on
    exact: bool          # False for band words (peuter, puber); True for stated ages
    start: int           # char offsets of the expression in the original text
    end: int


@dataclass(frozen=True)
class _Found:
    """A mention plus what parse_age needs to choose between several."""

    mention: AgeMention
    nstart: int                       # offsets in the normalised text
    nend: int
    priority: int                     # 0 school, 1 number, 2 band word
    group: Optional[str] = None       # child-word group of the noun it belongs to
    noun_span: Optional[Tuple[int, int]] = None
    modifier_offset: int = 0
    self_age: bool = False            # a child writing about itself ("ik ben 13")


# --------------------------------------------------------------------------------------------
# normalisation


_CHAR_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "`": "'", "\u00b4": "'",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-",
    "\u2212": "-", "\u00bd": "\u00bd", "\u2044": "/", "\u00a0": " ", "\u200b": "",
    "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "", "\u00d7": "x",
    # Arabic-Indic and Persian digits as 0-9 (issue 17: "عمره ٣ سنوات")
    **{chr(0x0660 + d): str(d) for d in range(10)}, **{chr(0x06F0 + d): str(d) for d in range(10)},
}


@lru_cache(maxsize=8192)
def _norm_char(ch: str) -> str:
    mapped = _CHAR_MAP.get(ch)
    if mapped is not None:
        return mapped
    try:
        decomposed = unicodedata.normalize("NFKD", ch)
    except (TypeError, ValueError):  # pragma: no cover - defensive
        return " "
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _normalize(text: str) -> Tuple[str, Optional[List[int]]]:
    """Lowercased, accent-free text and, unless it is ASCII, the original index of each char."""
    if text.isascii():
        return text.lower(), None
    parts: List[str] = []
    index: List[int] = []
    for i, ch in enumerate(text):
        rep = ch.lower() if ch < "\x80" else _norm_char(ch)
        if rep:
            parts.append(rep)
            index.extend([i] * len(rep))
    return "".join(parts), index


# --------------------------------------------------------------------------------------------
# ages for the crisis rules (bot.domain.crisis)

_AGE_YEARS = re.compile(
    r"(?<![a-z0-9])(?:van|is|wordt|werd|ben|zoon|dochter|kind|puber|tiener|jongen|meisje|zoontje|"
    r"dochtertje|nichtje|neefje|broer|zus|stiefzoon|stiefdochter) (\d{1,2})(?! ?(?:maanden|maand|"
    r"mnd|mndn|weken|week|wk|wkn|dagen|dag|kilo|kg|uur|minuten|min|cm|graden|euro|procent|keer|"
    r"jaar geleden|,\d|keer))(?![0-9])"
)
_AGE_YEARS2 = re.compile(r"(?<![0-9,])(\d{1,2}) ?(?:jaar|jr|jarige)(?! geleden)(?![a-z])")
_AGE_SCHOOL = re.compile(r"(?<![a-z])(?:groep (\d)|klas (\d)|(\d) (?:havo|vwo|vmbo|mavo|atheneum|gymnasium))(?![0-9])")
_AGE_BANDS = (
    (re.compile(r"(?<![a-z])(?:puber\w*|tiener\w*|adolescent\w*|brugklas\w*|middelbare school)(?![a-z])"), 144),
    (re.compile(r"(?<![a-z])(?:kleuter\w*)(?![a-z])"), 48),
    (re.compile(r"(?<![a-z])(?:peuter\w*)(?![a-z])"), 24),
    (re.compile(r"(?<![a-z])(?:dreumes\w*)(?![a-z])"), 12),
)


def crisis_ages_months(norm: str) -> List[int]:
    """Every number or word in ``norm`` that may be a child's age, in months, for the crisis
    rules (``age_min_months`` in knowledge/crisis.yml); ``norm`` is bot.domain.crisis's normalised text
    (lowercase ASCII).

    Deliberately cruder than `find_ages`: it also takes numbers without a unit after a child
    word or a verb ("ben 12", "zoon 15"), keeps the ages of adults ("een man van 29"), and misses
    forms that `find_ages` reads ("kinderen (3 en 6)", "baby van 4 maanden"). The crisis rules
    and their thresholds were written and measured against exactly these answers: `find_ages` in
    its place changes the outcome of 4 of the 12,705 messages in tests/data and data/nlu, 3 of
    them threats with young children present that would no longer be a crisis. Change it only
    together with crisis.yml and a new measurement (make eval).
    """
    ages: List[int] = []
    for m in _AGE_YEARS.finditer(norm):
        ages.append(int(m.group(1)) * 12)
    for m in _AGE_YEARS2.finditer(norm):
        ages.append(int(m.group(1)) * 12)
    for m in _AGE_SCHOOL.finditer(norm):
        if m.group(1):
            ages.append((int(m.group(1)) + 3) * 12)
        else:
            ages.append((11 + int(m.group(2) or m.group(3))) * 12)
    for pattern, months in _AGE_BANDS:
        if pattern.search(norm):
            ages.append(months)
    return ages


# --------------------------------------------------------------------------------------------
# data and compiled patterns


def _alt(words: Iterable[str]) -> str:
    """A regex alternation of words, longest first, spaces matching any whitespace run."""
    unique = sorted({str(w).strip() for w in words if str(w).strip()}, key=lambda w: (-len(w), w))
    return "(?:" + "|".join(r"\s+".join(re.escape(p) for p in w.split()) for w in unique) + ")"


def _key(word: str) -> str:
    return " ".join(word.split())


class _Rules:
    """Everything compiled once from age_words.yml."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self.number_words: Dict[str, float] = {k: float(v) for k, v in data["number_words"].items()}
        self.half_words: Dict[str, float] = {k: float(v) for k, v in data["half_words"].items()}
        self.modifiers: Dict[str, Dict[str, Any]] = {
            _key(k): v for k, v in data["modifiers"].items()}
        self.have_verbs = frozenset(data["have_verbs"])
        self.extra_subjects = frozenset(data["extra_child_subjects"])
        things = data["thing_subjects"]
        self.thing_words = frozenset(things["words"])
        self.thing_endings = tuple(things["endings"])
        self.child_endings = tuple(things["child_endings"])
        self.van_any_blocked = frozenset(data["van_any_blocked_before"])
        lo_self, hi_self = data["self_age_years"]
        self.self_years = (float(lo_self), float(hi_self))
        self.self_verbs: Dict[str, str] = dict(data["self_verbs"])
        self.self_veto = re.compile(rf"(?<!\w){_alt(data['self_veto_after'])}")
        self.alone_left_veto = frozenset(_key(w) for w in data["alone_left_veto"])
        generic = data["band_generic"]
        self.band_not_child = frozenset(_key(w) for w in generic["not_a_child"])
        self.band_plurals = frozenset(_key(w) for w in generic["plural_words"])
        self.band_degree = frozenset(generic["degree_words"])
        self.band_indef = frozenset(generic["indefinite"])
        self.band_possessive = frozenset(generic["possessive"])
        self.band_own_before = frozenset(generic["own_before"])
        self.band_own_fp = frozenset(generic["own_before_first_person"])
        self.band_first_person = frozenset(generic["first_person"])
        self.band_copulas = frozenset(generic["copulas"])
        self.band_adverbs = frozenset(w for a in generic["adverbs"] for w in a.split())
        units = data["units"]
        self.child_group: Dict[str, str] = {}
        for group, words in data["child_words"].items():
            for w in words:
                self.child_group[_key(w)] = group
        self.bands: Dict[str, Tuple[str, int, Tuple[int, int]]] = {}
        for name, band in data["bands"].items():
            lo, hi = band["plausible_months"]
            for w in band["words"]:
                self.bands[_key(w)] = (name, int(band["months"]), (int(lo), int(hi)))
        band_single = [w for w in self.bands if " " not in w]
        school = data["school"]
        self.ordinals: Dict[str, int] = {k: int(v) for k, v in school["ordinals"].items()}
        self.copulas: Dict[str, str] = dict(data["copulas"])
        self.pronouns = frozenset(data["copula_pronouns"])
        self.elided = frozenset(data["copula_elided_after"])
        self.van_words = frozenset(data["van_words"])
        self.name_stop = {_key(w) for w in data["name_stopwords"]}
        self.parents = frozenset(_key(w) for w in data["parent_words"])
        self.little = frozenset(data["little_before_parent_word"])
        self.rewritten: Dict[str, str] = dict(data["number_and_unit_words"])
        for word, rewrite in self.rewritten.items():
            if len(word) != len(rewrite):
                raise ValueError(f"age_words.yml: {word!r} and {rewrite!r} differ in length")
        self.rewrites = re.compile(rf"(?<!\w){_alt(self.rewritten)}(?!\w)")

        numword = _alt(self.number_words)
        halfword = _alt(self.half_words)
        digits = r"(?:[1-9]\d{0,2}|0)(?:[.,]\d(?!\d))?"
        int_digits = r"(?:[1-9]\d{0,2}|0)"
        numcore = rf"(?:{digits}|{halfword}|{numword})"
        half = r"(?:\s*-?\s*en\s*-?\s*(?:een\s*-?\s*)?(?:halve|half)|\s+1/2|\s*\u00bd)"
        year, month = _alt(units["year"]), _alt(units["month"])
        week, day = _alt(units["week"]), _alt(units["day"])
        jarig = _alt(data["jarig_words"])
        old = _alt(data["old_words"])
        mods = _alt(self.modifiers)
        symmods = _alt(data["symbol_modifiers"])
        self.mod_re = re.compile(mods)
        unit_alt = (rf"(?:(?P<u_year>{year})|(?P<u_month>{month})"
                    rf"|(?P<u_week>{week})|(?P<u_day>{day}))")
        extra = (
            rf"(?P<extra>\s*,?\s+(?:en\s+)?(?:(?P<xhalf>een\s+half|half)"
            rf"|(?P<xnum>{int_digits}|{numword})\s*-?\s*"
            rf"(?:(?P<xu_month>{month})|(?P<xu_week>{week})|(?P<xu_day>{day}))))"
        )
        self.expr = re.compile(
            r"(?<![\w/:+€$#@'])(?<!\d[.,\-])"
            rf"(?P<mod>(?:{mods}\s+){{1,2}}|{symmods}\s*)?"
            r"(?:"
            rf"(?P<approx>een\s+(?:(?P<a_year>jaartje|jaar)|(?P<a_month>maandje|maand))\s+of\s+"
            rf"(?P<anum>{digits}|{numword}))"
            r"|(?P<halfyear>(?:(?:een\s+)?half|\u00bd)\s*(?:jaartje|jaar))"
            rf"|(?P<num>{numcore})(?P<half>{half})?"
            rf"(?:(?P<jarig>\s?-?\s?{jarig})|(?P<unit>\s?-?\s?{unit_alt}){extra}?)?"
            r")"
            rf"(?P<oud>\s+{old})?"
            r"(?!\w)"
        )

        # masks: phone numbers, dates, clock times, money
        clocknum = rf"(?:\d{{1,2}}|{numword})"
        self.masks = [
            re.compile(r"(?:\+|00)\d[\d \-()]{7,}\d|(?<!\d)0\d(?:[ \-]?\d){7,}"),
            re.compile(r"(?<!\d )(?<![\d/])\d{1,2}[\-/]\d{1,2}(?:[\-/]\d{2,4})?(?![\d/])"),
            re.compile(r"(?<![\d.])\d{1,2}\.\d{1,2}\.\d{2,4}(?!\d)"),
            re.compile(r"(?<![\d.,])\d{1,2}[:.h]\d{2}(?!\d)"),
            re.compile(rf"(?<!\w)half\s+{clocknum}(?!\w)"),
            re.compile(rf"(?<!\w)(?:kwart|{clocknum})\s+(?:over|voor)\s+(?:half\s+)?"
                       rf"{clocknum}(?!\w)"),
            re.compile(r"[€$£]\s*\d[\d.,]*|(?<![\d.,])\d+,-"),
        ]

        self.mask_hint = re.compile(r"\d|half|kwart")
        child = _alt(self.child_group)
        bandw = _alt(band_single)
        noun = rf"(?P<noun>{child}|{bandw})"
        parents = _alt(self.parents)
        self.rel_right = re.compile(r"^\s*(?:is|wordt|geworden)(?!\w)")
        # word sets for the words just before a number (see _find_cue)
        self.nouns = frozenset(self.child_group) | frozenset(band_single)
        self.greetings = frozenset(_key(w) for w in data["greetings"])
        self.veto_before = frozenset(_key(w).replace(".", "") for w in data["veto_before"])
        self.list_cue = re.compile(r"^\s*(?:,|en|&|\+|of|,\s*en)\s*$")
        self.parent_right = re.compile(rf"^\s*(?:{parents}|alleenstaande|werkende)(?!\w)")
        self.school_parent_left = re.compile(
            r"(?:(?<!\w)ik\s+(?:zat|zit|was|ging)|(?<!\w)(?:zat|zaten))\s+"
            r"(?:toen\s+|zelf\s+|nog\s+)*"
            r"(?:in|op|naar)\s+(?:de\s+|het\s+|'t\s+)?$")
        self.past_right = re.compile(r"^\s*(?:zat|zaten|was|waren)(?!\w)")
        self.right_immediate = re.compile(r"^(?:[.,]\d|,-|-\d|/\d|:\d|\s*(?:%|€|°|\+|x(?!\w)))")
        self.right_bare = re.compile(
            rf"^\s*\(?\s*(?:{_alt(data['veto_after_bare'])}(?!\w)|(?:op|uit|van)\s+(?:de\s+)?\d)")
        weak = _alt(data["veto_after_bare_weak"])
        self.right_bare_weak = re.compile(rf"^\s*\(?\s*{weak}(?!\w)")
        self.right_bare_weak_num = re.compile(
            rf"^\s*{weak}\s+(?:half\s+|kwart\s+)?(?:\d|{numword}(?!\w))")
        # the end of a sentence after an age standing alone ("..., 7 jaar." / emoji / end)
        self.band_van_right = re.compile(rf"\s*(?:{_alt(self.van_words)})\s+(?:\d|{numcore})")
        self.right_alone = re.compile(r"^[ \t]*(?:$|[.!?;\n\r]|[^\x00-\x7f])")
        self.right_duration = re.compile(rf"^\s*(?:{_alt(data['veto_after_duration'])})(?!\w)")
        self.right_pred = re.compile(rf"^\s*(?:{_alt(data['duration_predicates'])})(?!\w)")
        self.right_clause = re.compile(rf"^\s*(?:$|[^\w\s]|{_alt(data['clause_followers'])}(?!\w))")
        self.right_noun = re.compile(rf"^\s*(?:[^\W\d_]+\s+)?{noun}(?!\w)")
        self.whole_rest = re.compile(r"^[\W_]*$")

        # band words and phrases
        self.band_re = re.compile(rf"(?<!\w){_alt(self.bands)}(?!\w)")
        self.band_left_veto = re.compile(
            r"(?<!\w)(?:als\s+(?:een\s+)?|geen|zonder"
            r"|toen\s+(?:hij|ze|zij|het|ik|jij)\s+(?:nog\s+)?(?:een\s+)?"
            r"|sinds\s+(?:hij|ze|zij)\s+(?:geen\s+)?(?:een\s+)?"
            r"|ik\s+(?:ben|was)\s+(?:zelf\s+)?(?:ook\s+)?(?:een\s+)?)\s*$")

        # school years
        levels = _alt(school["secondary_levels"])
        secwords = _alt(school["secondary_words"])
        ordword = _alt(self.ordinals)
        ordinal = rf"(?P<o>{ordword}|[1-8](?:ste|de|e))"
        small = r"(?:een|twee|drie|vier|vijf|zes|zeven|acht)"
        sec_tail = (rf"(?:van\s+(?:de|het|'t)\s+|op\s+(?:de|het|'t)\s+)?"
                    rf"(?:{levels}|{secwords})(?!\w)")
        pnl, sec = school["primary_nl"], school["secondary"]
        pbe, kbe = school["primary_be"], school["kindergarten_be"]
        yen, gen = school["year_en"], school["grade_en"]
        self.school_res: List[Tuple[re.Pattern[str], Optional[int], int, int]] = [
            # (pattern, base years or None for fixed months, max grade, fixed months)
            (re.compile(rf"(?<!\w){_alt(pnl['words'])}\s*(?P<n>[1-8]|{small})"
                        r"(?:\s*[/&\-]\s*[1-8])?(?!\w)"),
             int(pnl["base"]), int(pnl["max_grade"]), 0),
            (re.compile(rf"(?<!\w){ordinal}\s+groep(?!\w)"),
             int(pnl["base"]), int(pnl["max_grade"]), 0),
            (re.compile(rf"(?<![\w.,])(?P<n>[1-6])(?:ste|de|e)?\s*-?\s*(?:(?:klas|jaar)\s+)?"
                        rf"(?:van\s+(?:de|het|'t)\s+)?{levels}(?!\w)"),
             int(sec["base"]), int(sec["max_grade"]), 0),
            (re.compile(rf"(?<!\w){levels}\s*-?\s*(?P<n>[1-6])(?![\w.,/]|[.,]\d)"),
             int(sec["base"]), int(sec["max_grade"]), 0),
            (re.compile(rf"(?<!\w){ordinal}\s+(?:(?:klas|jaar|leerjaar)\s+)?{sec_tail}"),
             int(sec["base"]), int(sec["max_grade"]), 0),
            (re.compile(rf"(?<!\w)klas\s+(?P<n>[1-6]|{small})(?!\w)(?:\s+{sec_tail})?"),
             int(sec["base"]), int(sec["max_grade"]), 0),
            (re.compile(rf"(?<!\w){ordinal}\s+{_alt(pbe['words'])}(?!\w)"),
             int(pbe["base"]), int(pbe["max_grade"]), 0),
            (re.compile(rf"(?<!\w){_alt(pbe['words'])}\s+(?P<n>[1-6])(?!\w)"),
             int(pbe["base"]), int(pbe["max_grade"]), 0),
            (re.compile(rf"(?<!\w){ordinal}\s+{_alt(kbe['words'])}(?!\w)"),
             int(kbe["base"]), int(kbe["max_grade"]), 0),
            (re.compile(rf"(?<!\w){_alt(kbe['words'])}\s+(?P<n>[1-3])(?!\w)"),
             int(kbe["base"]), int(kbe["max_grade"]), 0),
            (re.compile(rf"(?<!\w){_alt(school['first_secondary_words'])}(?!\w)"),
             None, 0, (int(sec["base"]) + 1) * 12),
            (re.compile(rf"(?<!\w){_alt(yen['words'])}\s*(?P<n>1[0-3]|[1-9])(?![\w.,])"),
             int(yen["base"]), int(yen["max_grade"]), 0),
            (re.compile(rf"(?<!\w){_alt(gen['words'])}\s*(?P<n>1[0-2]|[1-9])(?![\w.,])"),
             int(gen["base"]), int(gen["max_grade"]), 0),
            (re.compile(rf"(?<![\w.,])(?P<n>1[0-2]|[1-9])(?:st|nd|rd|th)\s+{_alt(gen['words'])}(?!\w)"),
             int(gen["base"]), int(gen["max_grade"]), 0),
        ]
        for word, months in school["fixed"].items():
            self.school_res.append(
                (re.compile(rf"(?<!\w){_alt([word])}(?!\w)"), None, 0, int(months)))
        # a school year needs one of these substrings: skip the patterns when none is there
        hints = {"groep", "gr", "klas", "kleuterklas", "leerjaar", "brug", "middelba", "secundair",
                 "voortgezet", "instap", "year", "yr", "grade"} | {_key(w) for w in school["secondary_levels"]}
        self.school_hint = re.compile(rf"(?<![^\W\d_]){_alt(hints)}")
        # "de derde klas": secondary school only when the message says so
        signals = (list(data["secondary_signals"]) + list(school["secondary_levels"])
                   + list(school["secondary_words"]))
        self.secondary_signal = re.compile(rf"(?<!\w){_alt(signals)}(?!\w)")
        self.primary_right = re.compile(
            rf"^\s*(?:(?:van|op|in)\s+(?:de|het|'t)\s+)?{_alt(data['primary_signals'])}(?!\w)")
        self.klas_ordinal = re.compile(rf"(?<!\w){ordinal}\s+klas(?!\w)")
        self.sec_base, self.sec_max = int(sec["base"]), int(sec["max_grade"])
        self.small_numbers = {w: int(self.number_words[w]) for w in
                              ("een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht")}


def _check_words(node: Any, where: str = "age_words.yml") -> None:
    """Every word in the data file must be a string (YAML turns a bare `no` into False)."""
    if isinstance(node, dict):
        for key, value in node.items():
            _check_words(value, f"{where}/{key}")
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise ValueError(f"{where}: {item!r} is not a word; quote it")


@lru_cache(maxsize=1)
def _rules() -> _Rules:
    with open(_DATA_FILE, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    _check_words(data)
    return _Rules(data)


# --------------------------------------------------------------------------------------------
# helpers


class _Text:
    """A message: original text, normalised text and the offset map between them."""

    def __init__(self, text: str, rewrites: Optional[re.Pattern] = None,
                 rewritten: Optional[Dict[str, str]] = None) -> None:
        self.orig = text[:MAX_CHARS]
        self.norm, self.index = _normalize(self.orig)
        if rewrites is not None and rewritten:
            # same length, so the offset map stays right: "سنتان" (two years) -> "2 سنة"
            self.norm = rewrites.sub(lambda m: rewritten[m.group(0)], self.norm)

    def orig_span(self, start: int, end: int) -> Tuple[int, int]:
        if self.index is None:
            return start, end
        if not self.index:
            return 0, 0
        o_start = self.index[min(start, len(self.index) - 1)]
        o_end = self.index[min(max(end - 1, start), len(self.index) - 1)] + 1
        return o_start, o_end

    def orig_slice(self, start: int, end: int) -> str:
        a, b = self.orig_span(start, end)
        return self.orig[a:b]


def _masked(rules: _Rules, norm: str, start: int, end: int) -> bool:
    """The span touches a phone number, date, clock time or amount of money."""
    lo, hi = max(0, start - 30), min(len(norm), end + 30)
    if not rules.mask_hint.search(norm, lo, hi):
        return False
    for rx in rules.masks:
        for m in rx.finditer(norm, lo, hi):
            if m.start() < end and m.end() > start:
                return True
    return False


def _number_value(rules: _Rules, word: str) -> Optional[float]:
    word = " ".join(word.split())
    if word in rules.number_words:
        return rules.number_words[word]
    if word in rules.half_words:
        return rules.half_words[word]
    try:
        return float(word.replace(",", "."))
    except ValueError:
        return None


def _make(months: int, exact: bool, ostart: int, oend: int) -> AgeMention:
    return AgeMention(months=months, phase=phase_for_months(months), exact=exact,
                      start=ostart, end=oend)


# --------------------------------------------------------------------------------------------
# number expressions


class _Cue:
    __slots__ = ("kind", "noun", "noun_span", "cop")

    def __init__(self, kind: str, noun: Optional[str] = None,
                 noun_span: Optional[Tuple[int, int]] = None, cop: Optional[str] = None) -> None:
        self.kind, self.noun, self.noun_span, self.cop = kind, noun, noun_span, cop


_TOKEN_RE = re.compile(r"[^\W_][\w']*|[^\w\s]")
_Tok = Tuple[str, int, int]


class _AnyWord:
    """Matches any word token (not punctuation)."""

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token[:1].isalnum()


_ANY = _AnyWord()
_OPEN = frozenset({"(", ",", ":", "-"})
_I_AM = frozenset({"ben", "word", "werd", "was"})
_WE = frozenset({"wij", "we"})
_WE_ARE = frozenset({"zijn", "worden", "waren"})
_BOTH = frozenset({"allebei", "beiden", "beide"})
_LINKS = frozenset({"van", "is", "wordt", "werd", "was", "zijn"})
_PRONOUN_SUBJECTS = frozenset({"hij", "ze", "zij", "die"})
_LEEFTIJD = frozenset({"leeftijd", "lft"})
_LEEFTIJD_TAIL = frozenset({"van", "mijn", "ons", "onze", "het", "de", ":", "=", "-", "is"})


def _tail(words: Sequence[str], specs: Sequence[Tuple[bool, Any]]) -> Optional[int]:
    """Match (optional, allowed words) specs against the end of words; index of the match."""

    def rec(i: int, j: int) -> Optional[int]:
        if j == 0:
            return i
        optional, allowed = specs[j - 1]
        if i > 0 and words[i - 1] in allowed:
            found = rec(i - 1, j - 1)
            if found is not None:
                return found
        return rec(i, j - 1) if optional else None

    return rec(len(words), len(specs))


def _tail_tokens(norm: str, start: int, width: int = 80) -> List[_Tok]:
    """The last few word / punctuation tokens before `start`."""
    offset = max(0, start - width)
    tokens = [(m.group(0), m.start(), m.end()) for m in _TOKEN_RE.finditer(norm, offset, start)]
    if offset > 0 and tokens and tokens[0][1] == offset and norm[offset - 1].isalnum():
        tokens = tokens[1:]
    return tokens[-7:]


_PARENT_WORD_SPEC = 4   # index in _parent_specs of "<parent word> (van|is) N"


@lru_cache(maxsize=1)
def _parent_specs(parents: frozenset) -> Tuple[List[Tuple[bool, Any]], ...]:
    def r(allowed: Any) -> Tuple[bool, Any]:
        return False, allowed

    def o(allowed: Any) -> Tuple[bool, Any]:
        return True, allowed

    return (
        [r({"ik", "ikzelf"}), r(_I_AM), o({"zelf", "ook"})],
        [r({"ben", "word", "werd"}), r({"ik"})],
        [r(_WE), r(_WE_ARE), o(_BOTH)],
        [r({"ik"}), r(_OPEN)],
        [r(parents), o(_OPEN), o(_LINKS), o(_OPEN)],
    )


def _is_parent(rules: _Rules, words: Sequence[str]) -> bool:
    """The number is the age of the parent or another adult ("ik ben 34", "mijn man van 40")."""
    for k, specs in enumerate(_parent_specs(rules.parents)):
        i = _tail(words, specs)
        if i is None:
            continue
        if k == _PARENT_WORD_SPEC and i > 0 and words[i - 1] in rules.little:
            continue      # "kleine man van 20 maanden" is a child
        if k == _PARENT_WORD_SPEC and words[i] in rules.have_verbs and (
                i == 0 or words[i - 1] in rules.nouns or words[i - 1] in rules.pronouns):
            continue      # Polish "(syn) ma 2 lata": "has", not Dutch "ma" (mother)
        return True
    return False


_SELF_I = frozenset({"ik", "ikzelf"})
_SELF_TAIL = frozenset({"zelf", "ook"})
_SENTENCE_END = frozenset({".", "!", "?", ";"})
_CLAUSE_MARKS = frozenset({",", ":", "-"})


def _self_verb(rules: _Rules, words: Sequence[str]) -> Optional[str]:
    """'ik ben' / 'ben ik' / 'ik heb' right before the number: that verb, else None."""
    i = _tail(words, [(False, _SELF_I), (False, rules.self_verbs), (True, _SELF_TAIL)])
    if i is not None:
        return words[i + 1]
    i = _tail(words, [(False, rules.self_verbs), (False, {"ik"}), (True, _SELF_TAIL)])
    if i is not None:
        return words[i]
    return None


def _is_thing(rules: _Rules, word: str) -> bool:
    """A noun for a thing or a time ("wachttijd", "contract"), not for a child."""
    if word in rules.thing_words:
        return True
    return word.endswith(rules.thing_endings) and not word.endswith(rules.child_endings)


def _is_name(t: _Text, tok: _Tok) -> bool:
    return t.orig_slice(tok[1], tok[1] + 1).isupper()


def _free_noun(rules: _Rules, word: str, before: Optional[str] = None) -> bool:
    """A word that may name a child although it is not a known child word."""
    if word in rules.parents and before in rules.little:
        return True                                   # "kleine man"
    return (word.isalpha() and len(word) > 1 and word not in rules.name_stop
            and word not in rules.parents and word not in rules.have_verbs
            and word not in rules.copulas and not _is_thing(rules, word))


def _adjective(rules: _Rules, word: str) -> bool:
    return (word.endswith("e") and word.isalpha() and word not in rules.name_stop
            and word not in rules.van_any_blocked and word not in rules.band_indef)


def _find_cue(rules: _Rules, t: _Text, start: int, end: int, tokens: Sequence[_Tok],
              prev: Optional[Tuple[int, str]], has_unit: bool = False) -> Optional[_Cue]:
    """What, just before (or around) a number, makes it an age."""
    words = [tok[0] for tok in tokens]
    n = len(words)
    right = t.norm[end:end + 40]

    def noun_cue(kind: str, i: int) -> _Cue:
        return _Cue(kind, words[i], (tokens[i][1], tokens[i][2]))

    i = _tail(words, [(False, rules.nouns), (True, {",", "("}), (False, rules.van_words)])
    if i is not None:
        return noun_cue("van", i)
    det = words[-3] if n >= 3 else None
    if has_unit and n >= 2 and words[-1] in rules.van_words and _free_noun(rules, words[-2], det):
        # "ons Lotte van 3 jaar", "kleine man van 20 maanden" (not "een contract van 2 jaar")
        if (det is None or not det[:1].isalnum() or det in rules.band_possessive
                or _adjective(rules, det) or _is_name(t, tokens[-2])) \
                and det not in rules.van_any_blocked:
            return _Cue("van_any")
    if n >= 1 and words[-1].endswith("'s") and words[-1][:-2] in rules.pronouns:
        return _Cue("copula", words[-1][:-2], (tokens[-1][1], tokens[-1][2] - 2), "is")  # "she's 14"
    if n >= 2 and words[-1] in rules.copulas:
        subj, span = words[-2], tokens[-2]
        if subj in rules.pronouns or subj in rules.nouns:
            return _Cue("copula", subj, (span[1], span[2]), words[-1])
        if subj in rules.elided and words[-1] in ("is", "werd", "wordt"):
            return _Cue("copula", None, None, words[-1])      # "... en is 9"
        if (subj[:1].isalpha() and len(subj) > 1 and subj not in rules.name_stop
                and subj not in rules.parents and _is_name(t, span)):
            return _Cue("copula", None, None, words[-1])      # a name: "Emma is 3"
        if has_unit and words[-1] in ("is", "wordt", "werd"):
            # "de mijne is 10 maanden", "onze lieverd is 6 weken" (not "de wachttijd is ...")
            if subj in rules.extra_subjects or (_free_noun(rules, subj, det) and (
                    det is None or not det[:1].isalnum() or det in rules.band_possessive
                    or _adjective(rules, det) or (det == "de" and subj.endswith("e")))):
                return _Cue("copula_any", None, None, words[-1])
    if n >= 2 and words[-1] in _PRONOUN_SUBJECTS and words[-2] in rules.copulas:
        return _Cue("copula", words[-1], (tokens[-1][1], tokens[-1][2]), words[-2])
    if has_unit and n >= 2 and words[-1] in rules.have_verbs:
        # Flemish / second language: "mijn kind heeft 6 jaar", "zij heeft 7 jaar"
        subj, span = words[-2], tokens[-2]
        if subj in rules.pronouns or subj in rules.nouns:
            return _Cue("have", subj, (span[1], span[2]))
        if subj in rules.extra_subjects or (
                _free_noun(rules, subj, det) and _is_name(t, span)):
            return _Cue("have")
    if has_unit and n >= 2 and words[-1] in _PRONOUN_SUBJECTS and words[-2] in rules.have_verbs:
        return _Cue("have", words[-1], (tokens[-1][1], tokens[-1][2]))   # "nu heeft ze 7 jaar"
    i = _tail(words, [(False, rules.nouns), (True, _OPEN)])
    if i is not None:
        return noun_cue("child", i)
    if n and (words[-1] in _PRONOUN_SUBJECTS or words[-1] in rules.nouns) \
            and rules.rel_right.match(right):
        return noun_cue("rel", n - 1)
    for k in range(max(0, n - 6), n):
        if words[k] in _LEEFTIJD and all(w in _LEEFTIJD_TAIL or w in rules.nouns
                                          for w in words[k + 1:]):
            return _Cue("leeftijd")
    if prev is not None and rules.list_cue.match(t.norm[prev[0]:start]):
        return _Cue("list")
    if start < 200 and all(w in rules.greetings or not w[:1].isalnum()
                           for w in _TOKEN_RE.findall(t.norm, 0, start)):
        return _Cue("start")
    if has_unit and n:
        # an age standing alone after a sentence: "hij is zo onzeker. 7 jaar"
        last = words[-1]
        newline = "\n" in t.norm[tokens[-1][2]:start]
        if newline or last in _SENTENCE_END or not last.isascii():
            return _Cue("alone")
        if last in _CLAUSE_MARKS and not any(
                w in rules.alone_left_veto or " ".join(words[k:k + 2]) in rules.alone_left_veto
                for k, w in enumerate(words[-4:-1], start=max(0, n - 4))):
            return _Cue("alone")
    return None


def _left_veto(rules: _Rules, words: Sequence[str]) -> bool:
    """A word just before the number that makes it a duration, count, time or limit."""
    if not words:
        return False
    return words[-1] in rules.veto_before or " ".join(words[-2:]) in rules.veto_before


def _evaluate(rules: _Rules, t: _Text, m: re.Match, expecting: bool,
              prev: Optional[Tuple[int, str]]) -> Optional[Tuple[_Found, str]]:
    g = m.groupdict()
    start, end = m.span()
    norm = t.norm

    # -- the value -------------------------------------------------------------------------
    mod_offset, mod_duration, mod_alone = 0, False, False
    if g["mod"]:
        for mm in rules.mod_re.finditer(g["mod"]):
            info = rules.modifiers.get(_key(mm.group(0)), {})
            mod_offset = min(mod_offset, int(info.get("offset", 0)))
            mod_duration = mod_duration or bool(info.get("duration", False))
            mod_alone = mod_alone or bool(info.get("alone", False))
    jarig = bool(g["jarig"])
    oud = bool(g["oud"])
    is_een = False
    if g["approx"]:
        value = _number_value(rules, g["anum"])
        unit = "year" if g["a_year"] else "month"
        has_unit = True
    elif g["halfyear"]:
        value, unit, has_unit = 0.5, "year", True
    else:
        word = g["num"]
        value = _number_value(rules, word)
        if value is None:
            return None
        if word == "een":
            original = t.orig_slice(m.start("num"), m.end("num"))
            is_een = original.lower() == "een"   # written without accent: maybe an article
            if is_een and not (expecting or jarig or g["half"]
                               or any(g[f"u_{u}"] for u in ("year", "month", "week", "day"))):
                return None
        if g["half"]:
            if value != int(value):
                return None
            value += 0.5
        unit, has_unit = "year", jarig
        for name in ("year", "month", "week", "day"):
            if g[f"u_{name}"]:
                unit, has_unit = name, True
    if value is None:
        return None
    months_f = value * _PER_UNIT[unit]
    if g.get("extra"):
        if g["xhalf"]:
            months_f += 0.5 * _PER_UNIT[unit]
        else:
            xvalue = _number_value(rules, g["xnum"])
            if xvalue is None:
                return None
            xunit = "month" if g["xu_month"] else "week" if g["xu_week"] else "day"
            months_f += xvalue * _PER_UNIT[xunit]
    bare = not has_unit

    # -- the context -----------------------------------------------------------------------
    right = norm[end:end + 60]
    if rules.right_immediate.match(right):
        return None
    tokens = _tail_tokens(norm, start)
    words = [tok[0] for tok in tokens]
    self_verb = _self_verb(rules, words)
    if self_verb is not None:
        # "ik ben 13": a child writing about itself; "ik ben 34" is the parent
        lo, hi = rules.self_years
        if not ((unit == "year" and (bare and self_verb != "heb" or g["u_year"] or g["a_year"]))
                and lo <= months_f / 12.0 <= hi
                and rules.right_clause.match(right)
                and not rules.right_pred.match(right)
                and not rules.parent_right.match(right)
                and not rules.self_veto.search(norm, end, end + 40)):
            return None
        cue: Optional[_Cue] = _Cue("self", cop="wordt" if self_verb == "word" else None)
    elif _is_parent(rules, words):
        return None
    else:
        cue = None
    if (jarig or oud) and rules.parent_right.match(right):
        return None
    if cue is None:
        cue = _find_cue(rules, t, start, end, tokens, prev, has_unit and not jarig)
    kind = cue.kind if cue else None
    short = unit in ("week", "day") and not oud

    if bare and rules.right_bare.match(right):
        return None
    if bare and kind != "van" and rules.right_bare_weak.match(right):
        return None
    if bare and rules.right_bare_weak_num.match(right):
        return None
    if has_unit and not jarig and rules.right_duration.match(right):
        return None
    if mod_duration and kind not in ("copula", "child", "rel", "self") \
            and not (expecting and bare):
        return None
    if is_een and not (has_unit or g["half"]):
        whole = rules.whole_rest.match(norm[:start]) and rules.whole_rest.match(norm[end:])
        if not (expecting and whole):
            return None

    accepted = False
    if jarig or oud or kind == "van":
        accepted = True
    elif kind in ("child", "list", "leeftijd"):
        accepted = not (short and not rules.right_clause.match(right))
    elif kind in ("copula", "rel"):
        accepted = not ((has_unit and rules.right_pred.match(right))
                        or (short and not rules.right_clause.match(right)))
    elif kind == "start" and has_unit:
        accepted = bool(rules.right_clause.match(right))
    elif kind == "start":
        # the whole message is "net 14" / "bijna 4"; "14" or "zes" alone needs the question
        accepted = mod_alone and bool(rules.whole_rest.match(norm[end:]))
    elif kind == "self":
        accepted = True
    elif kind == "van_any":
        accepted = not (short and not rules.right_clause.match(right))
    elif kind in ("copula_any", "have"):
        accepted = bool(rules.right_clause.match(right)) and not rules.right_pred.match(right)
    elif kind == "alone":
        accepted = (unit in ("year", "month") or oud) and bool(rules.right_alone.match(right))
    if not accepted and expecting:
        accepted = not (_left_veto(rules, words)
                        or (has_unit and rules.right_pred.match(right))
                        or (short and not rules.right_clause.match(right)))
    if not accepted:
        return None

    # -- months ----------------------------------------------------------------------------
    noun = cue.noun if cue else None
    noun_span = cue.noun_span if cue else None
    if (jarig or oud) and noun is None:
        nm = rules.right_noun.match(right)
        if nm:
            noun = nm.group("noun")
            noun_span = (end + nm.start("noun"), end + nm.end("noun"))
    if bare and noun in rules.bands and value == int(value):
        lo, hi = rules.bands[noun][2]
        if not lo <= months_f <= hi and lo <= value <= hi:
            months_f = value  # "baby van 8": months
    months = int(math.floor(months_f + 1e-9))
    offset_months = mod_offset
    if cue and cue.cop and rules.copulas.get(cue.cop) == "turning":
        offset_months = -1
    months = max(0, months + offset_months)
    if months > MAX_CHILD_MONTHS:
        return None
    group = None
    if noun is not None:
        group = rules.child_group.get(noun)
        if group is None and noun in rules.bands:
            group = "band:" + rules.bands[noun][0]
    ostart, oend = t.orig_span(start, end)
    found = _Found(_make(months, True, ostart, oend), start, end, 1, group, noun_span,
                   offset_months, kind == "self")
    return found, kind or "expecting"


def _numbers(rules: _Rules, t: _Text, expecting: bool) -> List[_Found]:
    out: List[_Found] = []
    prev: Optional[Tuple[int, str]] = None
    for m in rules.expr.finditer(t.norm):
        result = _evaluate(rules, t, m, expecting, prev)
        if result is not None and not _masked(rules, t.norm, m.start(), m.end()):
            out.append(result[0])
            prev = (m.end(), result[1])
    return out


# --------------------------------------------------------------------------------------------
# school years and band words


def _schools(rules: _Rules, t: _Text) -> List[_Found]:
    out: List[_Found] = []
    norm = t.norm
    if not rules.school_hint.search(norm):
        return out
    for rx, base, max_grade, fixed in rules.school_res:
        for m in rx.finditer(norm):
            start, end = m.span()
            left = norm[max(0, start - 60):start]
            right = norm[end:end + 40]
            if rules.school_parent_left.search(left) or rules.past_right.match(right):
                continue
            if base is None:
                months = fixed
            else:
                gd = m.groupdict()
                if gd.get("n"):
                    raw = gd["n"]
                    grade = int(raw) if raw.isdigit() else rules.small_numbers.get(raw, 0)
                else:
                    raw = gd.get("o") or ""
                    grade = rules.ordinals.get(raw) or (int(raw[0]) if raw[:1].isdigit() else 0)
                if not 1 <= grade <= max_grade:
                    continue
                if rules.right_bare.match(right) and not right.lstrip().startswith("van"):
                    continue
                months = (base + grade) * 12
            ostart, oend = t.orig_span(start, end)
            out.append(_Found(_make(months, True, ostart, oend), start, end, 0))
    if "klas" in norm and rules.secondary_signal.search(norm):
        # "de derde klas" is secondary school only when the message says so
        for m in rules.klas_ordinal.finditer(norm):
            start, end = m.span()
            raw = m.group("o")
            grade = rules.ordinals.get(raw) or (int(raw[0]) if raw[:1].isdigit() else 0)
            if not 1 <= grade <= rules.sec_max:
                continue
            right = norm[end:end + 40]
            if (rules.school_parent_left.search(norm[max(0, start - 60):start])
                    or rules.past_right.match(right) or rules.primary_right.match(right)):
                continue
            ostart, oend = t.orig_span(start, end)
            out.append(_Found(_make((rules.sec_base + grade) * 12, True, ostart, oend),
                              start, end, 0))
    return out


def _generic_band(rules: _Rules, norm: str, start: int, word: str) -> bool:
    """'een baby', 'babys', 'pubers': children in general, not this child."""
    last = word.split()[-1]
    if word in rules.band_not_child or last not in rules.bands or last in rules.band_not_child:
        return False
    plural = word in rules.band_plurals
    words = [tok[0] for tok in _tail_tokens(norm, start)]
    i = len(words)
    skipped = 0
    while i > 0 and skipped < 3:
        w = words[i - 1]
        if (w in rules.band_degree or _adjective(rules, w)
                or (plural and (w.isdigit() or w in rules.number_words))):
            i -= 1
            skipped += 1
            continue
        break
    det = words[i - 1] if i > 0 else None
    j = i - 2
    while j >= 0 and i - 2 - j < 2 and words[j] in rules.band_adverbs:
        j -= 1                                       # "heb al een", "is ineens een"
    before = words[j] if j >= 0 else None
    subject = words[j - 1] if j >= 1 else None
    if plural:
        return det not in rules.band_possessive and det not in rules.band_own_before
    if det not in rules.band_indef:
        return False
    if before in rules.band_own_before:
        return False
    if before in rules.band_copulas and (subject in rules.pronouns or subject in rules.nouns):
        return False                                 # "ze is een echte puber"
    if before in rules.band_own_fp:
        lo = max(0, start - 200)
        cut = max(norm.rfind(c, lo, start) for c in ".!?\n")
        sentence = _TOKEN_RE.findall(norm, max(lo, cut + 1), start)
        return not any(w in rules.band_first_person for w in sentence)
    return True


def _band_words(rules: _Rules, t: _Text,
                attached: frozenset = frozenset()) -> List[_Found]:
    out: List[_Found] = []
    norm = t.norm
    for m in rules.band_re.finditer(norm):
        start, end = m.span()
        if rules.band_left_veto.search(norm[max(0, start - 40):start]):
            continue
        if rules.past_right.match(norm[end:end + 20]):
            continue
        if rules.school_parent_left.search(norm[max(0, start - 60):start]):
            continue
        word = _key(m.group(0))
        if ((start, end) not in attached and not rules.band_van_right.match(norm, end)
                and _generic_band(rules, norm, start, word)):
            continue
        name, months, _ = rules.bands[word]
        ostart, oend = t.orig_span(start, end)
        out.append(_Found(_make(months, False, ostart, oend), start, end, 2,
                          "band:" + name, (start, end)))
    return out


# --------------------------------------------------------------------------------------------
# putting it together


def _without_overlaps(found: Sequence[_Found]) -> List[_Found]:
    """Drop overlapping mentions (school before number before band word; longer first)."""
    starts: List[int] = []
    kept: List[_Found] = []
    for f in sorted(found, key=lambda f: (f.priority, -(f.nend - f.nstart), f.nstart)):
        i = bisect.bisect_left(starts, f.nend)
        if i > 0 and kept[i - 1].nend > f.nstart:
            continue
        starts.insert(i, f.nstart)
        kept.insert(i, f)
    return kept


_GAP_RE = re.compile(r"^\s*[,;]?\s*(?:en|maar|of)?\s*[,;]?\s*$")


def _merge_nearly(norm: str, found: List[_Found]) -> List[_Found]:
    """'3, bijna 4' is one child of 47 months: drop the first when the next one refines it."""
    out: List[_Found] = []
    for f in found:
        if out:
            last = out[-1]
            if (last.priority == 1 and f.priority == 1 and f.modifier_offset < 0
                    and last.modifier_offset == 0
                    and 0 < f.mention.months - last.mention.months <= 11
                    and _GAP_RE.match(norm[last.nend:f.nstart])):
                out[-1] = f
                continue
        out.append(f)
    return out


def _analyse(text: str, expecting_age: bool) -> Tuple[List[_Found], Optional[_Text]]:
    if not isinstance(text, str) or not text.strip():
        return [], None
    try:
        rules = _rules()
        t = _Text(text, rules.rewrites, rules.rewritten)
        numbers = _numbers(rules, t, bool(expecting_age))
        attached = frozenset(f.noun_span for f in numbers if f.noun_span)
        found = _schools(rules, t) + numbers + _band_words(rules, t, attached)
        return _merge_nearly(t.norm, _without_overlaps(found)), t
    except Exception:  # noqa: BLE001 - bad input must never break the conversation
        log.exception("age parsing failed (message length %d)", len(text))
        return [], None


def find_ages(text: str, expecting_age: bool = False) -> list[AgeMention]:
    """All age mentions of children in the message, in text order."""
    found, _ = _analyse(text, expecting_age)
    return [f.mention for f in found]


def _referenced(rules: _Rules, t: _Text, pool: Sequence[_Found]) -> Optional[_Found]:
    """The mention a free child word in the message points at ('Mijn dochter slaapt slecht')."""
    attached = {f.noun_span for f in pool if f.noun_span}
    starts = [f.nstart for f in pool]       # pool is in text order, without overlaps
    for m in _TOKEN_RE.finditer(t.norm):
        if m.group(0) not in rules.nouns:
            continue
        span = m.span()
        i = bisect.bisect_right(starts, span[0]) - 1
        if span in attached or (i >= 0 and pool[i].nend > span[0]):
            continue
        word = _key(m.group(0))
        group = rules.child_group.get(word)
        if group is None and word in rules.bands:
            group = "band:" + rules.bands[word][0]
        if group in (None, "kind", "plural"):
            continue
        matches = [f for f in pool if f.group == group]
        if len(matches) == 1:
            return matches[0]
        if not matches and group == "jongste":
            return min(pool, key=lambda f: f.mention.months)
        if not matches and group == "oudste":
            return max(pool, key=lambda f: f.mention.months)
    return None


def parse_age(text: str, expecting_age: bool = False) -> AgeMention | None:
    """The age to use for the child the message is about (see the module docstring), or None."""
    found, t = _analyse(text, expecting_age)
    if not found or t is None:
        return None
    exact = [f for f in found if f.mention.exact]
    # a child's own age ("ik ben 13") only when no other child's age is stated
    exact = [f for f in exact if not f.self_age] or exact
    pool = exact or found
    if len(exact) > 1:
        try:
            chosen = _referenced(_rules(), t, exact)
        except Exception:  # noqa: BLE001
            log.exception("age choice failed")
            chosen = None
        if chosen is not None:
            return chosen.mention
    return pool[0].mention
