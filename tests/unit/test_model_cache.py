"""Models kept between make bench and make eval (tools/model_cache.py): reused only for the same inputs."""
from __future__ import annotations

from pathlib import Path

import pytest

from tools import model_cache


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "data" / "nlu").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "slapen.yml").write_text("nlu: []\n")
    (tmp_path / "domain.yml").write_text("version: '3.1'\n")
    (tmp_path / "config.yml").write_text("pipeline: []\n")
    return tmp_path


def test_the_digest_changes_with_config_domain_and_every_data_file(project: Path) -> None:
    config = project / "config.yml"
    seen = {model_cache.inputs_digest(config, project)}
    for change in (lambda: config.write_text("pipeline: [x]\n"),
                   lambda: (project / "domain.yml").write_text("version: '3.0'\n"),
                   lambda: (project / "data" / "nlu" / "slapen.yml").write_text("nlu: [1]\n"),
                   lambda: (project / "data" / "nlu" / "eten.yml").write_text("nlu: []\n"),
                   lambda: (project / "data" / "nlu" / "eten.yml").rename(project / "data" / "nlu" / "eet.yml")):
        change()
        digest = model_cache.inputs_digest(config, project)
        assert digest not in seen
        seen.add(digest)
    assert model_cache.inputs_digest(config, project) in seen  # stable when nothing changes


def test_a_kept_model_is_found_only_while_its_inputs_are_unchanged(project: Path) -> None:
    config = project / "config.yml"
    trained = project / "trained.tar.gz"
    trained.write_bytes(b"model bytes")
    assert model_cache.lookup("rasa-default", config, project) is None
    kept = model_cache.store("rasa-default", trained, 123.4, config, project)
    assert kept.read_bytes() == b"model bytes"
    assert model_cache.lookup("rasa-default", config, project) == (kept, 123.4)
    (project / "data" / "nlu" / "slapen.yml").write_text("nlu: [changed]\n")
    assert model_cache.lookup("rasa-default", config, project) is None
    (project / "models" / "bench" / "rasa-default.json").write_text("{not json")
    assert model_cache.lookup("rasa-default", config, project) is None
