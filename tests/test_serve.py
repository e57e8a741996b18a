"""bot.serve: what happens before the processes start."""
from __future__ import annotations

import pytest

from bot import serve


def test_an_invalid_catalogue_stops_the_start_with_the_line_that_is_wrong(tmp_path):
    broken = tmp_path / "kapot.yml"
    broken.write_text("municipality:\n  name: Testdorp\noffers:\n  - id: x\n    level: E\n", encoding="utf-8")
    env = serve.runtime_env({"OPVOED_CATALOGUE": str(broken), "CASE_STORE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    with pytest.raises(serve.StartRefused) as refused:
        serve.prepare(env)
    assert "kapot.yml:" in str(refused.value)
    assert not (tmp_path / "c.db").exists(), "nothing else starts"


def test_the_shipped_catalogue_passes_and_the_case_store_is_migrated(tmp_path):
    env = serve.runtime_env({"CASE_STORE_URL": f"sqlite:///{tmp_path / 'cases.db'}"})
    env.pop("OPVOED_CATALOGUE", None)
    serve.prepare(env)
    assert (tmp_path / "cases.db").is_file()


def test_make_run_starts_the_rasa_server_the_action_server_and_the_web_server(tmp_path):
    env = serve.runtime_env({"RASA_PORT": "6001", "ACTION_PORT": "6002", "WEB_PORT": "6003"})
    names = {s.name: s for s in serve.services(tmp_path / "m.tar.gz", env, "token")}
    assert set(names) == {"rasa", "actions", "web"}
    assert "--enable-api" in names["rasa"].argv and "--auth-token=token" in names["rasa"].argv
    assert names["web"].health_url.endswith(":6003/health")


def test_a_token_that_starts_with_a_dash_reaches_the_rasa_server_as_the_token(tmp_path):
    # secrets.token_urlsafe may start with "-": as a separate argument, Rasa's argument parser
    # took it for an option and the server stopped at start-up ("expected one argument").
    from rasa.__main__ import create_argument_parser

    env = serve.runtime_env({"RASA_PORT": "5005", "ACTION_PORT": "5055", "WEB_PORT": "8080"})
    rasa = next(s for s in serve.services(tmp_path / "model.tar.gz", env, "-abc_DEF") if s.name == "rasa")
    parsed = create_argument_parser().parse_args(rasa.argv[1:])
    assert parsed.auth_token == "-abc_DEF" and parsed.enable_api
