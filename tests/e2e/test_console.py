"""The professionals' console (Flask test client) against a local stand-in of the Rasa HTTP API."""
from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Iterator

import pyotp
import pytest
from flask.testing import FlaskClient

from bot.domain import handoff
from bot.services.cases import CaseStore
from bot.services.console import __main__ as console_cli
from bot.services.console import auth as console_auth
from bot.services.console.app import create_app
from bot.services.console.auth import hash_password
from tests.support.console_client import BrowserClient, csrf
from tests.support.console_standin import PASSWORD, PASSWORD_HASH, TOKEN, RasaStandIn

ADMIN = "beheer@voorbeeldstad.example"
ADMIN_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # the fixture's admin has set up the second factor


@pytest.fixture
def rasa() -> Iterator[RasaStandIn]:
    stand_in = RasaStandIn()
    yield stand_in
    stand_in.stop()


class TotpClock:
    """The time the console checks codes against: it moves on only when a test needs the next
    code (a used code is refused until the next 30-second step), so no test waits or races."""

    def __init__(self) -> None:
        self.now = (time.time() // 30) * 30 + 1  # just after the start of a step

    def __call__(self) -> float:
        return self.now

    def advance(self, steps: int = 1) -> None:
        self.now += 30 * steps


@pytest.fixture(autouse=True)
def totp_clock(monkeypatch: pytest.MonkeyPatch) -> TotpClock:
    clock = TotpClock()
    monkeypatch.setattr(console_auth, "totp_clock", clock)
    return clock


def totp_code(store: CaseStore, email: str, secret: str | None = None) -> str:
    """The code the user's authenticator app shows now, as pyotp computes it from the stored
    secret (or `secret`); when this step's code was used, the app's next one (time moves on)."""
    user = store.user_by_email(email)
    secret = secret or store.totp_secret(user.id)
    assert secret, f"{email} has no second factor"
    totp, clock = pyotp.TOTP(secret), console_auth.totp_clock
    if user.totp_last_step is not None and secret == store.totp_secret(user.id):
        behind = user.totp_last_step - totp.timecode(clock()) + 1
        if behind > 0 and isinstance(clock, TotpClock):
            clock.advance(behind)
    return totp.at(clock())


def enrolment_secret(page: str) -> str:
    """The secret the enrolment page shows to type over (groups of four)."""
    return re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', page).group(1).replace(" ", "")


@pytest.fixture
def store(tmp_path: Path) -> CaseStore:
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    team = store.add_team("Wijkteam Noord")  # the only team: every new case goes to it
    admin = store.add_user(ADMIN, "Beheer", PASSWORD_HASH, "admin")
    store.enable_totp(admin.id, ADMIN_SECRET, "test")  # required for admins
    store.add_user("sanne@voorbeeldstad.example", "Sanne", PASSWORD_HASH, "professional", team_id=team.id)
    store.add_user("piet@voorbeeldstad.example", "Piet", PASSWORD_HASH, "professional", team_id=team.id)
    return store


@pytest.fixture
def app(store: CaseStore, rasa: RasaStandIn):
    app = create_app({"CASE_STORE": store, "RASA_URL": rasa.url, "RASA_AUTH_TOKEN": TOKEN,
                      "SECRET_KEY": "test-secret"})
    app.test_client_class = BrowserClient
    return app


def login(client, email: str = "sanne@voorbeeldstad.example", password: str = PASSWORD,
          code: bool = True):
    """Log in with the password; a user with a second factor then gives the code of their app
    (unless `code` is False: the answer to the password is returned). An admin without one is
    sent to set it up (the answer to the password: see `enrol`)."""
    answer = client.post("/console/login", data={"email": email, "password": password,
                                                  "csrf_token": csrf(client)})
    if not code or answer.status_code != 302 or answer.headers["Location"] != "/console/login/code":
        return answer
    store = client.application.extensions["opvoed_console"]["store"]
    return send_code(client, totp_code(store, email))


def send_code(client, code: str, path: str = "/console/login/code"):
    return client.post(path, data={"code": code, "csrf_token": csrf(client, path)})


def enrol(client, store: CaseStore, email: str, path: str = "/console/login/enrol"):
    """Set up the second factor on the enrolment page `path`, as a user with an app does."""
    page = client.get(path)
    assert page.status_code == 200, page.status_code
    secret = enrolment_secret(page.get_data(as_text=True))
    return send_code(client, totp_code(store, email, secret), path)


def new_case(store: CaseStore, conversation: str = "conv-1", **fields: Any):
    return handoff.open_case(store, handoff.HandoffRequest(conversation, **fields))


def audit_actions(store: CaseStore, case_id: str) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in reversed(store.audit_log(case_id))]


# --- access --------------------------------------------------------------------------------------

def _console_routes(app) -> list[tuple[str, str]]:
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in (
                "console.login", "console.static", "console.login_code", "console.login_enrol"):
            continue
        path = rule.rule.replace("<case_id>", "abc").replace("<int:user_id>", "1")
        routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def test_every_console_page_refuses_a_request_without_login(app) -> None:
    routes = _console_routes(app)
    assert len(routes) >= 12
    client = app.test_client()
    for method, path in routes:
        answer = client.open(path, method=method)
        if method == "GET":
            assert answer.status_code == 302, path
            assert answer.headers["Location"].startswith("/console/login?next="), path
        else:
            assert answer.status_code == 401, (method, path)
    # the code pages (after the password) send a browser back to the login page
    for path in ("/console/login/code", "/console/login/enrol"):
        assert client.get(path).headers["Location"] == "/console/login", path
        assert client.post(path, data={"code": "123456", "csrf_token": csrf(client)}).status_code == 401, path


def test_a_client_that_is_not_a_browser_gets_401_with_the_login_form(app, store) -> None:
    case = new_case(store)
    client = FlaskClient(app, app.response_class, use_cookies=True)  # no Accept header, as urllib
    for path in ("/console", "/console/", f"/console/cases/{case.id}", "/console/users"):
        answer = client.get(path)
        assert answer.status_code == 401, path
        page = answer.get_data(as_text=True)
        assert 'name="password"' in page and "Vernieuwen" not in page, path
    assert login(client).status_code == 302  # the same client, logged in, sees the case
    assert "Vernieuwen" in client.get(f"/console/cases/{case.id}").get_data(as_text=True)


def test_login(app) -> None:
    client = app.test_client()
    wrong = login(client, password="fout wachtwoord 123")
    assert wrong.status_code == 401 and "klopt niet" in wrong.get_data(as_text=True)
    assert client.get("/console/").status_code == 302
    bare = client.get("/console")  # straight to the login page, not first a slash redirect
    assert bare.status_code == 302 and bare.headers["Location"].startswith("/console/login")
    right = login(client)
    assert right.status_code == 302 and right.headers["Location"] == "/console/"
    cookie = right.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert client.get("/console/").status_code == 200


def test_login_goes_back_to_the_page_asked_but_never_elsewhere(app, store) -> None:
    case = new_case(store)
    client = app.test_client()
    answer = client.post("/console/login", data={"email": "sanne@voorbeeldstad.example", "password": PASSWORD,
                                                 "csrf_token": csrf(client), "next": f"/console/cases/{case.id}"})
    assert answer.headers["Location"] == f"/console/cases/{case.id}"
    other = app.test_client()
    answer = other.post("/console/login", data={"email": "sanne@voorbeeldstad.example", "password": PASSWORD,
                                                "csrf_token": csrf(other), "next": "https://evil.example/"})
    assert answer.headers["Location"] == "/console/"


def test_sessions_expire(app, store) -> None:
    client = app.test_client()
    login(client)
    assert app.permanent_session_lifetime == timedelta(hours=8)
    with client.session_transaction() as session:
        session["console_login_at"] = time.time() - 8 * 3600 - 5
    assert client.get("/console/").status_code == 302
    assert client.post(f"/console/cases/{new_case(store).id}/claim").status_code == 401


def test_password_change_and_deactivation_end_other_sessions(app, store) -> None:
    client = app.test_client()
    login(client)
    sanne = store.user_by_email("sanne@voorbeeldstad.example")
    store.set_password(sanne.id, hash_password("nog een ander wachtwoord"), "test")
    assert client.get("/console/").status_code == 302
    login(client, "piet@voorbeeldstad.example")
    piet = store.user_by_email("piet@voorbeeldstad.example")
    store.set_user_active(piet.id, False, "test")
    assert client.get("/console/").status_code == 302
    assert login(client, "piet@voorbeeldstad.example").status_code == 401


def test_login_attempts_are_throttled(app) -> None:
    client = app.test_client()
    for _ in range(5):
        assert login(client, password="fout wachtwoord 123").status_code == 401
    assert login(client).status_code == 429


def test_logout(app) -> None:
    client = app.test_client()
    login(client)
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    assert client.get("/console/").status_code == 302


# --- CSRF ------------------------------------------------------------------------------------------

def test_forged_or_missing_csrf_token_is_refused(app, store, rasa) -> None:
    client = app.test_client()
    no_token = client.post("/console/login", data={"email": "sanne@voorbeeldstad.example", "password": PASSWORD})
    assert no_token.status_code == 400
    login(client)
    case = new_case(store)
    forged = client.post(f"/console/cases/{case.id}/claim", data={"csrf_token": "forged.token.value"})
    assert forged.status_code == 400 and "verlopen" in forged.get_data(as_text=True)
    missing = client.post(f"/console/cases/{case.id}/claim")
    assert missing.status_code == 400
    # a token from another session is refused too
    other = app.test_client()
    login(other, "piet@voorbeeldstad.example")
    stolen = client.post(f"/console/cases/{case.id}/claim", data={"csrf_token": csrf(other, "/console/")})
    assert stolen.status_code == 400
    assert store.get(case.id).status == "open" and rasa.posts("conv-1") == []


# --- roles -------------------------------------------------------------------------------------------

def test_roles(app, store) -> None:
    professional = app.test_client()
    login(professional)
    assert professional.get("/console/users").status_code == 403
    assert professional.get("/console/audit").status_code == 403
    token = csrf(professional, "/console/")
    assert professional.post("/console/users", data={"csrf_token": token, "email": "x@y.nl",
                                                      "display_name": "X", "role": "admin",
                                                      "password": PASSWORD}).status_code == 403
    admin = app.test_client()
    login(admin, "beheer@voorbeeldstad.example")
    assert admin.get("/console/users").status_code == 200
    token = csrf(admin, "/console/users")
    weak = admin.post("/console/users", data={"csrf_token": token, "email": "kim@voorbeeldstad.example",
                                              "display_name": "Kim", "role": "professional", "password": "kort"})
    assert weak.status_code == 400 and store.user_by_email("kim@voorbeeldstad.example") is None
    made = admin.post("/console/users", data={"csrf_token": token, "email": "kim@voorbeeldstad.example",
                                              "display_name": "Kim", "role": "professional", "password": PASSWORD})
    assert made.status_code == 302
    kim = store.user_by_email("kim@voorbeeldstad.example")
    assert kim.role == "professional" and kim.password_hash.startswith("scrypt:")
    admin.post(f"/console/users/{kim.id}/active", data={"csrf_token": token})
    assert not store.user(kim.id).active
    audit_page = admin.get("/console/audit").get_data(as_text=True)
    assert "gebruiker uitgezet" in audit_page


# --- cases ----------------------------------------------------------------------------------------------

def test_list_by_urgency(app, store) -> None:
    normal = new_case(store, "c-normal", severity="normaal")
    crisis = new_case(store, "c-crisis", signal="suicide")
    attention = new_case(store, "c-attention", severity="aandacht")
    client = app.test_client()
    login(client)
    page = client.get("/console/").get_data(as_text=True)
    positions = [page.index(f"/console/cases/{c.id}") for c in (crisis, attention, normal)]
    assert positions == sorted(positions)
    assert "Crisis" in page and "zelfdoding" in page


def test_case_page_shows_summary_and_conversation_and_is_audited(app, store, rasa) -> None:
    case = new_case(store, "conv-words", topic="slapen", age_months=30, words_consent=True,
                    parent_words=("Ze slaapt <b>nooit</b> door",))
    rasa.events["conv-words"] = [
        {"event": "user", "text": "Ze slaapt nooit door", "timestamp": case.created_at.timestamp() - 60},
        {"event": "bot", "text": "Wat vervelend.", "timestamp": case.created_at.timestamp() - 59},
        {"event": "user", "text": "/affirm", "timestamp": case.created_at.timestamp() - 30},
        {"event": "slot", "name": "topic", "value": "slapen"},
    ]
    client = app.test_client()
    login(client)
    page = client.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "2 jaar en 6 maanden" in page and "In de chat (anoniem)" in page
    assert "Ze slaapt &lt;b&gt;nooit&lt;/b&gt; door" in page  # escaped
    assert "Wat vervelend." in page and "/affirm" not in page
    assert rasa.calls[-1]["method"] == "GET" and rasa.calls[-1]["query"]["token"] == TOKEN
    assert ("sanne@voorbeeldstad.example", "viewed") in audit_actions(store, case.id)


def test_the_console_shows_the_contact_detail_that_the_database_holds_encrypted(app, store) -> None:
    import sqlalchemy as sa

    case = new_case(store, "conv-phone", contact_preference="phone", contact_detail="06 1234 5678")
    with store.engine.connect() as connection:
        raw = connection.execute(sa.text("SELECT contact_detail FROM cases WHERE id = :id"),
                                 {"id": case.id}).scalar()
    assert raw.startswith("gAAAAA") and "612345678" not in raw
    client = app.test_client()
    login(client)
    assert "Bellen: +31612345678" in client.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "Bellen: +31612345678" in client.get("/console/").get_data(as_text=True)


def test_without_consent_only_what_came_after_the_hand_off_is_shown(app, store, rasa) -> None:
    case = new_case(store, "conv-private", words_consent=False, parent_words=("geheim verhaal",))
    rasa.events["conv-private"] = [
        {"event": "user", "text": "geheim verhaal", "timestamp": case.created_at.timestamp() - 60},
        {"event": "user", "text": "Ik ben er nog", "timestamp": case.created_at.timestamp() + 60},
    ]
    client = app.test_client()
    login(client)
    page = client.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "geheim verhaal" not in page and "Ik ben er nog" in page
    assert "geen toestemming" in page


def test_claim_reply_close(app, store, rasa) -> None:
    case = new_case(store, "conv/with spaces")  # ids are quoted in the URL
    client = app.test_client()
    login(client)
    token = csrf(client, "/console/")
    assert client.post(f"/console/cases/{case.id}/claim", data={"csrf_token": token}).status_code == 302
    assert store.get(case.id).status == "claimed"
    claim_call = rasa.posts("conv/with spaces")[-1]
    assert claim_call["what"] == "tracker/events" and claim_call["query"] == {
        "token": TOKEN, "execute_side_effects": "true", "output_channel": "latest"}
    assert [e["event"] for e in claim_call["body"]] == ["pause", "slot", "bot"]
    assert claim_call["body"][1] == {**claim_call["body"][1], "name": "professional_holds", "value": True}
    assert claim_call["body"][2]["text"].startswith("Je praat nu met Sanne")

    other = app.test_client()
    login(other, "piet@voorbeeldstad.example")
    other_token = csrf(other, "/console/")
    other.post(f"/console/cases/{case.id}/claim", data={"csrf_token": other_token})
    assert store.get(case.id).assigned_name == "Sanne"
    assert other.post(f"/console/cases/{case.id}/reply",
                      data={"csrf_token": other_token, "text": "hoi"}).status_code == 403
    assert other.post(f"/console/cases/{case.id}/close", data={"csrf_token": other_token}).status_code == 403

    sent = client.post(f"/console/cases/{case.id}/reply",
                       data={"csrf_token": token, "text": "Hoi, ik ben Sanne.\nHoe gaat het nu?"})
    assert sent.status_code == 302
    reply_call = rasa.posts("conv/with spaces")[-1]
    assert [e["event"] for e in reply_call["body"]] == ["pause", "slot", "bot"]
    assert reply_call["body"][2]["text"] == "Sanne (medewerker): Hoi, ik ben Sanne.\nHoe gaat het nu?"
    assert reply_call["body"][2]["metadata"] == {"opvoedmaatje_professional": True}
    calls_before = len(rasa.calls)
    client.post(f"/console/cases/{case.id}/reply", data={"csrf_token": token, "text": "   "})
    client.post(f"/console/cases/{case.id}/reply", data={"csrf_token": token, "text": "x" * 2001})
    assert len(rasa.calls) == calls_before  # nothing sent

    page = client.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "Medewerker" in page and "Hoe gaat het nu?" in page

    assert client.post(f"/console/cases/{case.id}/close", data={"csrf_token": token}).status_code == 302
    close_call = rasa.posts("conv/with spaces")[-1]
    assert [e["event"] for e in close_call["body"]] == ["resume", "slot", "bot"]
    assert close_call["body"][1]["value"] is False  # crisis replies go back to the usual rule
    assert "weer met Opvoedmaatje" in close_call["body"][2]["text"]
    assert store.get(case.id).status == "closed"
    assert case.id not in client.get("/console/").get_data(as_text=True)
    actions = [a for _, a in audit_actions(store, case.id)]
    assert actions == ["created", "claimed", "replied", "viewed", "closed"]
    assert all(c["query"].get("token") == TOKEN for c in rasa.calls)


def test_rasa_down_is_told_and_nothing_is_audited_as_sent(store, rasa) -> None:
    app = create_app({"CASE_STORE": store, "RASA_URL": "http://127.0.0.1:9", "RASA_AUTH_TOKEN": TOKEN,
                      "SECRET_KEY": "x"})
    case = new_case(store)
    client = app.test_client()
    login(client)
    token = csrf(client, "/console/")
    client.post(f"/console/cases/{case.id}/claim", data={"csrf_token": token})
    page = client.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "niet worden overgenomen" in page or "niet bereikbaar" in page
    answer = client.post(f"/console/cases/{case.id}/reply", data={"csrf_token": token, "text": "Hallo"},
                         follow_redirects=True)
    assert "NIET verstuurd" in answer.get_data(as_text=True)
    assert "replied" not in [a for _, a in audit_actions(store, case.id)]


def test_wrong_token_is_refused_by_the_stand_in(store, rasa) -> None:
    app = create_app({"CASE_STORE": store, "RASA_URL": rasa.url, "RASA_AUTH_TOKEN": "wrong", "SECRET_KEY": "x"})
    case = new_case(store)
    client = app.test_client()
    login(client)
    page = client.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "niet worden opgehaald" in page


def test_admin_can_close_any_case_and_unknown_case_is_404(app, store, rasa) -> None:
    case = new_case(store, "conv-admin")
    client = app.test_client()
    login(client, "beheer@voorbeeldstad.example")
    token = csrf(client, "/console/")
    assert client.get("/console/cases/nope").status_code == 404
    client.post(f"/console/cases/{case.id}/close", data={"csrf_token": token})
    assert store.get(case.id).status == "closed"
    assert [e["event"] for e in rasa.posts("conv-admin")[-1]["body"]] == ["resume", "slot"]  # no person to announce


def test_security_headers(app) -> None:
    client = app.test_client()
    login(client)
    answer = client.get("/console/")
    assert answer.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_purge_runs_from_the_console(app, store) -> None:
    from datetime import datetime, timezone

    old = store.create_case(conversation_id="old", severity="normaal",
                            now=datetime(2020, 1, 1, tzinfo=timezone.utc))
    client = app.test_client()
    login(client)
    client.get("/console/")
    assert store.get(old.id) is None


# --- the create-admin command -------------------------------------------------------------------------

def test_create_admin_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    monkeypatch.setenv("CASE_STORE_URL", url)
    monkeypatch.setenv("CONSOLE_ADMIN_PASSWORD", "kort")
    assert console_cli.main(["create-admin", "--email", "Eerste@Voorbeeldstad.Example"]) == 1
    monkeypatch.setenv("CONSOLE_ADMIN_PASSWORD", PASSWORD)
    assert console_cli.main(["create-admin", "--email", "Eerste@Voorbeeldstad.Example", "--name", "Eerste"]) == 0
    assert console_cli.main(["create-admin", "--email", "eerste@voorbeeldstad.example"]) == 1  # exists
    user = CaseStore.from_url(url).user_by_email("eerste@voorbeeldstad.example")
    assert user.role == "admin" and user.display_name == "Eerste"
    app = create_app({"CASE_STORE_URL": url, "SECRET_KEY": "x", "RASA_URL": "http://127.0.0.1:9",
                      "RASA_AUTH_TOKEN": TOKEN})
    client = app.test_client()
    answer = login(client, "eerste@voorbeeldstad.example")
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/login/enrol"
    assert client.get("/console/users").status_code == 401  # not logged in before the second factor
    store = app.extensions["opvoed_console"]["store"] or CaseStore.from_url(url)
    app.extensions["opvoed_console"]["store"] = store
    assert enrol(client, store, "eerste@voorbeeldstad.example").status_code == 302
    assert client.get("/console/users").status_code == 200
    # --team: the team of that name (created when missing)
    assert console_cli.main(["create-admin", "--email", "tweede@voorbeeldstad.example", "--team", "CJG Zuid"]) == 0
    assert console_cli.main(["create-user", "--email", "jan@voorbeeldstad.example", "--team", "CJG Zuid"]) == 0
    team = store.team_by_name("CJG Zuid")
    assert team is not None and len(store.teams()) == 1
    assert store.user_by_email("tweede@voorbeeldstad.example").team_id == team.id
    assert store.user_by_email("jan@voorbeeldstad.example").team_id == team.id
    assert store.user_by_email("jan@voorbeeldstad.example").role == "professional"


def test_console_inside_the_web_app(store, rasa, monkeypatch: pytest.MonkeyPatch) -> None:
    web = pytest.importorskip("bot.services.web.app", reason="the web app (bot/services/web/app.py) is not there yet")
    app = web.create_app({"RASA_URL": "http://127.0.0.1:1", "WEB_SECRET_KEY": "web-secret"})
    app.config.update(CASE_STORE=None, CASE_STORE_URL=str(store.engine.url), RASA_API_URL=rasa.url,
                      RASA_AUTH_TOKEN=TOKEN)
    app.extensions["opvoed_console"]["store"] = store
    app.test_client_class = BrowserClient
    case = new_case(store, "conv-web")
    client = app.test_client()
    assert client.get("/console/").status_code == 302
    assert client.post(f"/console/cases/{case.id}/claim").status_code == 401
    assert login(client).status_code == 302
    token = csrf(client, "/console/")
    assert client.post(f"/console/cases/{case.id}/claim", data={"csrf_token": "forged"}).status_code == 400
    assert client.post(f"/console/cases/{case.id}/claim", data={"csrf_token": token}).status_code == 302
    assert rasa.posts("conv-web")[-1]["query"]["token"] == TOKEN  # RASA_API_URL, not the browser's RASA_URL
    assert client.get("/").status_code == 200  # the demo page is not behind the console's login


def test_a_crisis_alert_is_shown_in_the_list_and_on_the_case_with_its_situation(app, store, rasa) -> None:
    quiet = new_case(store, "conv-quiet", severity="crisis", signal="suicide", situation="suicidaal_kind")
    held = new_case(store, "conv-held", severity="normaal", topic="driftbuien")
    handoff.alert_professional(store, "conv-held", None, "ouder_grens")
    client = app.test_client()
    login(client)
    listing = client.get("/console/").get_data(as_text=True)
    assert "Crisissignaal in het gesprek" in listing
    assert listing.index(f"/console/cases/{held.id}") < listing.index(f"/console/cases/{quiet.id}")
    page = client.get(f"/console/cases/{held.id}").get_data(as_text=True)
    assert "Crisissignaal tijdens het gesprek" in page and "ouder dreigt de grens over te gaan" in page
    assert "kind denkt aan zelfdoding" in client.get(f"/console/cases/{quiet.id}").get_data(as_text=True)


def test_the_parents_language_is_shown_and_the_parent_is_answered_in_it(app, store, rasa) -> None:
    """Issue 17: a case in Arabic says so (an interpreter may be needed); the console's messages
    into the conversation are in Arabic; a Dutch case says nothing about language in the list."""
    from bot.domain import translations

    arabic = new_case(store, "conv-ar", language="ar")
    dutch = new_case(store, "conv-nl")
    client = app.test_client()
    login(client)
    listing = client.get("/console/").get_data(as_text=True)
    assert listing.count("(taal: ") == 1 and "(taal: Arabisch)" in listing
    page = client.get(f"/console/cases/{arabic.id}").get_data(as_text=True)
    assert "Taal van de ouder" in page and "Arabisch" in page and "tolk" in page
    assert "tolk" not in client.get(f"/console/cases/{dutch.id}").get_data(as_text=True)

    token = csrf(client, "/console/")
    client.post(f"/console/cases/{arabic.id}/claim", data={"csrf_token": token})
    claimed = rasa.posts("conv-ar")[-1]["body"][2]["text"]
    assert claimed == handoff.console_text("claimed", "ar", name="Sanne") != handoff.console_text("claimed", name="Sanne")
    assert "Sanne" in claimed and translations.text("ar", "handoff.console.claimed")


# --- hardening (issue 15, console) -------------------------------------------------------------------

def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def test_5_wrong_passwords_lock_that_account_not_another(app) -> None:
    # each attempt from another address, as many professionals behind one proxy are not: the
    # lock follows the account, not the address
    for n in range(5):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n}"
        assert login(client, password="fout wachtwoord 123").status_code == 401
    locked = login(app.test_client())  # the right password, from yet another address
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "Te veel mislukte pogingen" in locked.get_data(as_text=True)
    assert login(app.test_client(), "piet@voorbeeldstad.example").status_code == 302


def test_the_lock_doubles_and_ends() -> None:
    from bot.services.console.auth import MemoryCounters, Throttle

    now = [1000.0]
    throttle = Throttle(MemoryCounters(clock=lambda: now[0]), limit=5, lock_seconds=60)
    for _ in range(4):
        assert throttle.failed("a@x.nl") == 0
    assert not throttle.blocked("a@x.nl")
    assert throttle.failed("a@x.nl") == 60 and throttle.blocked("a@x.nl")
    assert not throttle.blocked("b@x.nl")
    now[0] += 61
    assert not throttle.blocked("a@x.nl")
    for _ in range(5):
        throttle.failed("a@x.nl")
    assert 119 < throttle.locked_for("a@x.nl") <= 120  # doubled
    throttle.reset("a@x.nl")
    assert not throttle.blocked("a@x.nl")


def test_the_memory_throttle_prunes_what_expired() -> None:
    from bot.services.console.auth import MemoryCounters, Throttle

    now = [0.0]
    counters = MemoryCounters(clock=lambda: now[0])
    throttle = Throttle(counters, window=60)
    for n in range(1000):
        throttle.failed(f"user{n}@x.nl")
    assert len(counters) == 1000
    now[0] += 61
    throttle.failed("last@x.nl")
    assert len(counters) == 1


def test_the_throttle_is_shared_through_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid

    import redis

    from bot.services.console.auth import RedisCounters, Throttle, throttle_from_settings

    client = redis.Redis(host="127.0.0.1", port=6379, db=15, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    prefix = f"test:console:{uuid.uuid4().hex}"
    one, two = (Throttle(RedisCounters(client, prefix)) for _ in range(2))  # two web servers
    try:
        for _ in range(5):
            one.failed("sanne@voorbeeldstad.example")
        assert two.blocked("sanne@voorbeeldstad.example")
        assert not two.blocked("piet@voorbeeldstad.example")
        assert not any(b"voorbeeldstad" in key for key in client.keys(f"{prefix}:*"))  # hashed
        two.reset("sanne@voorbeeldstad.example")
        assert not one.blocked("sanne@voorbeeldstad.example")
    finally:
        keys = client.keys(f"{prefix}:*")
        if keys:
            client.delete(*keys)
    assert isinstance(throttle_from_settings({"LOCK_STORE_TYPE": "redis"}).counters, RedisCounters)
    assert not isinstance(throttle_from_settings({}).counters, RedisCounters)
    # Redis down: still throttled, in memory
    down = Throttle(RedisCounters(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)))
    for _ in range(5):
        down.failed("x@y.nl")
    assert down.blocked("x@y.nl")


def test_the_password_page_is_throttled(app) -> None:
    client = app.test_client()
    login(client)
    token = csrf(client, "/console/password")
    form = {"csrf_token": token, "new": "nog een ander wachtwoord", "repeat": "nog een ander wachtwoord"}
    for _ in range(5):
        assert client.post("/console/password", data={**form, "current": "fout wachtwoord 1"}).status_code == 400
    assert client.post("/console/password", data={**form, "current": PASSWORD}).status_code == 429


def test_a_copied_cookie_is_refused_after_logout(app) -> None:
    client = app.test_client()
    login(client)
    copied = _session_cookie(client)
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert thief.get("/console/").status_code == 200  # the copy works while the login lasts
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get("/console/").status_code == 302
    assert thief.get("/console/").status_code == 302


def test_a_copied_cookie_is_refused_after_a_password_change(app) -> None:
    client = app.test_client()
    login(client)
    copied = _session_cookie(client)
    answer = client.post("/console/password", data={
        "csrf_token": csrf(client, "/console/password"), "current": PASSWORD,
        "new": "nog een ander wachtwoord", "repeat": "nog een ander wachtwoord"})
    assert answer.status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get("/console/").status_code == 302


def test_logins_and_failed_logins_are_audited_without_password(app, store) -> None:
    login(app.test_client(), password="fout wachtwoord 123")
    login(app.test_client(), "niemand@voorbeeldstad.example", password="geheim wachtwoord 9")
    client = app.test_client()
    login(client)
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    entries = [(e.actor, e.action, e.case_id) for e in reversed(store.audit_log())
               if e.action in ("login", "login_failed", "logout")]
    assert entries == [("sanne@voorbeeldstad.example", "login_failed", None),
                       ("onbekend", "login_failed", None),
                       ("sanne@voorbeeldstad.example", "login", None),
                       ("sanne@voorbeeldstad.example", "logout", None)]
    import sqlalchemy as sa

    with store.engine.connect() as connection:
        rows = [" ".join(str(v) for v in r) for r in connection.execute(sa.text("SELECT * FROM case_audit"))]
    assert not any("wachtwoord" in row or "niemand" in row for row in rows)
    admin = app.test_client()
    login(admin, "beheer@voorbeeldstad.example")
    page = admin.get("/console/audit").get_data(as_text=True)
    assert "inloggen mislukt" in page and "ingelogd" in page


def test_the_session_cookie_is_secure_except_on_plain_http_localhost(app, store) -> None:
    def cookie(base_url: str, application=app) -> tuple[str, Any]:
        answer = application.test_client().get("/console/login", base_url=base_url)
        return answer.headers["Set-Cookie"], answer.headers.get("Strict-Transport-Security")

    local, hsts = cookie("http://localhost")
    assert "Secure" not in local and hsts is None
    assert "Secure" not in cookie("http://127.0.0.1:8080")[0]
    public, hsts = cookie("http://console.voorbeeldstad.example")  # TLS ends at a proxy
    assert "Secure" in public and hsts is None
    secure, hsts = cookie("https://console.voorbeeldstad.example")
    assert "Secure" in secure and hsts.startswith("max-age=")
    forced = create_app({"CASE_STORE": store, "SECRET_KEY": "x", "CONSOLE_COOKIE_SECURE": "true"})
    assert "Secure" in cookie("http://localhost", forced)[0]
    off = create_app({"CASE_STORE": store, "SECRET_KEY": "x", "CONSOLE_COOKIE_SECURE": "false"})
    assert "Secure" not in cookie("http://console.voorbeeldstad.example", off)[0]


def test_proxy_fix_with_the_configured_number_of_proxies(store) -> None:
    from flask import request

    web = pytest.importorskip("bot.services.web.app")
    seen: dict = {}
    headers = {"X-Forwarded-For": "203.0.113.9, 192.0.2.1", "X-Forwarded-Proto": "https"}

    def probe(proxies: str | None) -> dict:
        environ = {"RASA_URL": "http://127.0.0.1:1", "WEB_SECRET_KEY": "web-secret"}
        if proxies is not None:
            environ["CONSOLE_TRUSTED_PROXIES"] = proxies
        app = web.create_app(environ)

        @app.get("/_probe")
        def _probe() -> str:
            seen.update(addr=request.remote_addr, secure=request.is_secure)
            return "ok"

        answer = app.test_client().get("/_probe", headers=headers,
                                       environ_base={"REMOTE_ADDR": "10.0.0.2"})
        return {**seen, "hsts": answer.headers.get("Strict-Transport-Security")}

    assert probe(None) == {"addr": "10.0.0.2", "secure": False, "hsts": None}  # default: none
    assert probe("0") == {"addr": "10.0.0.2", "secure": False, "hsts": None}
    one = probe("1")
    assert one["addr"] == "192.0.2.1" and one["secure"] and one["hsts"].startswith("max-age=")
    assert probe("2")["addr"] == "203.0.113.9"


# --- teams: scoped access (issue 14, item 4) ----------------------------------------------------------

@pytest.fixture
def two_teams(store: CaseStore) -> dict:
    """Team Noord (Sanne, Piet; the fixture's team) and team Zuid (Kim), a case of each and one
    without a team."""
    noord = store.team_by_name("Wijkteam Noord")
    zuid = store.add_team("Wijkteam Zuid")
    store.add_user("kim@voorbeeldstad.example", "Kim", PASSWORD_HASH, "professional", team_id=zuid.id)
    return {
        "noord": store.create_case(conversation_id="conv-noord", severity="aandacht", team_id=noord.id),
        "zuid": store.create_case(conversation_id="conv-zuid", severity="aandacht", team_id=zuid.id),
        "none": store.create_case(conversation_id="conv-none", severity="crisis"),  # two teams: no default
    }


def test_a_case_gets_the_only_team_or_the_configured_one_or_none(store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASE_DEFAULT_TEAM", raising=False)
    noord = store.team_by_name("Wijkteam Noord")
    assert new_case(store, "c-only").team_id == noord.id  # the only team
    store.add_team("Wijkteam Zuid")
    assert new_case(store, "c-two").team_id is None  # two teams, none configured: admins only
    monkeypatch.setenv("CASE_DEFAULT_TEAM", "JGZ Voorbeeldstad")  # created when missing
    case = new_case(store, "c-configured")
    assert case.team_name == "JGZ Voorbeeldstad" and store.team_by_name("JGZ Voorbeeldstad").id == case.team_id
    assert new_case(store, "c-again").team_id == case.team_id
    assert ("system", "team_created") in [(e.actor, e.action) for e in store.audit_log()]


@pytest.mark.parametrize("method,action", [("GET", ""), ("POST", "/claim"), ("POST", "/reply"), ("POST", "/close")])
def test_a_professional_of_team_a_gets_403_on_a_case_of_team_b(app, store, rasa, two_teams, method: str,
                                                               action: str) -> None:
    zuid = two_teams["zuid"]
    store.claim(zuid.id, store.user_by_email("kim@voorbeeldstad.example"))  # so that reply could apply
    client = app.test_client()
    login(client)  # Sanne, team Noord
    token = csrf(client, "/console/")
    for case in (zuid, two_teams["none"]):
        data = {"csrf_token": token, "text": "Hallo"} if method == "POST" else None
        answer = client.open(f"/console/cases/{case.id}{action}", method=method, data=data)
        assert answer.status_code == 403, (case.conversation_id, method, action)
        assert "conv-zuid" not in answer.get_data(as_text=True)
    assert store.get(zuid.id).status == "claimed" and store.get(two_teams["none"].id).status == "open"
    assert rasa.calls == []  # nothing read from or sent to another team's conversation
    assert not [e for e in store.audit_log(zuid.id) if e.actor == "sanne@voorbeeldstad.example"]


def test_a_professional_claims_replies_and_closes_a_case_of_their_own_team(app, store, rasa, two_teams) -> None:
    noord = two_teams["noord"]
    client = app.test_client()
    login(client, "piet@voorbeeldstad.example")
    token = csrf(client, "/console/")
    assert client.get(f"/console/cases/{noord.id}").status_code == 200
    assert client.post(f"/console/cases/{noord.id}/claim", data={"csrf_token": token}).status_code == 302
    assert client.post(f"/console/cases/{noord.id}/reply", data={"csrf_token": token, "text": "Hoi"}).status_code == 302
    assert client.post(f"/console/cases/{noord.id}/close", data={"csrf_token": token}).status_code == 302
    assert store.get(noord.id).status == "closed"


def test_the_list_shows_only_the_own_teams_cases_and_an_admin_sees_all(app, store, two_teams) -> None:
    sanne = app.test_client()
    login(sanne)
    page = sanne.get("/console/").get_data(as_text=True)
    assert f"/console/cases/{two_teams['noord'].id}" in page
    assert f"/console/cases/{two_teams['zuid'].id}" not in page
    assert f"/console/cases/{two_teams['none'].id}" not in page
    kim = app.test_client()
    login(kim, "kim@voorbeeldstad.example")
    page = kim.get("/console/").get_data(as_text=True)
    assert f"/console/cases/{two_teams['zuid'].id}" in page and f"/console/cases/{two_teams['noord'].id}" not in page
    admin = app.test_client()
    login(admin, "beheer@voorbeeldstad.example")
    page = admin.get("/console/").get_data(as_text=True)
    for case in two_teams.values():
        assert f"/console/cases/{case.id}" in page
        assert admin.get(f"/console/cases/{case.id}").status_code == 200
        assert ("beheer@voorbeeldstad.example", "viewed") in audit_actions(store, case.id)


def test_a_professional_without_a_team_sees_no_case(app, store, two_teams) -> None:
    store.add_user("los@voorbeeldstad.example", "Los", PASSWORD_HASH, "professional")
    client = app.test_client()
    login(client, "los@voorbeeldstad.example")
    page = client.get("/console/").get_data(as_text=True)
    assert not any(f"/console/cases/{c.id}" in page for c in two_teams.values())
    assert all(client.get(f"/console/cases/{c.id}").status_code == 403 for c in two_teams.values())


def test_an_admin_creates_a_team_and_sets_a_users_team_audited(app, store, two_teams) -> None:
    admin = app.test_client()
    login(admin, "beheer@voorbeeldstad.example")
    token = csrf(admin, "/console/users")
    assert admin.post("/console/teams", data={"csrf_token": token, "name": "  JGZ   West "}).status_code == 302
    west = store.team_by_name("JGZ West")
    assert west is not None
    assert admin.post("/console/teams", data={"csrf_token": token, "name": "JGZ West"}).status_code == 400
    sanne = store.user_by_email("sanne@voorbeeldstad.example")
    assert admin.post(f"/console/users/{sanne.id}/team",
                      data={"csrf_token": token, "team_id": str(west.id)}).status_code == 302
    assert store.user(sanne.id).team_id == west.id
    assert admin.post(f"/console/users/{sanne.id}/team",
                      data={"csrf_token": token, "team_id": "9999"}).status_code == 400
    page = admin.get("/console/users").get_data(as_text=True)
    assert "JGZ West" in page and "Wijkteam Zuid" in page
    actions = [(e.actor, e.action) for e in store.audit_log()]
    assert ("beheer@voorbeeldstad.example", "team_created") in actions
    assert ("beheer@voorbeeldstad.example", "user_team_changed") in actions
    assert "team aangemaakt" in admin.get("/console/audit").get_data(as_text=True)
    # Sanne now sees team West's cases only (her open session follows the change)
    client = app.test_client()
    login(client)
    assert client.get(f"/console/cases/{two_teams['noord'].id}").status_code == 403
    professional_token = csrf(client, "/console/")
    assert client.post("/console/teams", data={"csrf_token": professional_token, "name": "X"}).status_code == 403
    assert client.post(f"/console/users/{sanne.id}/team",
                       data={"csrf_token": professional_token, "team_id": ""}).status_code == 403


# --- only the session that led to the hand-off ---------------------------------------------------------

def test_the_console_shows_only_the_session_that_led_to_the_hand_off(app, store, rasa) -> None:
    case = new_case(store, "conv-sessions", words_consent=True)
    at = case.created_at.timestamp()
    rasa.events["conv-sessions"] = [
        {"event": "action", "name": "action_session_start", "timestamp": at - 7200},
        {"event": "session_started", "timestamp": at - 7200},
        {"event": "user", "text": "Oude vraag over school", "timestamp": at - 7100},
        {"event": "bot", "text": "Oud antwoord", "timestamp": at - 7099},
        {"event": "action", "name": "action_session_start", "timestamp": at - 600},
        {"event": "session_started", "timestamp": at - 600},
        {"event": "user", "text": "Hij slaat zijn zusje", "timestamp": at - 300},
        {"event": "bot", "text": "Wil je met iemand praten?", "timestamp": at - 299},
        {"event": "user", "text": "Ik wacht", "timestamp": at + 60},
    ]
    client = app.test_client()
    login(client)
    page = client.get(f"/console/cases/{case.id}").get_data(as_text=True)
    assert "Hij slaat zijn zusje" in page and "Wil je met iemand praten?" in page and "Ik wacht" in page
    assert "Oude vraag over school" not in page and "Oud antwoord" not in page


def test_lines_of_keeps_the_session_of_the_moment_and_later_ones() -> None:
    from datetime import datetime, timezone

    from bot.services.console.rasa_client import lines_of

    events = [
        {"event": "session_started", "timestamp": 100.0},
        {"event": "user", "text": "eerste sessie", "timestamp": 110.0},
        {"event": "session_started", "timestamp": 200.0},
        {"event": "user", "text": "tweede sessie", "timestamp": 210.0},
        {"event": "session_started", "timestamp": 300.0},
        {"event": "user", "text": "derde sessie", "timestamp": 310.0},
    ]
    moment = datetime.fromtimestamp(250.0, tz=timezone.utc)
    assert [l.text for l in lines_of(events, session_of=moment)] == ["tweede sessie", "derde sessie"]
    assert [l.text for l in lines_of(events)] == ["eerste sessie", "tweede sessie", "derde sessie"]
    early = datetime.fromtimestamp(50.0, tz=timezone.utc)  # no session before: nothing cut
    assert len(lines_of(events, session_of=early)) == 3
    no_sessions = [{"event": "user", "text": "alles", "timestamp": 10.0}]
    assert [l.text for l in lines_of(no_sessions, session_of=moment)] == ["alles"]


# --- the second factor (issue 15, item 4: TOTP) -----------------------------------------------------

def _raw_user(store: CaseStore, email: str) -> tuple:
    import sqlalchemy as sa

    with store.engine.connect() as connection:
        return tuple(connection.execute(sa.text(
            "SELECT totp_secret, totp_last_step FROM console_users WHERE email = :e"), {"e": email}).one())


def _totp_audit(store: CaseStore) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in reversed(store.audit_log())
            if e.action.startswith("totp_") or e.action in ("login", "login_failed")]


def test_an_admin_must_set_up_the_second_factor_before_anything_else(app, store) -> None:
    store.add_user("nieuw@voorbeeldstad.example", "Nieuw", PASSWORD_HASH, "admin")
    client = app.test_client()
    answer = login(client, "nieuw@voorbeeldstad.example")
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/login/enrol"
    for path in ("/console/", "/console/users", "/console/audit", "/console/account"):
        assert client.get(path).headers["Location"].startswith("/console/login?next="), path  # not logged in
    page = client.get("/console/login/enrol").get_data(as_text=True)
    assert '<svg role="img" aria-label="QR-code' in page and "<path" in page  # the QR code, inline
    secret = enrolment_secret(page)
    assert len(secret) == 32 and pyotp.TOTP(secret).provisioning_uri(
        name="nieuw@voorbeeldstad.example", issuer_name="Opvoedmaatje")
    assert enrolment_secret(client.get("/console/login/enrol").get_data(as_text=True)) == secret  # a reload keeps it
    wrong = send_code(client, "000000" if totp_code(store, "nieuw@voorbeeldstad.example", secret) != "000000"
                      else "111111", "/console/login/enrol")
    assert wrong.status_code == 400 and "klopt niet" in wrong.get_data(as_text=True)
    assert not store.user_by_email("nieuw@voorbeeldstad.example").has_totp
    right = send_code(client, totp_code(store, "nieuw@voorbeeldstad.example", secret), "/console/login/enrol")
    assert right.status_code == 302 and right.headers["Location"] == "/console/"
    assert client.get("/console/users").status_code == 200
    assert store.totp_secret(store.user_by_email("nieuw@voorbeeldstad.example").id) == secret
    assert _totp_audit(store)[-3:] == [("nieuw@voorbeeldstad.example", "totp_failed"),
                                       ("nieuw@voorbeeldstad.example", "totp_enabled"),
                                       ("nieuw@voorbeeldstad.example", "login")]
    # from now on the password alone is not enough
    other = app.test_client()
    answer = login(other, "nieuw@voorbeeldstad.example", code=False)
    assert answer.headers["Location"] == "/console/login/code"
    assert other.get("/console/").status_code == 302
    assert send_code(other, totp_code(store, "nieuw@voorbeeldstad.example")).headers["Location"] == "/console/"
    assert other.get("/console/").status_code == 200


def test_an_admin_logged_in_without_a_second_factor_can_only_set_it_up(app, store) -> None:
    """A session from before the second factor existed (migration 0007): the admin sets it up
    first and can do nothing else."""
    import sqlalchemy as sa

    client = app.test_client()
    assert login(client, ADMIN).status_code == 302
    with store.engine.begin() as connection:  # as after the upgrade: no secret, same session
        connection.execute(sa.text("UPDATE console_users SET totp_secret = NULL, totp_last_step = NULL "
                                   "WHERE email = :e"), {"e": ADMIN})
    for path in ("/console/", "/console/users", "/console/audit", "/console/account", "/console/password"):
        assert client.get(path).headers["Location"] == "/console/account/totp", path
    token = csrf(client, "/console/account/totp")
    assert client.post("/console/teams", data={"csrf_token": token, "name": "Nieuw team"}).status_code == 403
    assert store.teams()[0].name == "Wijkteam Noord" and len(store.teams()) == 1
    page = client.get("/console/account/totp").get_data(as_text=True)
    assert "Gebruikers" not in page and "Uitloggen" in page  # nothing else to go to
    assert enrol(client, store, ADMIN, "/console/account/totp").headers["Location"] == "/console/"
    assert client.get("/console/users").status_code == 200  # the same session goes on


def test_a_wrong_code_is_refused_and_counts_toward_the_lock_out(app, store) -> None:
    right = totp_code(store, ADMIN)
    wrong = f"{(int(right) + 1) % 1000000:06d}"
    client = app.test_client()
    login(client, ADMIN, password="fout wachtwoord 123")  # a wrong password counts too
    assert login(client, ADMIN, code=False).headers["Location"] == "/console/login/code"
    for _ in range(3):
        answer = send_code(client, wrong)
        assert answer.status_code == 401 and "klopt niet" in answer.get_data(as_text=True)
        assert client.get("/console/").status_code == 302
    fifth = send_code(client, "12ab56")  # not six digits: wrong as well, and the 5th failure
    assert fifth.status_code == 429 and int(fifth.headers["Retry-After"]) > 0
    locked = login(app.test_client(), ADMIN)  # the account is locked, also for the right password
    assert locked.status_code == 429 and "Te veel mislukte pogingen" in locked.get_data(as_text=True)
    assert client.get("/console/login/code").headers["Location"] == "/console/login"  # password again
    assert login(app.test_client()).status_code == 302  # another account is not locked
    failed = [a for a in _totp_audit(store) if a[0] == ADMIN]
    assert failed == [(ADMIN, "login_failed")] + [(ADMIN, "totp_failed")] * 4
    import sqlalchemy as sa

    with store.engine.connect() as connection:
        rows = [" ".join(str(v) for v in r) for r in connection.execute(sa.text("SELECT * FROM case_audit"))]
    assert not any(wrong in row or right in row or "12ab56" in row for row in rows)


def test_a_used_code_is_refused(app, store, totp_clock) -> None:
    client = app.test_client()
    code = totp_code(store, ADMIN)
    login(client, ADMIN, code=False)
    assert send_code(client, code).status_code == 302
    client.post("/console/logout", data={"csrf_token": csrf(client, "/console/")})
    thief = app.test_client()  # someone who saw the code types it within its 30 seconds (or the next 30)
    login(thief, ADMIN, code=False)
    replay = send_code(thief, code)
    assert replay.status_code == 401 and thief.get("/console/").status_code == 302
    totp_clock.advance()  # still within the window of that code: still refused
    assert send_code(thief, code).status_code == 401
    previous = pyotp.TOTP(ADMIN_SECRET).at(totp_clock() - 60)  # an older one that was never used
    assert send_code(thief, previous).status_code == 401
    assert send_code(thief, totp_code(store, ADMIN)).status_code == 302  # the app's next code works
    assert [a for a in _totp_audit(store) if a[1] == "totp_failed"] == [(ADMIN, "totp_failed")] * 3


def test_codes_before_and_after_count_as_pyotp_s_valid_window_1() -> None:
    from bot.services.console.auth import matching_step

    totp, now = pyotp.TOTP(ADMIN_SECRET), 1_800_000_015.0
    step = totp.timecode(now)
    assert matching_step(ADMIN_SECRET, totp.at(now), now) == step
    assert matching_step(ADMIN_SECRET, totp.at(now - 30), now) == step - 1
    assert matching_step(ADMIN_SECRET, totp.at(now + 30), now) == step + 1
    assert matching_step(ADMIN_SECRET, totp.at(now - 60), now) is None
    assert matching_step(ADMIN_SECRET, totp.at(now + 60), now) is None
    code = totp.at(now)
    assert matching_step(ADMIN_SECRET, f"{code[:3]} {code[3:]}", now) == step  # typed with a space
    for candidate in (totp.at(now), totp.at(now - 30), totp.at(now + 60)):
        assert (matching_step(ADMIN_SECRET, candidate, now) is not None) == totp.verify(
            candidate, for_time=now, valid_window=1)


def test_a_professional_without_a_second_factor_logs_in_with_the_password_only(app, store) -> None:
    client = app.test_client()
    answer = client.post("/console/login", data={"email": "sanne@voorbeeldstad.example", "password": PASSWORD,
                                                 "csrf_token": csrf(client)})
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    page = client.get("/console/account").get_data(as_text=True)
    assert "Staat uit" in page and "/console/account/totp" in page


def test_a_professional_switches_the_second_factor_on_and_off_with_a_code(app, store) -> None:
    sanne = "sanne@voorbeeldstad.example"
    client, elsewhere = app.test_client(), app.test_client()
    login(client)
    login(elsewhere)
    answer = enrol(client, store, sanne, "/console/account/totp")
    assert answer.headers["Location"] == "/console/account"
    assert "Staat aan" in client.get("/console/account").get_data(as_text=True)  # this session goes on
    assert elsewhere.get("/console/").status_code == 302  # every other session ended
    stored, step = _raw_user(store, sanne)
    assert stored.startswith("gAAAAA") and step is not None
    # once on, it is required at her login
    again = app.test_client()
    assert login(again, code=False).headers["Location"] == "/console/login/code"
    assert send_code(again, totp_code(store, sanne)).headers["Location"] == "/console/"
    # switching it off needs a right code
    token = csrf(again, "/console/account")
    refused = again.post("/console/account/totp/disable", data={"csrf_token": token, "code": "000000"
                                                                if totp_code(store, sanne) != "000000" else "111111"})
    assert refused.status_code == 400 and store.user_by_email(sanne).has_totp
    assert again.post("/console/account/totp/disable", data={"csrf_token": token}).status_code == 400
    done = again.post("/console/account/totp/disable", data={"csrf_token": token, "code": totp_code(store, sanne)})
    assert done.headers["Location"] == "/console/account"
    assert _raw_user(store, sanne) == (None, None)
    assert "Staat uit" in again.get("/console/account").get_data(as_text=True)
    assert login(app.test_client()).headers["Location"] == "/console/"  # the password alone again
    assert [a for a in _totp_audit(store) if a[0] == sanne and a[1] != "login"] == [
        (sanne, "totp_enabled"), (sanne, "totp_failed"), (sanne, "totp_failed"), (sanne, "totp_disabled")]


def test_an_admin_cannot_switch_off_their_own_second_factor(app, store) -> None:
    client = app.test_client()
    login(client, ADMIN)
    page = client.get("/console/account").get_data(as_text=True)
    assert "Staat aan" in page and "verplicht" in page and "/console/account/totp/disable" not in page
    answer = client.post("/console/account/totp/disable",
                         data={"csrf_token": csrf(client, "/console/account"), "code": totp_code(store, ADMIN)})
    assert answer.status_code == 403 and store.user_by_email(ADMIN).has_totp


def test_an_admin_switches_off_the_second_factor_of_a_user_who_lost_their_phone(app, store) -> None:
    sanne = store.user_by_email("sanne@voorbeeldstad.example")
    store.enable_totp(sanne.id, pyotp.random_base32(), sanne.email)
    held = app.test_client()
    login(held)
    assert held.get("/console/").status_code == 200
    admin = app.test_client()
    login(admin, ADMIN)
    assert "aan" in admin.get("/console/users").get_data(as_text=True)
    answer = admin.post(f"/console/users/{sanne.id}/totp/reset", data={"csrf_token": csrf(admin, "/console/users")})
    assert answer.status_code == 302 and not store.user(sanne.id).has_totp
    assert held.get("/console/").status_code == 302  # her sessions ended
    assert login(app.test_client()).headers["Location"] == "/console/"
    assert (ADMIN, "totp_disabled") in _totp_audit(store)
    professional = app.test_client()
    login(professional)
    me = store.user_by_email(ADMIN)
    assert professional.post(f"/console/users/{me.id}/totp/reset",
                             data={"csrf_token": csrf(professional, "/console/")}).status_code == 403
    assert store.user(me.id).has_totp
    assert "tweestapsverificatie uitgezet" in admin.get("/console/audit").get_data(as_text=True)


def test_the_totp_secret_is_unreadable_in_the_database_without_the_key(app, store) -> None:
    from cryptography.fernet import Fernet

    from bot.services.cases.crypto import ContactCipher

    stored, _ = _raw_user(store, ADMIN)
    assert stored.startswith("gAAAAA") and ADMIN_SECRET not in stored
    with open(store.engine.url.database, "rb") as handle:
        assert ADMIN_SECRET.encode() not in handle.read()
    other_key = CaseStore(store.engine, ContactCipher([Fernet.generate_key()]))
    assert other_key.totp_secret(store.user_by_email(ADMIN).id) is None
    assert ADMIN_SECRET not in repr(store.user_by_email(ADMIN))
    # with a key that does not fit no code is accepted (and the admin is not sent to set up a new one)
    app.extensions["opvoed_console"]["store"] = other_key
    client = app.test_client()
    assert login(client, ADMIN, code=False).headers["Location"] == "/console/login/code"
    assert send_code(client, pyotp.TOTP(ADMIN_SECRET).at(console_auth.totp_clock())).status_code == 401


def test_the_reset_totp_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'reset.db'}"
    monkeypatch.setenv("CASE_STORE_URL", url)
    store = CaseStore.from_url(url)
    user = store.add_user("kwijt@voorbeeldstad.example", "Kwijt", PASSWORD_HASH, "admin")
    store.enable_totp(user.id, pyotp.random_base32(), user.email)
    assert console_cli.main(["reset-totp", "--email", "kwijt@voorbeeldstad.example"]) == 0
    assert not store.user(user.id).has_totp
    assert store.audit_log()[0].action == "totp_disabled" and store.audit_log()[0].actor == "cli"
    assert console_cli.main(["reset-totp", "--email", "niemand@voorbeeldstad.example"]) == 1


def test_the_console_secret_key_file_is_created_with_mode_0600(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 15, item 7: created readable by its owner only, never created and then chmod'ed."""
    import os
    import stat

    from flask import Flask

    from bot import settings
    from bot.services.console import views

    key_file = tmp_path / "var" / "console-secret-key"
    monkeypatch.setattr(views, "SECRET_FILE", key_file)
    monkeypatch.delenv("CONSOLE_SECRET_KEY", raising=False)
    created = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(path) == str(key_file):
            created.append((flags & os.O_CREAT and flags & os.O_EXCL, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(settings.os, "open", watching_open)
    monkeypatch.setattr(Path, "chmod", lambda *_a, **_k: pytest.fail("chmod after creation"))
    old_umask = os.umask(0o022)
    try:
        key = views._secret_key(Flask(__name__))
    finally:
        os.umask(old_umask)
    assert created and created[0][0] and created[0][1] == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == key and len(key) >= 48
    assert views._secret_key(Flask(__name__)) == key  # read back, not made again


def test_the_code_must_follow_the_password_within_minutes(app, store) -> None:
    client = app.test_client()
    login(client, ADMIN, code=False)
    with client.session_transaction() as session:
        session["console_pending"] = {**session["console_pending"], "at": time.time() - 5 * 60 - 5}
    answer = client.get("/console/login/code")
    assert answer.headers["Location"] == "/console/login"
    assert "Dat duurde te lang" in client.get("/console/login").get_data(as_text=True)
    again = client.post("/console/login/code", data={"code": totp_code(store, ADMIN), "csrf_token": csrf(client)})
    assert again.status_code == 401  # the password first, again
    assert client.get("/console/").status_code == 302
