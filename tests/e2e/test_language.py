"""The Dutch language layer: both paths are real (own pipeline here; nl_core_news_sm via a stand-in)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import spacy

from bot.domain import language

PY = sys.executable


def test_own_pipeline_gives_dutch_lemmas(tmp_path):
    path = language.build_own_pipeline(tmp_path / "nl_own")
    nlp = spacy.load(path)
    lemmas = [t.lemma_ for t in nlp("mijn zoon slaapt slecht en spijbelt")]
    assert "slapen" in lemmas and "spijbelen" in lemmas
    assert nlp.lang == "nl"


def test_resolve_uses_the_own_pipeline_when_the_core_model_is_missing(monkeypatch, tmp_path):
    monkeypatch.setattr(language, "core_model_available", lambda: False)
    monkeypatch.setattr(language, "OWN_PIPELINE_DIR", tmp_path / "nl_opvoedmaatje")
    with pytest.raises(language.LanguagePipelineMissing, match="make language"):
        language.resolve(build=False)
    assert language.resolve(build=True) == language.OWN_PIPELINE
    assert language.own_pipeline_ready()
    assert language.location(language.OWN_PIPELINE) == str(tmp_path / "nl_opvoedmaatje")


def test_loading_a_model_whose_pipeline_is_missing_names_the_fix(monkeypatch, tmp_path):
    from rasa.nlu.model import InvalidModelError

    from bot.rasa.nlu.dutch_spacy import DutchSpacyNLP

    monkeypatch.setattr(language, "OWN_PIPELINE_DIR", tmp_path / "absent")
    with pytest.raises(InvalidModelError, match="make language"):
        DutchSpacyNLP.load_model(language.OWN_PIPELINE)
    monkeypatch.setattr(language, "core_model_available", lambda: False)
    with pytest.raises(InvalidModelError, match="make train"):
        DutchSpacyNLP.load_model(language.CORE_MODEL)


@pytest.fixture(scope="module")
def stand_in_core_model(tmp_path_factory) -> Path:
    """A small package named nl_core_news_sm 3.4.0, built and installed into a folder of its own."""
    work = tmp_path_factory.mktemp("nl_core_stand_in")
    pipeline = work / "pipeline"
    nlp = spacy.blank("nl")
    nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
    nlp.initialize()
    nlp.meta.update({"name": "core_news_sm", "version": "3.4.0",
                     "spacy_version": ">=3.4.0,<3.5.0", "description": "test stand-in"})
    nlp.to_disk(pipeline)
    dist = work / "dist"
    dist.mkdir()
    subprocess.run([PY, "-m", "spacy", "package", str(pipeline), str(dist), "--build", "wheel", "--force"],
                   check=True, capture_output=True)
    wheel = next(dist.rglob("nl_core_news_sm-3.4.0-*.whl"))
    site = work / "site"
    subprocess.run([PY, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    return site


def test_core_model_path_is_chosen_and_loads_in_rasa(stand_in_core_model):
    script = (
        "import json\n"
        "from bot.domain import language\n"
        "from bot.rasa.nlu.dutch_spacy import DutchSpacyNLP\n"
        "name = language.resolve(build=False)\n"
        "model = DutchSpacyNLP.load_model(name)\n"
        "doc = model.model('hij slaapt slecht')\n"
        "print(json.dumps({'name': name, 'model_name': model.model_name, 'lemmas': [t.lemma_ for t in doc],"
        " 'meta': model.model.meta['name']}))\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{stand_in_core_model}{os.pathsep}{language.PROJECT_ROOT}"}
    out = subprocess.run([PY, "-c", script], env=env, capture_output=True, text=True, check=True,
                         cwd=language.PROJECT_ROOT)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["name"] == "nl_core_news_sm" and result["model_name"] == "nl_core_news_sm"
    assert result["meta"] == "core_news_sm"
    assert "slapen" in result["lemmas"]


def test_without_the_stand_in_the_core_model_is_not_available():
    assert language.core_model_available() is False
