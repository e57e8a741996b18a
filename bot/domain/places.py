"""Find the parent's municipality and neighbourhood in a message, using the catalogue in use.

Names and aliases come from the catalogue's header (nothing is hard-coded here). Matching is
case- and accent-insensitive and tolerates small typos ('Noorderwjik', 'binnestad'), but avoids
false hits on ordinary words:
- labels of at most 5 letters must match exactly (as a whole word);
- longer labels allow 1 typo (6-8 letters) or 2 (9 or more), the first letter must be right;
- a fuzzy hit is refused when the differing word is itself a Dutch word ('akker' is not
  'Akkers'), using the Dutch lemma lookup of spacy-lookups-data when it is installed;
- hyphenated words stay whole ('Noord-Holland' is not 'Noord').
A neighbourhood found implies the catalogue's municipality.
"""
from __future__ import annotations

import gzip
import json
import logging
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from rapidfuzz.distance import OSA

from bot.domain.catalogue.loader import load_catalogue
from bot.domain.catalogue.model import Catalogue, CatalogueError, Municipality

logger = logging.getLogger(__name__)

MAX_CHARS = 10_000
_TOKEN_RE = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


@dataclass(frozen=True)
class PlaceMatch:
    municipality: str | None = None
    neighbourhood: str | None = None


@dataclass(frozen=True)
class _Label:
    tokens: tuple[str, ...]
    compact: str
    kind: str  # "municipality" or "neighbourhood"
    canonical: str


def normalise(text: str) -> str:
    """Lower case, accents removed (é -> e), other symbols kept for tokenising."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(normalise(text))


def _compact(tokens: tuple[str, ...] | list[str]) -> str:
    return "".join(tokens).replace("-", "")


@lru_cache(maxsize=1)
def dutch_words() -> frozenset[str]:
    """Known Dutch word forms (spacy-lookups-data), or an empty set when not installed."""
    try:
        path = resources.files("spacy_lookups_data") / "data" / "nl_lemma_lookup.json.gz"
        with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
            table = json.load(handle)
    except (ModuleNotFoundError, FileNotFoundError, OSError, ValueError):
        logger.info("Dutch word list not available; place matching without the word guard")
        return frozenset()
    return frozenset(normalise(w) for w in (*table.keys(), *table.values()))


@lru_cache(maxsize=16)
def _labels(municipality: Municipality) -> tuple[_Label, ...]:
    labels = []
    for name in (municipality.name, *municipality.aliases):
        toks = tuple(_tokens(name))
        if toks:
            labels.append(_Label(toks, _compact(toks), "municipality", municipality.name))
    for hood in municipality.neighbourhoods:
        for name in (hood.name, *hood.aliases):
            toks = tuple(_tokens(name))
            if toks:
                labels.append(_Label(toks, _compact(toks), "neighbourhood", hood.name))
    return tuple(labels)


def _allowed_typos(length: int) -> int:
    if length <= 5:
        return 0
    return 1 if length <= 8 else 2


def _distance(label: _Label, window: list[str], words: frozenset[str]) -> int | None:
    """Edit distance when `window` names `label` closely enough, else None."""
    compact = _compact(window)
    if compact == label.compact:
        return 0
    allowed = _allowed_typos(len(label.compact))
    if not allowed or not compact or compact[0] != label.compact[0]:
        return None
    if abs(len(compact) - len(label.compact)) > allowed:
        return None
    # refuse when a differing word is an ordinary Dutch word ('akker' for 'akkers')
    if any(tok not in label.tokens and tok in words for tok in window) or compact in words:
        return None
    distance = OSA.distance(compact, label.compact, score_cutoff=allowed)
    return distance if distance <= allowed else None


def match_place(text: str, catalogue: Catalogue | None = None) -> PlaceMatch:
    """Municipality and neighbourhood named in `text` (canonical names), or None for each."""
    try:
        if not isinstance(text, str) or not text.strip():
            return PlaceMatch()
        if catalogue is None:
            catalogue = load_catalogue()
        if catalogue.municipality is None:
            return PlaceMatch()
        tokens = _tokens(text[:MAX_CHARS])
        if not tokens:
            return PlaceMatch()
        words = dutch_words()
        best: dict[str, tuple[int, int, str]] = {}  # kind -> (distance, position, canonical)
        for label in _labels(catalogue.municipality):
            size = len(label.tokens)
            for width in {max(1, size - 1), size, size + 1}:
                for start in range(0, len(tokens) - width + 1):
                    window = tokens[start:start + width]
                    distance = _distance(label, window, words)
                    if distance is None:
                        continue
                    found = (distance, start, label.canonical)
                    if label.kind not in best or found < best[label.kind]:
                        best[label.kind] = found
        neighbourhood = best["neighbourhood"][2] if "neighbourhood" in best else None
        municipality = best["municipality"][2] if "municipality" in best else None
        if neighbourhood is not None:
            municipality = catalogue.municipality.name
        return PlaceMatch(municipality=municipality, neighbourhood=neighbourhood)
    except CatalogueError:
        logger.error("place matching skipped: the support catalogue is invalid")
        return PlaceMatch()
    except Exception:  # never let odd input break a conversation; log no message text
        logger.exception("place matching failed")
        return PlaceMatch()
