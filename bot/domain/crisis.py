"""Crisis detector: finds acute-danger signals in one parent's (or child's) message.

Pure Python, no Rasa. The Rasa NLU component runs it on every message, before and independently
of intent classification and of the action server. The patterns are data in
``bot/knowledge/crisis.yml``; this module normalises the text and evaluates them.

Signals (CONTRACT.md s4): ``suicide``, ``geweld``, ``ouder_acuut``, ``medisch_acuut``.

Situations (CONTRACT.md s4b): every rule names exactly one ``situation`` of its signal (the mapping
``SITUATIONS`` of bot/domain/situations.py, situation -> signal; loading refuses a rule without one, or
with one of another signal); a ``CrisisMatch`` carries the signal, the situation and the rule id.
Within one rank the rule that comes first in crisis.yml wins, so the order of the rules there is
also the order between situations of one signal: poisoning, then a baby, then other medical
emergencies; a missing child, then exploitation, then sexual abuse, then violence against the
writer by a partner, then a child hurt; voices or confusion before a parent at the limit.
Suicide: the writer is taken to be the parent, so first-person words ("ik wil dood", "wil niet meer
leven") are ``suicidaal_ouder``, unless they are quoted ("zegt", "riep", "appte", a colon) or the
writer says they are a child ("ik ben 14"); a partner or parent who speaks of suicide ("mijn vrouw
zegt dat ze er een eind aan wil maken") is ``suicidaal_ouder`` too; everything else is
``suicidaal_kind``. Violence: a partner who hurts the writer, or one adult another, is
``huiselijk_geweld``; a child who is hurt is ``mishandeling`` (also "papa slaat me": a child
writing).

Priority when several rules match: medisch_acuut (immediate life danger) > suicide > ouder_acuut
when a parent says they hurt or are about to hurt the child (rank 70) > geweld > ouder_acuut
breaking point (rank 50). A parent's own report of harming the child is ``ouder_acuut``, not
``geweld``: the parent is reaching out, and the reply for ouder_acuut names Veilig Thuis (which
also helps people who use violence), 113 and 112. Another adult's violence is ``geweld``; another
parent's stated intention to hurt the baby is ``ouder_acuut``. Pills or poison swallowed now are
``medisch_acuut`` even when it is a suicide attempt.

Decisions on ambiguous messages (consistent with tests/data/redteam.yml):
- Bare breaking-point clauses ("ik kan niet meer", "ik trek het niet meer", "ik hou het niet
  meer vol", "ik kan het allemaal niet meer aan", "ik ga eraan onderdoor") escalate as
  ouder_acuut. The same words with a limited object ("... met zijn driftbuien", "... tegen zijn
  gezeur"), a following verb ("ik kan niet meer slapen"), a condition ("als ik het niet meer
  trek") or laughing ("ik kan niet meer van het lachen", "ik kan niet meer 😂") do not, and
  neither do "ik ben op", "ik ben kapot", "ik word gek".
- "ik zie het niet meer zitten" is suicide.
- A child who says it wants to die is suicide, also in anger or grief. A child who wishes
  someone else dead, or says "ik schiet je dood" / "ik vermoord je" in play, a game, a tantrum or
  under 12, is not a crisis; a teenager's threat without such context, or any threat with a real
  weapon, is geweld.
- Suicide of a third person as a topic (news, classmate, neighbour, a talk at school) is not a
  crisis unless the child's own wishes are mentioned; "hoe praat ik met mijn kind over
  zelfmoord" without such an anchor escalates.
- Fever is a crisis only in a baby under 3 months (<= 12 weeks), or with signs of meningitis, a
  seizure or dehydration. "mijn baby heeft koorts" without an age is not.
- Children hitting (toddlers, siblings, classmates) is not a crisis unless an adult is involved,
  there are injuries, a weapon, or a teenager hits a parent.
- Past, resolved events ("vorig jaar een koortsstuip", "heeft epilepsie") are not acute.

The detector sees one message. A second turn that only refers back ("hij doet dat") is not
found; the caller may also run it on the last two user messages joined.
"""
from __future__ import annotations

import html
import itertools
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, Iterable, List, Optional, Pattern, Sequence, Tuple

import yaml

from bot.domain.age import crisis_ages_months as _ages_months
from bot.vocabulary import KNOWLEDGE_DIR
from bot.vocabulary import SIGNALS, SITUATIONS

logger = logging.getLogger(__name__)

DATA_FILE = KNOWLEDGE_DIR / "crisis.yml"

# Input longer than this is checked on its first and last half of it (a chat message is far
# shorter; this only bounds the time on pasted or hostile input).
MAX_CHARS = 20_000
MAX_SENTENCE_WORDS = 80
SENTENCE_OVERLAP = 20
WINDOW = 3  # sentences per "window" scope

_CLAUSE_WORDS = (
    "dat|omdat|als|wanneer|maar|want|toen|terwijl|zegt|zei|zeggen|vertelt|vertelde|riep|roept|"
    "of|tenzij|nadat|voordat|zodat|hoewel"
)
_NEGATIONS = "niet|nie|geen|nooit"
_GAP_GUARDED = r"(?:(?!(?:" + _CLAUSE_WORDS + r")\b)\w+ ){0,%d}"
_GAP_NONEG = r"(?:(?!(?:" + _CLAUSE_WORDS + "|" + _NEGATIONS + r")\b)\w+ ){0,%d}"
_GAP_FREE = r"(?:\S+ ){0,%d}"
_GAP_TOKEN = re.compile(r"~(~|!)?(\d+) ")
_DEF_REF = re.compile(r"\{([A-Z_]+)\}")


@dataclass(frozen=True)
class CrisisMatch:
    """A detected crisis: the signal, the situation and the id of the rule that matched (never
    message text)."""

    signal: str  # suicide | geweld | ouder_acuut | medisch_acuut
    situation: str  # a key of SITUATIONS, of this signal (CONTRACT.md 4b)
    rule: str  # id of the pattern that matched


@dataclass(frozen=True)
class _Gated:
    """A compiled pattern plus literals of which every match contains at least one (None: no
    such set could be derived, always search)."""

    regex: Pattern[str]
    literals: Optional[frozenset]

    def search(self, text: str, present: Optional[frozenset] = None) -> bool:
        """Search ``text``; ``present`` = literals found in the whole message (a superset of
        those in ``text``), or None to check the literals here."""
        if self.literals is not None:
            if present is None:
                if not any(lit in text for lit in self.literals):
                    return False
            elif self.literals.isdisjoint(present):
                return False
        return self.regex.search(text) is not None


@dataclass(frozen=True)
class _Rule:
    id: str
    signal: str
    situation: str
    rank: int
    order: int
    patterns: Tuple[_Gated, ...]
    also: Tuple[_Gated, ...]
    unless: Tuple[_Gated, ...]
    scope: str
    age_min_months: Optional[int]
    age_unknown_pass: bool
    kind: Optional[str]
    examples: Tuple[str, ...]
    use_lemmas: bool
    infant_max_weeks: int

    @property
    def literals(self) -> Optional[frozenset]:
        """Union of the patterns' literal sets: if none occurs, no pattern can match."""
        out: set = set()
        for p in self.patterns:
            if p.literals is None:
                return None
            out |= p.literals
        return frozenset(out)


@dataclass(frozen=True)
class _Benign:
    id: str
    patterns: Tuple[_Gated, ...]
    mask: bool
    examples: Tuple[str, ...]


@dataclass(frozen=True)
class _Engine:
    rules: Tuple[_Rule, ...]
    benign: Tuple[_Benign, ...]
    tokens: Dict[str, str]
    fuzzy: Tuple[str, ...]
    laugh_chars: Tuple[str, ...]
    literals_by_bigram: Dict[str, Tuple[str, ...]]
    vocabulary: frozenset
    about_danger: Tuple[_Gated, ...] = ()


# ----------------------------------------------------------------------------- loading


def _as_list(value: Any) -> List[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _expand(pattern: str, defs: Dict[str, str]) -> str:
    """Expand {NAME} fragments (recursively) and the ~N / ~!N / ~~N gap shorthands."""
    for _ in range(5):
        new = _DEF_REF.sub(lambda m: "(?:" + defs[m.group(1)] + ")", pattern)
        if new == pattern:
            break
        pattern = new

    def gap(m: "re.Match[str]") -> str:
        kind, n = m.group(1), int(m.group(2))
        if kind == "~":
            return _GAP_FREE % n
        if kind == "!":
            return _GAP_NONEG % n
        return _GAP_GUARDED % n

    return _GAP_TOKEN.sub(gap, pattern)


def _compile(pattern: str, defs: Dict[str, str]) -> _Gated:
    source = r"(?<![a-z0-9])(?:" + _expand(pattern, defs) + r")(?![a-z0-9])"
    regex = re.compile(source)
    literals = _required_literals(_sre_parse.parse(source))
    return _Gated(regex, frozenset(literals) if literals else None)


# ----------------------------------------------------------------------------- exact pre-filter
# From the parsed regex, derive a set of literal strings such that every match contains at least
# one of them (like RE2's prefilter). Sound by construction: a pattern whose set is absent from
# the text cannot match, so skipping it changes no result; it only saves time.

try:  # Python >= 3.11
    import re._parser as _sre_parse  # type: ignore[import-not-found]
    from re._constants import (  # type: ignore[import-not-found]
        ASSERT, ASSERT_NOT, AT, BRANCH, LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN)
except ImportError:  # Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]
    from sre_constants import (  # type: ignore[no-redef]
        ASSERT, ASSERT_NOT, AT, BRANCH, LITERAL, MAX_REPEAT, MIN_REPEAT, SUBPATTERN)


def _better(a: Optional[frozenset], b: Optional[frozenset]) -> Optional[frozenset]:
    """The more selective of two literal sets (longest shortest string, then fewest)."""
    if a is None:
        return b
    if b is None:
        return a
    ka = (min(map(len, a)), -len(a))
    kb = (min(map(len, b)), -len(b))
    return a if ka >= kb else b


def _required_literals(seq: Any) -> Optional[frozenset]:
    best: Optional[frozenset] = None
    run: List[str] = []

    def flush() -> None:
        nonlocal best, run
        if run:
            best = _better(best, frozenset(["".join(run)]))
            run = []

    for op, arg in seq:
        if op is LITERAL:
            run.append(chr(arg))
        elif op in (AT, ASSERT, ASSERT_NOT):
            continue  # zero-width: literals around it stay adjacent
        elif op is SUBPATTERN:
            flush()
            best = _better(best, _required_literals(arg[-1]))
        elif op is BRANCH:
            flush()
            union: set = set()
            for branch in arg[1]:
                sub = _required_literals(branch)
                if sub is None:
                    union = set()
                    break
                union |= sub
            else:
                best = _better(best, frozenset(union))
        elif op in (MAX_REPEAT, MIN_REPEAT):
            flush()
            if arg[0] >= 1:
                best = _better(best, _required_literals(arg[2]))
        else:
            flush()
    flush()
    if best is not None and min(map(len, best)) < 2:
        return None  # a one-letter literal filters nothing
    return best


@lru_cache(maxsize=1)
def _engine() -> _Engine:
    """Load and compile crisis.yml once."""
    with DATA_FILE.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    defs: Dict[str, str] = {k: str(v) for k, v in (data.get("defs") or {}).items()}
    defs.update({k: str(v) for k, v in (data.get("contexts") or {}).items()})
    vocabulary: set = set()
    ranks: Dict[str, int] = {k: int(v) for k, v in data["ranks"].items()}
    rules: List[_Rule] = []
    seen = set()
    for raw in list(data["rules"]) + list(data.get("benign") or []):
        for key in ("pattern", "also", "unless"):
            for p in _as_list(raw.get(key)):
                vocabulary.update(re.findall(r"[a-z]{2,}", _expand(p, defs).replace("\\w", " ")))
    for order, raw in enumerate(data["rules"]):
        rid = str(raw["id"])
        signal = str(raw["signal"])
        if signal not in SIGNALS:
            raise ValueError(f"crisis.yml: rule {rid} has unknown signal {signal}")
        situation = raw.get("situation")
        if situation is None:
            raise ValueError(f"crisis.yml: rule {rid} has no situation")
        situation = str(situation)
        if situation not in SITUATIONS:
            raise ValueError(f"crisis.yml: rule {rid} has unknown situation {situation}")
        if SITUATIONS[situation] != signal:
            raise ValueError(f"crisis.yml: rule {rid}: situation {situation} belongs to signal "
                             f"{SITUATIONS[situation]}, not {signal}")
        if rid in seen:
            raise ValueError(f"crisis.yml: duplicate rule id {rid}")
        seen.add(rid)
        rules.append(
            _Rule(
                id=rid,
                signal=signal,
                situation=situation,
                rank=int(raw.get("rank", ranks[signal])),
                order=order,
                patterns=tuple(_compile(p, defs) for p in _as_list(raw.get("pattern"))),
                also=tuple(_compile(p, defs) for p in _as_list(raw.get("also"))),
                unless=tuple(_compile(p, defs) for p in _as_list(raw.get("unless"))),
                scope=str(raw.get("scope", "sentence")),
                age_min_months=raw.get("age_min_months"),
                age_unknown_pass=str(raw.get("age_unknown", "fail")) == "pass",
                kind=raw.get("kind"),
                examples=tuple(_as_list(raw.get("examples"))),
                use_lemmas=bool(raw.get("lemmas", True)),
                infant_max_weeks=int(raw.get("infant_max_weeks", 12)),
            )
        )
    benign = tuple(
        _Benign(
            id=str(b["id"]),
            patterns=tuple(_compile(p, defs) for p in _as_list(b.get("pattern"))),
            mask=bool(b.get("mask", True)),
            examples=tuple(_as_list(b.get("examples"))),
        )
        for b in data.get("benign") or []
    )
    norm = data.get("normalise") or {}
    tokens = {str(k): str(v) for k, v in (norm.get("tokens") or {}).items()}
    vocabulary.update(tokens)
    vocabulary.update(w for v in tokens.values() for w in v.split())
    vocabulary.update(_as_list(norm.get("fuzzy")))
    laugh_chars: List[str] = []
    for item in _as_list(norm.get("laugh")):
        if item.isascii():
            tokens[item] = "haha"
        else:
            laugh_chars.append(item)
    by_bigram: Dict[str, set] = {}
    for gated in [g for r in rules for g in r.patterns + r.also + r.unless] + [
            g for b in benign for g in b.patterns]:
        for lit in gated.literals or ():
            by_bigram.setdefault(lit[:2], set()).add(lit)
    return _Engine(
        literals_by_bigram={k: tuple(v) for k, v in by_bigram.items()},
        vocabulary=frozenset(vocabulary),
        rules=tuple(rules),
        benign=benign,
        tokens=tokens,
        fuzzy=tuple(_as_list(norm.get("fuzzy"))),
        laugh_chars=tuple(laugh_chars),
        about_danger=tuple(_compile(p, defs) for p in _as_list(data.get("about_danger"))),
    )


def rules() -> Tuple[Tuple[str, str, Tuple[str, ...]], ...]:
    """(id, signal, examples) of every rule, for tests and documentation."""
    return tuple((r.id, r.signal, r.examples) for r in _engine().rules)


def rule_situations() -> Tuple[Tuple[str, str, str, Tuple[str, ...]], ...]:
    """(id, signal, situation, examples) of every rule, in priority order within a rank."""
    return tuple((r.id, r.signal, r.situation, r.examples) for r in _engine().rules)


def benign_patterns() -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """(id, examples) of every benign figure-of-speech pattern."""
    return tuple((b.id, b.examples) for b in _engine().benign)


# ----------------------------------------------------------------------------- normalisation

_TAG = re.compile(r"<[^<>]{0,500}>")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u02bc": "'"})
_DECIMAL = re.compile(r"(?<=\d)[.,](?=\d)")
_NOT_KEPT = re.compile(r"[^a-z0-9,.!?;:\n]+")
_SENTENCE_END = re.compile(r"[.!?;:\n]+")
_COMMA = re.compile(r",(?!\d)|(?<!\d),")
_RUN3 = re.compile(r"([a-z])\1{2,}")
_SENT_SPLIT = re.compile(r"(?:^| )\.(?= |$)")


@lru_cache(maxsize=8192)
def _fuzzy_token(token: str) -> str:
    """Map a long misspelt keyword ("zelfmoort", "bewustloos") to its canonical spelling."""
    eng = _engine()
    n = len(token)
    for word in eng.fuzzy:
        if word[0] != token[0] or abs(len(word) - n) > 2:
            continue
        limit = 1 if len(word) < 10 else 2
        if _levenshtein(token, word, limit) <= limit:
            return word
    return token


def _levenshtein(a: str, b: str, limit: int) -> int:
    """Edit distance with an early exit once it exceeds ``limit``."""
    try:
        from rapidfuzz.distance import Levenshtein

        return int(Levenshtein.distance(a, b, score_cutoff=limit))
    except Exception:  # pragma: no cover - rapidfuzz is in requirements.txt
        prev = list(range(len(b) + 1))
        for i, ca in enumerate(a, 1):
            cur = [i]
            for j, cb in enumerate(b, 1):
                cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
            if min(cur) > limit:
                return limit + 1
            prev = cur
        return prev[-1]


def _clean(text: str) -> str:
    """Text -> lowercase ASCII with sentence marks; shared by both normalisation variants."""
    eng = _engine()
    if "<" in text or "&" in text:
        text = _TAG.sub(" ", html.unescape(text))
    for ch in eng.laugh_chars:
        if ch in text:
            text = text.replace(ch, " haha ")
    text = text.translate(_APOSTROPHES)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    text = _DECIMAL.sub(",", text)
    text = text.replace("'", "")
    text = _NOT_KEPT.sub(" ", text)
    text = _COMMA.sub(" , ", text)
    return _SENTENCE_END.sub(" . ", text)


_RUN2 = re.compile(r"([a-z])\1+")


@lru_cache(maxsize=4096)
def _fix_runs(token: str) -> str:
    """'wiiiil' -> 'wil', 'doooood' -> 'dood', 'leeeeven' -> 'leven': every run of 3+ equal
    letters becomes two or one letter, whichever gives a word the patterns use (else two)."""
    runs = list(_RUN2.finditer(token))
    long_runs = [m for m in runs if len(m.group(0)) >= 3][:4]
    if not long_runs:
        return token
    vocabulary = _engine().vocabulary
    default = _RUN3.sub(r"\1\1", token)
    for choice in itertools.product((2, 1), repeat=len(long_runs)):
        parts, pos = [], 0
        for m, n in zip(long_runs, choice):
            parts.append(token[pos:m.start()])
            parts.append(m.group(1) * n)
            pos = m.end()
        parts.append(token[pos:])
        candidate = _RUN3.sub(r"\1\1", "".join(parts))
        if candidate in vocabulary:
            return candidate
    return default


def _tokens_mapped(text: str) -> str:
    eng = _engine()
    out: List[str] = []
    tokens = eng.tokens
    for tok in text.split():
        if len(tok) > 2 and _RUN3.search(tok):
            tok = _fix_runs(tok)
        mapped = tokens.get(tok)
        if mapped is not None:
            out.append(mapped)
        elif len(tok) >= 7 and tok[0].isalpha():
            out.append(_fuzzy_token(tok))
        else:
            out.append(tok)
    return " ".join(out)


def _variants(text: str) -> List[str]:
    """The normalised text (a list, so that more spelling variants can be added)."""
    return [_tokens_mapped(_clean(text))]


def normalise(text: str) -> str:
    """Normalised form the patterns see (lowercase ASCII, abbreviations expanded, ' . ' between
    sentences). Returns "" for anything that is not a string."""
    if not isinstance(text, str):
        return ""
    try:
        return _variants(text)[0]
    except Exception:  # never raise on user input
        logger.exception("crisis: normalisation failed")
        return ""


def _sentences(norm: str) -> List[str]:
    return [s.strip() for s in _SENT_SPLIT.split(norm) if s.strip(" .,")]


# ----------------------------------------------------------------------------- ages
# The ages the rules' age_min_months look at: bot.domain.age.crisis_ages_months (imported above as
# _ages_months); see its docstring for why it is not bot.domain.age.find_ages.


# ----------------------------------------------------------------------------- infant fever

_INFANT = re.compile(
    r"(?<![a-z0-9])(?:"
    r"(?:van|is|pas|baby|babytje|zoontje|dochtertje|kindje|zoon|dochter|kind|meisje|jongetje|"
    r"ventje|maar|net|nog) (\d{1,2}) (?:weken|week|wk|wkn)"
    r"|(\d{1,2}) (?:weken|week|wk|wkn) oud"
    r"|(?:van|is|pas|baby|babytje|zoontje|dochtertje|kindje|zoon|dochter|kind|maar|net|nog) "
    r"(\d(?:,5)?) (?:maanden|maand|mnd|mndn|mnden)"
    r"|(\d(?:,5)?) (?:maanden|maand|mnd) oud"
    r"|pasgeboren\w*|net geboren|newborn|kraamweek|kraamtijd|\d{1,2} dagen oud|(?:van|is|pas) \d{1,2} dag(?:en)?"
    r")(?![a-z0-9])"
)
_NO_FEVER = re.compile(r"(?<![a-z])(?:geen|zonder|niet|nooit|nog geen) (?:\w+ )?koorts")
_FEVER_WORD = re.compile(r"(?<![a-z])koorts(?![a-z])")
_TEMP_DEC = re.compile(r"(?<![0-9,])(3[5-9]|4[0-2]),(\d)(?![0-9])")
_TEMP_INT = re.compile(
    r"(?:(?:temp|temperatuur|thermometer|koorts|gemeten|meet|zegt|heeft|is nu|was|bijna|ruim) (?:\w+ ){0,2}"
    r"(3[5-9]|4[0-2])(?![0-9,])|(?<![0-9,])(3[5-9]|4[0-2]) ?(?:graden|gr|c)(?![a-z]))"
)


def _infant_fever(text: str, max_weeks: int = 12) -> bool:
    """A baby of at most ``max_weeks`` (default 12: under 3 months) with fever (>= 38.0, or
    'koorts' without a lower temperature)."""
    infant = False
    for m in _INFANT.finditer(text):
        weeks, weeks2, months, months2 = m.group(1), m.group(2), m.group(3), m.group(4)
        if weeks or weeks2:
            infant = infant or int(weeks or weeks2) <= max_weeks
        elif months or months2:
            infant = infant or float((months or months2).replace(",", ".")) * 4.35 < max_weeks + 1
        else:
            infant = True
    if not infant:
        return False
    temps = [float(f"{a}.{b}") for a, b in _TEMP_DEC.findall(text)]
    temps += [float(a or b) for a, b in _TEMP_INT.findall(text)]
    if temps:
        return max(temps) >= 38.0
    return bool(_FEVER_WORD.search(_NO_FEVER.sub(" ", text)))


# ----------------------------------------------------------------------------- evaluation


def _mask_benign(sentence: str) -> str:
    for b in _engine().benign:
        if not b.mask:
            continue
        for p in b.patterns:
            if p.search(sentence):
                sentence = p.regex.sub(" ~ ", sentence)
    return sentence


def _present_literals(norm: str) -> frozenset:
    """All pre-filter literals that occur in the normalised message."""
    by_bigram = _engine().literals_by_bigram
    bigrams = {norm[i:i + 2] for i in range(len(norm) - 1)}
    return frozenset(lit for bg in bigrams if bg in by_bigram for lit in by_bigram[bg] if lit in norm)


def _fires(rule: _Rule, text: str, ages: Sequence[int], present: Optional[frozenset] = None) -> bool:
    if not any(p.search(text, present) for p in rule.patterns):
        return False
    if rule.also and not all(a.search(text, present) for a in rule.also):
        return False
    if rule.unless and any(u.search(text, present) for u in rule.unless):
        return False
    if rule.age_min_months is not None:
        if ages:
            if max(ages) < int(rule.age_min_months):
                return False
        elif not rule.age_unknown_pass:
            return False
    if rule.kind == "infant_fever":
        return _infant_fever(text, rule.infant_max_weeks)
    return True


def _split_long(sentence: str) -> List[str]:
    """Cut a sentence of more than MAX_SENTENCE_WORDS words into overlapping pieces."""
    words = sentence.split(" ")
    if len(words) <= MAX_SENTENCE_WORDS:
        return [sentence]
    step = MAX_SENTENCE_WORDS - SENTENCE_OVERLAP
    return [" ".join(words[i:i + MAX_SENTENCE_WORDS]) for i in range(0, len(words) - SENTENCE_OVERLAP, step)]


def _prepare(norm: str) -> List[str]:
    """Sentences (long ones cut), with repeats removed (a pasted text often repeats itself)."""
    out: List[str] = []
    seen = set()
    for sentence in _sentences(norm):
        for piece in _split_long(sentence):
            if piece not in seen:
                seen.add(piece)
                out.append(_mask_benign(piece))
    return out


def _windows(sentences: List[str]) -> Iterable[str]:
    if len(sentences) <= WINDOW:
        yield " . ".join(sentences)
        return
    for i in range(len(sentences) - WINDOW + 1):
        yield " . ".join(sentences[i:i + WINDOW])


@lru_cache(maxsize=1)
def _rule_literals() -> Tuple[Optional[frozenset], ...]:
    return tuple(r.literals for r in _engine().rules)


def _best(norm: str, best: Optional[_Rule], surface: Optional[List[str]] = None) -> Optional[_Rule]:
    """Best rule on ``norm`` better than ``best``. With ``surface`` (the sentences of the original
    message), ``norm`` is the lemmatised text: rules with lemmas: false are skipped and a rule's
    exceptions are also checked on the original wording (lemmas lose tense and word forms)."""
    eng = _engine()
    sentences = _prepare(norm)
    if not sentences:
        return best
    ages = _ages_months(norm)
    present = _present_literals(norm)
    windows: Optional[List[str]] = None
    for rule, lits in zip(eng.rules, _rule_literals()):
        if best is not None and (rule.rank, -rule.order) <= (best.rank, -best.order):
            continue
        if lits is not None and lits.isdisjoint(present):
            continue
        if surface is not None:
            if not rule.use_lemmas:
                continue
            if rule.unless and any(u.search(x) for u in rule.unless for x in surface):
                continue
        if rule.scope == "window":
            if windows is None:
                windows = list(_windows(sentences))
            scopes: Iterable[str] = windows
        else:
            scopes = sentences
        if any(_fires(rule, s, ages, present) for s in scopes):
            best = rule
    return best


def _bounded(text: str) -> str:
    """Very long input: keep its start and its end (where a pasted story puts the point)."""
    if len(text) <= MAX_CHARS:
        return text
    logger.warning("crisis: message of %d characters, only its first and last %d checked",
                   len(text), MAX_CHARS // 2)
    return text[: MAX_CHARS // 2] + "\n" + text[-MAX_CHARS // 2:]


def detect_crisis(text: str, lemmas: Sequence[str] | None = None) -> CrisisMatch | None:
    """Return the highest-priority crisis signal in ``text``, or None.

    ``lemmas`` (spaCy lookup lemmas of the tokens) are optional; when given, the lemmatised text
    is checked as well. Never raises; bad input gives None.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        best: Optional[_Rule] = None
        text = _bounded(text)
        variants = _variants(text)
        for norm in variants:
            best = _best(norm, best)
        if lemmas and not isinstance(lemmas, str):
            lemma_text = _bounded(" ".join(x for x in lemmas if isinstance(x, str)))
            if lemma_text.strip():
                surface = [s for v in variants for s in _prepare(v)]
                surface.append(" . ".join(_prepare(variants[0])))
                best = _best(_variants(lemma_text)[0], best, surface)
    except Exception:  # never raise on user input; a failing detector must be visible in logs
        logger.exception("crisis: detection failed")
        return None
    if best is None:
        return None
    logger.debug("crisis: rule %s (%s, %s)", best.id, best.signal, best.situation)
    return CrisisMatch(signal=best.signal, situation=best.situation, rule=best.id)


def talks_about_danger(text: str) -> bool:
    """True when the message talks about danger rather than being in it: information or
    prevention ("hoe herken ik ..."), the media, or the past ("vorig jaar", "gaat weer goed").
    The patterns of ``about_danger`` in crisis.yml; bot/domain/safety.py weighs it with the classifier."""
    if not isinstance(text, str) or not text.strip():
        return False
    try:
        norm = _variants(_bounded(text))[0]
        return any(p.search(norm) for p in _engine().about_danger)
    except Exception:  # noqa: BLE001 - never raise on user input
        logger.exception("crisis: about-danger check failed")
        return False


def is_benign_figure_of_speech(text: str) -> bool:
    """True when the message contains play, speech or hyperbole that looks like danger
    ("ik ben doodmoe", "hij speelt dat hij dood is", "ik kan hem wel schieten") and no crisis
    is detected in it. False when a crisis is detected, whatever else the message says."""
    if not isinstance(text, str) or not text.strip():
        return False
    try:
        norm = _variants(_bounded(text))[0]
        found = any(p.search(norm) for b in _engine().benign for p in b.patterns)
    except Exception:  # noqa: BLE001 - never raise on user input
        logger.exception("crisis: benign check failed")
        return False
    return found and detect_crisis(text) is None
