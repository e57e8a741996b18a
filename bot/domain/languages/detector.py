"""Which of the assistant's languages a parent's message is in (issue 17, item 1).

``detect(text, previous)`` returns a :class:`Detection`. The rules live in
``bot/knowledge/languages.yml``; the statistical part is lingua (lingua-language-detector), restricted
to the six languages, with its models shipped in the wheel (offline, nothing downloaded).

The order of the rules, first match wins:

1. ``empty``: no usable text -> the previous language (or the default).
2. ``asked``: an explicit request ("kun je Engels praten?", "po polsku proszę") -> that language.
3. ``script``: Arabic script -> ar, Cyrillic -> uk; another non-Latin script -> previous/default
   (reason ``other_script``).
4. ``short``: "ok", "ja", "thanks", a number, an emoji, fewer than ``min_words`` words of two
   letters or more -> previous/default.
5. ``dutch_words``: more distinctly Dutch words than words of any other language ("mijn son
   van 3 heeft tantrums") -> nl.
6. ``letters``: a letter only Turkish (ğ ı ş) or only Polish (ą ę ł ń ś ź ż) uses.
7. ``detected``: lingua's best guess. Below ``switch_confidence`` it is taken only when the
   message has words of that language and no Dutch ones; otherwise reason ``unsure``:
   previous/default.

Never raises on text input of any kind; non-text input is treated as empty.
"""
from __future__ import annotations

import html
import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

import yaml
from bot.vocabulary import KNOWLEDGE_DIR

RULES_FILE = KNOWLEDGE_DIR / "languages.yml"

_LINGUA_NAMES = {
    "nl": "DUTCH",
    "en": "ENGLISH",
    "ar": "ARABIC",
    "tr": "TURKISH",
    "pl": "POLISH",
    "uk": "UKRAINIAN",
}

_HIDDEN = re.compile(r"<(script|style)\b[^>]{0,500}>.*?(</\1\s*>|$)", re.I | re.S)
_TAG = re.compile(r"<[^>]{0,500}>")
# e-mail and web addresses are no language ("mail me op jan@example.nl" is Dutch)
_ADDRESS = re.compile(r"\S+@\S+|(?:https?://|www\.)\S+", re.I)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


@dataclass(frozen=True)
class Detection:
    """The language to answer in, how sure the detector is (0..1) and which rule decided."""

    language: str
    confidence: float
    reason: str


@dataclass(frozen=True)
class Rules:
    languages: Tuple[str, ...]
    default: str
    accuracy: str
    max_chars: int
    min_words: int
    short_phrases: FrozenSet[str]
    letters: Mapping[str, FrozenSet[str]]
    scripts: Mapping[str, str]
    words: Mapping[str, FrozenSet[str]]
    switch_confidence: float
    request_names: Mapping[str, str]  # name -> language
    request_cues: Tuple[re.Pattern, ...]
    not_a_request: Tuple[re.Pattern, ...]
    max_words_name_only: int


def load_rules(path: Path = RULES_FILE) -> Rules:
    """Read and check the rules file; raises ValueError on a malformed file."""
    data: Dict[str, Any] = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    languages = tuple(data["languages"])
    unknown = [code for code in languages if code not in _LINGUA_NAMES]
    if unknown:
        raise ValueError(f"{path}: languages without a lingua model here: {unknown}")
    default = data["default"]
    if default not in languages:
        raise ValueError(f"{path}: default {default!r} is not one of {languages}")
    if data.get("accuracy", "high") not in ("high", "low"):
        raise ValueError(f"{path}: accuracy must be 'high' or 'low'")
    scripts = dict(data.get("scripts") or {})
    letters = {code: frozenset(chars) for code, chars in (data.get("letters") or {}).items()}
    for code in list(scripts.values()) + list(letters):
        if code not in languages:
            raise ValueError(f"{path}: {code!r} is not one of {languages}")
    names: Dict[str, str] = {}
    for code, words in data["requests"]["names"].items():
        if code not in languages:
            raise ValueError(f"{path}: request names for unknown language {code!r}")
        for word in words:
            word = _normalise(str(word))
            if names.get(word, code) != code:
                raise ValueError(f"{path}: {word!r} names two languages")
            names[word] = code
    words = {code: frozenset(_normalise(str(w)) for w in listed) for code, listed in data["words"].items()}
    seen: Dict[str, str] = {}
    for code, listed in words.items():
        if code not in languages:
            raise ValueError(f"{path}: words for unknown language {code!r}")
        for word in listed:
            if seen.setdefault(word, code) != code:
                raise ValueError(f"{path}: {word!r} is listed for both {seen[word]} and {code}")
    return Rules(
        languages=languages,
        default=default,
        accuracy=data.get("accuracy", "high"),
        max_chars=int(data.get("max_chars", 1000)),
        min_words=int(data["short"]["min_words"]),
        short_phrases=frozenset(_normalise(str(p)) for p in data["short"]["phrases"]),
        letters=letters,
        scripts=scripts,
        words=words,
        switch_confidence=float(data["switch_confidence"]),
        request_names=names,
        request_cues=tuple(re.compile(c) for c in data["requests"]["cues"]),
        not_a_request=tuple(re.compile(c) for c in data["requests"].get("not_a_request") or ()),
        max_words_name_only=int(data["requests"]["max_words_name_only"]),
    )


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("’", "'")
    return " ".join(text.lower().split())


def _clean(text: Any, max_chars: int) -> str:
    """Plain, bounded text: HTML tags and entities out, control characters out."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    if not isinstance(text, str):
        return ""
    text = text[: max_chars * 4]
    text = html.unescape(_TAG.sub(" ", _HIDDEN.sub(" ", text)))
    text = _ADDRESS.sub(" ", text)
    text = "".join(ch if ch.isprintable() else " " for ch in text)
    text = text.replace("\ufffd", " ")
    return _normalise(text)[:max_chars]


def _script_counts(text: str) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for ch in text:
        if not ch.isalpha():
            continue
        try:
            name = unicodedata.name(ch)
        except ValueError:
            continue
        script = name.split(" ", 1)[0].lower()
        counts[script] = counts.get(script, 0) + 1
    return counts


class _Lingua:
    """The lingua detector, built once per process on first use (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._detectors: Dict[Tuple[Tuple[str, ...], str], Any] = {}

    def get(self, languages: Tuple[str, ...], accuracy: str):
        key = (languages, accuracy)
        detector = self._detectors.get(key)
        if detector is None:
            with self._lock:
                detector = self._detectors.get(key)
                if detector is None:
                    from lingua import Language, LanguageDetectorBuilder

                    builder = LanguageDetectorBuilder.from_languages(
                        *(getattr(Language, _LINGUA_NAMES[code]) for code in languages)
                    )
                    if accuracy == "low":
                        builder = builder.with_low_accuracy_mode()
                    detector = builder.with_preloaded_language_models().build()
                    self._detectors[key] = detector
        return detector


_LINGUA = _Lingua()


class LanguageDetector:
    """Applies the rules of one rules file; ``detect`` is the only method callers need."""

    def __init__(self, rules: Optional[Rules] = None) -> None:
        self.rules = rules or load_rules()
        self._by_lingua_name = {_LINGUA_NAMES[c]: c for c in self.rules.languages}

    def warm_up(self) -> None:
        """Load lingua's models now instead of on the first message."""
        _LINGUA.get(self.rules.languages, self.rules.accuracy)

    def detect(self, text: Any, previous: Optional[str] = None) -> Detection:
        rules = self.rules
        keep = previous if previous in rules.languages else rules.default
        cleaned = _clean(text, rules.max_chars)
        words = _WORD.findall(cleaned)
        if not words:
            return Detection(keep, 0.0, "empty" if not cleaned else "short")

        asked = self._asked(cleaned, words)
        if asked:
            return Detection(asked, 1.0, "asked")

        scripts = _script_counts(cleaned)
        if not scripts:  # "words" of no letters at all, such as "¼"
            return Detection(keep, 0.0, "short")
        total = sum(scripts.values())
        top_script, top_count = max(scripts.items(), key=lambda item: item[1])
        if top_script != "latin" and top_count * 2 >= total:
            if top_script in rules.scripts:
                return Detection(rules.scripts[top_script], round(top_count / total, 3), "script")
            return Detection(keep, 0.0, "other_script")

        real_words = [w for w in words if len(w) > 1]
        if len(real_words) < rules.min_words or " ".join(words) in rules.short_phrases:
            return Detection(keep, 0.0, "short")

        hits = {code: sum(1 for w in words if w in listed) for code, listed in rules.words.items()}
        dutch = hits.get("nl", 0)
        others = max([n for code, n in hits.items() if code != "nl"], default=0)
        if dutch > others:
            return Detection("nl", round(dutch / (dutch + others), 3), "dutch_words")

        for code, letters in rules.letters.items():
            if any(ch in letters for ch in cleaned):
                return Detection(code, 1.0, "letters")

        detector = _LINGUA.get(rules.languages, rules.accuracy)
        values = detector.compute_language_confidence_values(" ".join(words))
        if not values:
            return Detection(keep, 0.0, "unsure")
        best = values[0]
        code = self._by_lingua_name.get(best.language.name)
        confidence = round(float(best.value), 3)
        if code is None:
            return Detection(keep, 0.0, "unsure")
        if code != keep and confidence < rules.switch_confidence and not (hits.get(code) and not dutch):
            return Detection(keep, confidence, "unsure")
        return Detection(code, confidence, "detected")

    def _asked(self, cleaned: str, words: List[str]) -> Optional[str]:
        rules = self.rules
        named = [rules.request_names[w] for w in words if w in rules.request_names]
        if not named or len(set(named)) != 1:
            return None
        if any(pattern.search(cleaned) for pattern in rules.not_a_request):
            return None
        if len(words) <= rules.max_words_name_only or any(cue.search(cleaned) for cue in rules.request_cues):
            return named[0]
        return None


@lru_cache(maxsize=1)
def default_detector() -> LanguageDetector:
    return LanguageDetector()


def detect(text: Any, previous: Optional[str] = None) -> Detection:
    """The language to answer ``text`` in, given the language of the conversation so far."""
    return default_detector().detect(text, previous)
