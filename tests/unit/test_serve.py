"""bot.serve: what happens before the processes start."""
from __future__ import annotations

import pytest

from bot import serve, settings


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


# ---------------------------------------------------------------- issue 15: secrets at start-up


@pytest.mark.parametrize("name", ["RASA_AUTH_TOKEN", "SENDER_ID_SECRET", "WHATSAPP_APP_SECRET",
                                  "TWILIO_AUTH_TOKEN", "WEB_SECRET_KEY", "REDIS_PASSWORD"])
def test_a_change_me_secret_stops_the_start_naming_the_variable(tmp_path, name):
    env = serve.runtime_env({name: "change-me-long-random", "CASE_STORE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    with pytest.raises(serve.StartRefused) as refused:
        serve.prepare(env)
    assert f"{name} is a placeholder" in str(refused.value)
    assert not (tmp_path / "c.db").exists(), "nothing else starts"


def test_a_change_me_secret_stops_make_run_with_a_message(tmp_path, monkeypatch, capsys):
    for name in settings.SECRET_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RASA_AUTH_TOKEN", "change-me")
    monkeypatch.setenv("STATS_HASH_KEY", "kort")
    monkeypatch.setenv("CASE_STORE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    started = []
    monkeypatch.setattr(serve.Supervisor, "start", lambda self: started.append(self))
    monkeypatch.setattr(serve, "PurgeLoop", lambda *a, **k: started.append("purge"))
    monkeypatch.setattr(serve.subprocess, "run", lambda *a, **k: started.append(a))

    assert serve.main(["--model", str(tmp_path / "m.tar.gz")]) != 0
    message = capsys.readouterr().err
    assert "RASA_AUTH_TOKEN is a placeholder" in message
    assert started == [], "no process, no catalogue check, no migration"


def test_a_short_secret_is_only_a_warning_for_make_run_but_refused_by_the_containers_check(tmp_path, monkeypatch, capsys):
    # a tester's short token on localhost must not stop `make run`; production runs the strict check
    env = serve.runtime_env({"RASA_AUTH_TOKEN": "evaltoken", "WHATSAPP_VERIFY_TOKEN": "test",
                             "CASE_STORE_URL": f"sqlite:///{tmp_path / 'c.db'}"})
    serve.prepare(env)
    assert (tmp_path / "c.db").exists()
    warned = capsys.readouterr().err
    assert "RASA_AUTH_TOKEN is too short" in warned and "evaltoken" not in warned
    monkeypatch.setenv("RASA_AUTH_TOKEN", "evaltoken")
    assert settings.main(["settings", "check"]) == 2


@pytest.mark.parametrize("value", ["change-me", "CHANGEME", "secret", "example", "my-change-me-token-1234",
                                   "vul-hier-iets-in-voorbeeld-example", "short-but-real", "a" * 40])
def test_placeholders_and_short_secrets_are_refused(value):
    assert settings.weak_secret(value) is not None


def test_generated_secrets_are_accepted():
    import secrets

    for _ in range(200):
        assert settings.weak_secret(secrets.token_urlsafe(16)) is None
        assert settings.weak_secret(secrets.token_hex(16)) is None
    assert settings.secret_problems({"REDIS_PASSWORD": "", "WHATSAPP_APP_SECRET": ""}) == [], "unset is allowed"


def test_the_test_suites_own_settings_pass_the_check():
    from tests.support.web_fixture import CHANNEL_ENV

    assert settings.secret_problems(CHANNEL_ENV) == []


def test_settings_check_exits_non_zero_on_a_placeholder(monkeypatch, capsys):
    monkeypatch.setenv("SENDER_ID_SECRET", "change-me-long-random")
    assert settings.main(["settings", "check"]) == 2
    assert "SENDER_ID_SECRET is a placeholder" in capsys.readouterr().err
    monkeypatch.setenv("SENDER_ID_SECRET", "Jx7_q2LmZr9-vKp4Tw8nYb")
    assert settings.main(["settings", "check"]) == 0


def test_the_generated_token_file_is_private_from_the_start(tmp_path, monkeypatch):
    import os
    import stat

    modes = []
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda path, flags, mode=0o777, *a, **k: (
        modes.append((flags, mode)), real_open(path, flags, mode, *a, **k))[1])
    token, path = settings.auth_token({}, tmp_path / "var" / "auth-token")
    assert path is not None and path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert modes and modes[0][1] == 0o600 and modes[0][0] & os.O_EXCL
    assert settings.auth_token({}, path) == (token, path), "kept across starts"
