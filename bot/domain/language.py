"""The Dutch language layer: which spaCy pipeline the assistant tokenises and lemmatises with.

Two real paths:
- ``nl_core_news_sm`` 3.4.x, where its release could be installed;
- otherwise the project's own pipeline ``nl_opvoedmaatje``: a blank Dutch ``nl`` pipeline with
  the Dutch lemma lookups of spacy-lookups-data, built once into the ignored ``.spacy/`` folder.

The chosen name goes into ``config.yml`` through ``OPVOED_SPACY_MODEL`` (set by the Makefile),
so every trained model records which pipeline it was trained with.

Command line: ``python -m bot.domain.language resolve`` prints the name to use (building the own
pipeline if needed); ``python -m bot.domain.language build`` (re)builds the own pipeline.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from bot.settings import PROJECT_ROOT

if TYPE_CHECKING:  # pragma: no cover
    from spacy.language import Language

logger = logging.getLogger(__name__)

CORE_MODEL = "nl_core_news_sm"
CORE_MODEL_VERSION = "3.4"
OWN_PIPELINE = "nl_opvoedmaatje"
OWN_PIPELINE_DIR = PROJECT_ROOT / ".spacy" / OWN_PIPELINE
FIX = (
    "Run `make language` in the project folder (it installs nl_core_news_sm where its release "
    "is reachable, and otherwise builds the project's own Dutch pipeline), or retrain with "
    "`make train` so the model uses the pipeline that is installed here."
)
OWN_PIPELINE_NOTICE = (
    "nl_core_news_sm 3.4.0 is not installed here; Opvoedmaatje uses its own Dutch pipeline "
    f"'{OWN_PIPELINE}' (blank nl + spacy-lookups-data lemmas) from {OWN_PIPELINE_DIR}."
)


class LanguagePipelineMissing(RuntimeError):
    """The spaCy pipeline a model was trained with is not available here."""


def core_model_available() -> bool:
    """True when a usable ``nl_core_news_sm`` 3.4.x package is importable."""
    if importlib.util.find_spec(CORE_MODEL) is None:
        return False
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(CORE_MODEL).startswith(CORE_MODEL_VERSION)
    except PackageNotFoundError:
        return False


def build_own_pipeline(path: Optional[Path] = None) -> Path:
    """Build blank ``nl`` + lookup lemmatizer and save it under the project's own name."""
    import spacy

    path = path or OWN_PIPELINE_DIR
    nlp = spacy.blank("nl")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()  # loads the Dutch lookup tables from spacy-lookups-data
    nlp.meta.update(
        {
            "name": OWN_PIPELINE.split("_", 1)[1],
            "version": "1.0.0",
            "description": "Opvoedmaatje's Dutch pipeline: blank nl + lookup lemmas "
            "(spacy-lookups-data). Used where nl_core_news_sm cannot be installed.",
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    nlp.to_disk(path)
    return path


def own_pipeline_ready(path: Optional[Path] = None) -> bool:
    path = path or OWN_PIPELINE_DIR
    return (path / "meta.json").is_file() and (path / "config.cfg").is_file()


def resolve(build: bool = True) -> str:
    """The pipeline name to train with: the core model when installed, else the own pipeline."""
    if core_model_available():
        return CORE_MODEL
    if not own_pipeline_ready():
        if not build:
            raise LanguagePipelineMissing(f"No Dutch spaCy pipeline is installed. {FIX}")
        build_own_pipeline()
    return OWN_PIPELINE


def location(name: str) -> str:
    """What to hand ``spacy.load`` for a pipeline name recorded in a model."""
    if name == OWN_PIPELINE:
        if not own_pipeline_ready():
            raise LanguagePipelineMissing(
                f"This model was trained with the Dutch pipeline '{name}', which is missing "
                f"here ({OWN_PIPELINE_DIR}). {FIX}"
            )
        return str(OWN_PIPELINE_DIR)
    if name == CORE_MODEL and not core_model_available():
        raise LanguagePipelineMissing(
            f"This model was trained with the Dutch pipeline '{name}', which is not installed "
            f"here. {FIX}"
        )
    return name


def load(name: str) -> "Language":
    """Load a pipeline by its recorded name, with a message that names the fix when missing."""
    import spacy

    nlp = spacy.load(location(name), disable=["parser", "ner"])
    if name == OWN_PIPELINE:
        _notice_once()
    return nlp


@lru_cache(maxsize=1)
def _notice_once() -> None:
    logger.warning(OWN_PIPELINE_NOTICE)


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "resolve"
    if command == "build":
        print(build_own_pipeline(), file=sys.stderr)
        return 0
    if command == "resolve":
        name = resolve(build=True)
        if name == OWN_PIPELINE:
            print(OWN_PIPELINE_NOTICE, file=sys.stderr)
        print(name)
        return 0
    print("usage: python -m bot.domain.language [resolve|build]", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv))
