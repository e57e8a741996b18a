"""bot/settings.py is the one reader of the process environment (architecture issue, item 3)."""
from __future__ import annotations

import ast
import stat
from pathlib import Path
from typing import List

import pytest

from bot import settings
from bot.services import notify

ROOT = settings.PROJECT_ROOT
# the reader itself, and tooling that may read the environment too
EXEMPT = (ROOT / "bot" / "settings.py", ROOT / "tools")
READERS = {"environ", "environb", "getenv", "getenvb"}  # what `os` reads the environment with


def environment_reads(source: str) -> List[str]:
    """``line: what`` for every read of the process environment in ``source``: ``os.environ``,
    ``os.getenv`` (also under another name for ``os``), ``from os import environ`` and
    ``environ.get(...)`` / ``environ[...]``."""
    tree = ast.parse(source)
    os_names = {"os"} | {alias.asname for node in ast.walk(tree) if isinstance(node, ast.Import)
                         for alias in node.names if alias.name == "os" and alias.asname}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"{node.lineno}: from os import {a.name}" for a in node.names if a.name in READERS | {"*"}]
        elif (isinstance(node, ast.Attribute) and node.attr in READERS
              and isinstance(node.value, ast.Name) and node.value.id in os_names):
            found.append(f"{node.lineno}: {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and _is_environ(node.func.value):
            found.append(f"{node.lineno}: environ.get")
        elif isinstance(node, ast.Subscript) and _is_environ(node.value):
            found.append(f"{node.lineno}: environ[...]")
    return sorted(set(found))


def _is_environ(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "environ") or \
        (isinstance(node, ast.Attribute) and node.attr == "environ")


def _modules() -> List[Path]:
    files = sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "actions").rglob("*.py"))
    return [f for f in files if not any(f == e or e in f.parents for e in EXEMPT)]


@pytest.mark.parametrize("source", [
    "import os\nport = os.environ.get('WEB_PORT')",
    "import os\nport = os.environ['WEB_PORT']",
    "import os\nport = os.getenv('WEB_PORT')",
    "import os as system\nport = system.environ.get('WEB_PORT')",
    "from os import environ\nport = environ.get('WEB_PORT')",
    "from os import getenv as env\nport = env('WEB_PORT')",
    "def port(environ):\n    return environ.get('WEB_PORT')",
    "def port(environ):\n    return environ['WEB_PORT']",
    "import os\ncopy = dict(os.environ)",
])
def test_the_check_finds_a_read_of_the_environment(source: str) -> None:
    assert environment_reads(source)


def test_the_check_passes_reads_through_the_settings() -> None:
    source = ("import os\nfrom bot import settings\nport = settings.current().WEB_PORT\n"
              "path = os.path.join('a', 'b')\naddress = connect_environ.get('REMOTE_ADDR')\n")
    assert environment_reads(source) == []


def test_only_bot_settings_reads_the_environment() -> None:
    modules = _modules()
    assert ROOT / "bot" / "services" / "ratelimit.py" in modules and ROOT / "actions" / "actions.py" in modules
    reads = [f"{path.relative_to(ROOT)}:{read}" for path in modules
             for read in environment_reads(path.read_text(encoding="utf-8"))]
    assert reads == [], "read the environment through bot/settings.py:\n" + "\n".join(reads)


# --- the settings object ---------------------------------------------------------------------

def test_the_settings_are_read_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEB_PORT", raising=False)
    monkeypatch.delenv("CONSOLE_BASE_URL", raising=False)
    assert settings.current().WEB_PORT == "8080"
    assert notify.console_base_url() == "http://127.0.0.1:8080"
    monkeypatch.setenv("WEB_PORT", "9123")
    assert settings.current().WEB_PORT == "9123"
    assert notify.console_base_url() == "http://127.0.0.1:9123"
    monkeypatch.setenv("WEB_PORT", "")
    assert settings.current().WEB_PORT == "" and settings.current().value("WEB_PORT") == "8080"


def test_unset_is_none_where_it_has_a_meaning(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPVOED_CATALOGUE", raising=False)
    assert settings.current().OPVOED_CATALOGUE is None
    monkeypatch.setenv("OPVOED_CATALOGUE", "")
    assert settings.current().OPVOED_CATALOGUE == ""


def test_a_mapping_stands_in_for_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_PORT", "9123")
    values = settings.current({"WEB_PORT": "7001", "SMTP_PORT": 2525, "REDIS_HOST": None, "OTHER": "x"})
    assert (values.WEB_PORT, values.SMTP_PORT, values.REDIS_HOST) == ("7001", "2525", "127.0.0.1")
    assert settings.current({}).WEB_PORT == "8080"
    assert settings.current(values) is values


def test_the_defaults_of_make_run_are_unchanged() -> None:
    var = settings.VAR_DIR
    assert settings.defaults({}) == {
        "RASA_PORT": "5005", "ACTION_PORT": "5055", "WEB_PORT": "8080",
        "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook",
        "TRACKER_STORE_URL": f"sqlite:///{var / 'trackers.db'}", "LOCK_STORE_TYPE": "in_memory",
        "REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_PASSWORD": "", "REDIS_DB": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2", "EVENT_BROKER_URL": "", "EVENT_BROKER_QUEUE": "opvoedmaatje_stats",
        "EVENT_BROKER_EXCHANGE": "opvoedmaatje-stats", "STATS_HASH_KEY": "", "INSIGHT_IN_PROCESS": "1",
        "INSIGHT_PORT": "5056", "RATE_LIMIT_PER_MINUTE": "30", "CASE_STORE_URL": f"sqlite:///{var / 'cases.db'}",
        "FOLLOWUP_INTERVAL": "60", "WHATSAPP_FOLLOWUP_TEMPLATE": "opvoedmaatje_vervolgvraag",
        "WHATSAPP_FOLLOWUP_TEMPLATE_LANGUAGE": "nl",
    }
    assert list(settings.defaults({})) == list(settings.RUN_SETTINGS)
    assert settings.defaults({"ACTION_PORT": "6002"})["ACTION_ENDPOINT_URL"] == "http://127.0.0.1:6002/webhook"
    assert settings.defaults({"INSIGHT_IN_PROCESS": "0"})["INSIGHT_IN_PROCESS"] == "0"


def test_every_secret_setting_is_a_setting() -> None:
    assert set(settings.SECRET_SETTINGS) <= set(settings.Settings.__fields__)


# --- the secret helper -----------------------------------------------------------------------

def test_a_secret_from_the_environment_makes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "var" / "web-secret-key"
    monkeypatch.setenv("WEB_SECRET_KEY", "chosen-by-the-host-Xy7")
    assert settings.secret("WEB_SECRET_KEY", secret_file) == ("chosen-by-the-host-Xy7", None)
    assert settings.secret("WEB_SECRET_KEY", secret_file, {"WEB_SECRET_KEY": " padded "}) == (" padded ", None)
    assert settings.secret("WEB_SECRET_KEY", secret_file, {"WEB_SECRET_KEY": " padded "}, strip=True) == \
        ("padded", None)
    assert not secret_file.exists()


def test_a_secret_is_generated_once_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    secret_file = tmp_path / "var" / "web-secret-key"
    monkeypatch.delenv("WEB_SECRET_KEY", raising=False)
    created = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path) == str(secret_file):
            created.append((bool(flags & os.O_CREAT and flags & os.O_EXCL), mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(settings.os, "open", watching_open)
    first, stored_in = settings.secret("WEB_SECRET_KEY", secret_file)
    assert stored_in == secret_file and len(first) >= 32
    assert created == [(True, 0o600)], "created readable by its owner only, from the first byte"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert secret_file.read_text(encoding="utf-8") == first + "\n"
    assert settings.secret("WEB_SECRET_KEY", secret_file) == (first, secret_file), "read back, not made again"
    assert len(created) == 1
    monkeypatch.setenv("WEB_SECRET_KEY", "")
    assert settings.secret("WEB_SECRET_KEY", secret_file)[0] == first, "empty counts as unset"


def test_an_empty_secret_file_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "SECRET_FILE_WAIT", 0.1)  # no other process is writing it
    secret_file = tmp_path / "auth-token"
    secret_file.write_text("\n", encoding="utf-8")
    token, stored_in = settings.secret("RASA_AUTH_TOKEN", secret_file, {}, generate=lambda: "generated-token-1234")
    assert (token, stored_in) == ("generated-token-1234", secret_file)
    assert secret_file.read_text(encoding="utf-8").strip() == token
