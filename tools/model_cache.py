"""Trained models kept for reuse between ``make bench`` and ``make eval``.

Training Rasa's default pipeline takes the better part of an hour on two cores; both reports
need it. A model is stored with the SHA-256 of everything it was trained from (config, domain,
data/) and is reused only while those are unchanged, so a report never compares against a model
of other data.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Optional, Tuple

from bot.settings import PROJECT_ROOT

CACHE = Path("models") / "bench"  # under the project root


def rasa_init_config() -> Path:
    """The config.yml of ``rasa init``: empty pipeline and policies, filled by Rasa's defaults."""
    import rasa

    return Path(rasa.__file__).parent / "cli" / "initial_project" / "config.yml"


def inputs_digest(config: Path, root: Path = PROJECT_ROOT) -> str:
    """SHA-256 over the config file, domain.yml and every file under data/ (names and bytes)."""
    digest = hashlib.sha256()
    files = [config, root / "domain.yml", *sorted(p for p in (root / "data").rglob("*") if p.is_file())]
    for path in files:
        digest.update(str(path.relative_to(root) if path.is_relative_to(root) else path.name).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
        digest.update(b"\0")
    return digest.hexdigest()


def store(name: str, model: Path, seconds: float, config: Path, root: Path = PROJECT_ROOT) -> Path:
    """Keep ``model`` (trained from ``config`` in ``seconds``) as ``name``; returns the kept path."""
    cache_dir = root / CACHE
    cache_dir.mkdir(parents=True, exist_ok=True)
    kept = cache_dir / f"{name}.tar.gz"
    if model.resolve() != kept.resolve():
        shutil.copyfile(model, kept)
    (cache_dir / f"{name}.json").write_text(json.dumps(
        {"digest": inputs_digest(config, root), "training_s": seconds}), encoding="utf-8")
    return kept


def lookup(name: str, config: Path, root: Path = PROJECT_ROOT) -> Optional[Tuple[Path, float]]:
    """The kept model ``name`` and its training seconds, if it was trained from today's inputs."""
    cache_dir = root / CACHE
    model, meta = cache_dir / f"{name}.tar.gz", cache_dir / f"{name}.json"
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not model.is_file() or info.get("digest") != inputs_digest(config, root):
        return None
    return model, float(info.get("training_s") or 0.0)
