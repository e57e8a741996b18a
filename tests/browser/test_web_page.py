"""The demo page and its chat: the Flask app, the socket.io origins, and the page in headless Chromium.

Browser tests drive Debian's chromium with Playwright. The widget tests talk to a scripted
socket.io server that runs the project's socket.io channel (tests/support/web_fixture.py), so they need
no trained model; ``test_e2e_*`` talk to the real assistant (session fixture of tests/support/assistant.py).
axe-core (npm) is injected to check WCAG 2.1 AA.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bot.rasa.channels.socketio import OriginSocketIOInput, sender_of, web_origins
from bot.services.web import app as web_app
from tests.support.accessibility import CHROMIUM, CHROMIUM_ARGS, axe_violations
from tests.support.web_fixture import CHANNEL_ENV, E2E_WEB_URL, Process, standin_rasa, standin_web, web_server  # noqa: F401
from tests.support.paths import ROOT


# ---------------------------------------------------------------- the Flask app


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(web_app, "SECRET_KEY_FILE", tmp_path / "web-secret-key")
    app = web_app.create_app({"RASA_URL": "http://127.0.0.1:5999", "WEB_SECRET_KEY": "k"})
    return app.test_client()


def test_the_page_is_dutch_marked_as_an_example_and_points_the_chat_at_rasa(client: Any) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert '<html lang="nl">' in html
    assert "Dit is een voorbeeld" in html and "Gemeente Voorbeeldstad" in html
    assert 'data-socket-url="http://127.0.0.1:5999"' in html
    assert "digitale assistent" in html and "geen mens" in html


def test_the_page_offers_each_language_in_its_own_name(client: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    menu = re.findall(r'<a class="language-link" href="\?lang=(\w+)" hreflang="\w+" lang="(\w+)"[^>]*>([^<]+)</a>', html)
    assert [code for code, _, _ in menu] == ["nl", "ar", "en", "pl", "tr", "uk"]
    assert all(code == lang for code, lang, _ in menu)
    names = {code: name for code, _, name in menu}
    assert names["nl"] == "Nederlands" and names["en"] == "English" and names["ar"] == "العربية"
    assert 'id="chat-input" name="message" maxlength="2000" dir="auto"' in html
    assert 'data-language=""' in html  # a page not asked in a language leaves the conversation's as it is


def test_a_page_asked_in_a_language_switches_the_chat_and_shows_its_page_texts(client: Any) -> None:
    import html as html_lib
    import json

    from bot.domain import translations
    from bot.domain.languages.switch import requested_language

    def chat_attributes(page: str) -> Dict[str, str]:
        return {k: html_lib.unescape(v) for k, v in re.findall(r'data-(language|switch-payload|texts)="([^"]*)"', page)}

    english = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Questions about raising your child?" in english
    assert "Dit is een voorbeeld" not in english and "digital assistant" in english
    attributes = chat_attributes(english)
    assert attributes["language"] == "en" and requested_language(attributes["switch-payload"]) == "en"
    assert json.loads(attributes["texts"])["choices"] == translations.text("en", "web.choices")
    assert 'aria-current="true">English</a>' in english

    arabic = client.get("/?lang=ar").get_data(as_text=True)  # no Arabic page texts: a Dutch page, an Arabic chat
    assert '<html lang="nl">' in arabic and "Vragen over opvoeden?" in arabic
    attributes = chat_attributes(arabic)
    assert attributes["language"] == "ar" and json.loads(attributes["texts"])["typing"] == translations.text("ar", "web.typing")

    for odd in ("/?lang=xx", "/?lang=", "/?lang=%3Cscript%3E"):
        page = client.get(odd).get_data(as_text=True)
        assert '<html lang="nl">' in page and 'data-language=""' in page and "<script>" not in page


def test_the_page_loads_nothing_from_another_site(client: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    sources = re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources, "the page has scripts and a stylesheet"
    assert all(s.startswith("/") or s.startswith("data:") for s in sources), sources
    csp = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "connect-src 'self' http://127.0.0.1:5999 ws://127.0.0.1:5999" in csp


def test_the_socket_io_client_comes_from_npm_and_other_files_are_not_served(client: Any) -> None:
    answer = client.get("/vendor/socket.io.min.js")
    assert answer.status_code == 200 and b"Socket.IO v4." in answer.data[:200]
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    for path in ["/vendor/axe.min.js", "/vendor/..%2fpackage.json", "/vendor/../../package.json"]:
        assert client.get(path).status_code == 404, path
    assert client.get("/static/chat.js").status_code == 200
    assert client.get("/health").get_json() == {"status": "ok"}


@pytest.mark.parametrize("environ,expected", [
    ({}, "http://127.0.0.1:5005"),
    ({"RASA_PORT": "6000"}, "http://127.0.0.1:6000"),
    ({"RASA_URL": "https://chat.voorbeeldstad.nl/", "RASA_PORT": "6000"}, "https://chat.voorbeeldstad.nl"),
])
def test_the_rasa_url_setting(environ: Dict[str, str], expected: str) -> None:
    assert web_app.rasa_url(environ) == expected


def test_csp_sources_for_https_use_wss() -> None:
    assert web_app.socket_origins("https://chat.voorbeeldstad.nl") == \
        "https://chat.voorbeeldstad.nl wss://chat.voorbeeldstad.nl"
    assert web_app.socket_origins("not a url") == ""


def test_the_console_is_part_of_the_web_server() -> None:
    app = web_app.create_app({"WEB_SECRET_KEY": "k"})
    login = app.test_client().get("/console/", headers={"Accept": "text/html"})
    assert login.status_code == 302 and "/console/login" in login.headers["Location"]
    assert app.test_client().get("/").status_code == 200


def test_the_page_tells_the_chat_the_retention_period(client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.domain.catalogue.loader import load_catalogue

    days = load_catalogue().municipality.retention_days or 90
    html = client.get("/").get_data(as_text=True)
    assert f'data-retention-days="{days}"' in html
    assert f"niet langer dan {days}" in " ".join(html.split())
    import bot.domain.catalogue.loader as loader

    def no_catalogue(*_a: Any, **_k: Any) -> Any:
        raise loader.CatalogueError(["geen catalogus"])

    monkeypatch.setattr(loader, "load_catalogue", no_catalogue)
    assert web_app.retention_days() == 90


def test_a_secret_key_is_generated_once_when_not_set(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "web-secret-key"
    first = web_app._secret_key({}, key_file)
    assert len(first) >= 32 and web_app._secret_key({}, key_file) == first
    assert web_app._secret_key({"WEB_SECRET_KEY": "chosen"}, key_file) == "chosen"


# ---------------------------------------------------------------- socket.io origins


@pytest.mark.parametrize("environ,expected", [
    ({}, ["http://127.0.0.1:8080", "http://localhost:8080"]),
    ({"WEB_PORT": "9000"}, ["http://127.0.0.1:9000", "http://localhost:9000"]),
    ({"WEB_ORIGINS": "https://www.voorbeeldstad.nl, https://jeugd.voorbeeldstad.nl/ ,"},
     ["https://www.voorbeeldstad.nl", "https://jeugd.voorbeeldstad.nl"]),
])
def test_web_origins(environ: Dict[str, str], expected: List[str]) -> None:
    assert web_origins(environ) == expected


def test_the_socketio_channel_takes_its_origins_from_credentials_or_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB_ORIGINS", "https://a.example")
    channel = OriginSocketIOInput.from_credentials({"session_persistence": True})
    assert channel.origins == ["https://a.example"] and channel.session_persistence
    assert OriginSocketIOInput.from_credentials({"origins": "https://b.example"}).origins == ["https://b.example"]
    assert channel.name() == "socketio"


def _handshake(rasa_url: str, origin: str) -> requests.Response:
    return requests.get(f"{rasa_url}/socket.io/", params={"EIO": "4", "transport": "polling"},
                        headers={"Origin": origin}, timeout=10)


def test_socketio_accepts_the_web_origin_and_refuses_others(standin_rasa: Process) -> None:
    allowed = _handshake(standin_rasa.url, standin_web_origin())
    assert allowed.status_code == 200 and allowed.text.startswith("0{")
    assert allowed.headers.get("Access-Control-Allow-Origin") == standin_web_origin()
    refused = _handshake(standin_rasa.url, "https://evil.example")
    assert refused.status_code == 400
    assert "Access-Control-Allow-Origin" not in refused.headers


def test_socketio_limits_a_flooding_sender_with_one_kind_reply(standin_rasa: Process) -> None:
    """38 messages in a second or two from one chat: 30 answered (the default limit per minute,
    plus what refilled meanwhile), then the kind reply with the crisis numbers once; another chat
    is not affected."""
    import asyncio

    import socketio

    from bot.services.ratelimit import DEFAULT_PER_MINUTE, LIMITED_REPLY

    async def chat(session_id: str, messages: int) -> tuple[List[str], float]:
        replies: List[str] = []
        started = time.monotonic()
        confirmed = asyncio.Event()
        client = socketio.AsyncClient()
        client.on("bot_uttered", lambda data: replies.append(data.get("text", "")))
        client.on("session_confirm", lambda _: confirmed.set())
        await client.connect(standin_rasa.url, headers={"Origin": standin_web_origin()},
                             socketio_path="socket.io", transports=["polling"])
        try:
            await client.emit("session_request", {"session_id": session_id})
            await asyncio.wait_for(confirmed.wait(), timeout=10)
            for n in range(messages):  # one by one: a polling payload holds at most 16 packets
                await client.emit("user_uttered", {"message": f"vraag {n}", "session_id": session_id})
                await asyncio.sleep(0.02)
            deadline = time.monotonic() + 20
            while len(replies) < min(messages, DEFAULT_PER_MINUTE + 1) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(0.5)  # nothing more may come
            elapsed = time.monotonic() - started
        finally:
            # not disconnect(): with long-polling python-socketio >= 5.12 waits for the next ping
            await client.eio.disconnect(abort=True)
        return replies, elapsed

    async def scenario() -> None:
        flood, elapsed = await chat(f"flood-{time.time_ns()}", DEFAULT_PER_MINUTE + 8)
        refilled = int(elapsed * DEFAULT_PER_MINUTE / 60) + 1  # the bucket refills
        answered = sum(r.startswith("Je schreef:") for r in flood)
        assert DEFAULT_PER_MINUTE <= answered <= DEFAULT_PER_MINUTE + refilled < DEFAULT_PER_MINUTE + 8
        assert flood.count(LIMITED_REPLY) == 1
        assert len(flood) == answered + 1
        other, _ = await chat(f"other-{time.time_ns()}", 1)
        assert other == ["Je schreef: vraag 0 (bericht 1)"]

    asyncio.run(scenario())


def standin_web_origin() -> str:
    from tests.support.web_fixture import STANDIN_WEB_PORT
    return f"http://127.0.0.1:{STANDIN_WEB_PORT}"


# ---------------------------------------------------------------- the page in Chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(bypass_csp=True)  # only so that axe can be injected
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        yield page
    finally:
        context.close()


def bot_messages(page: Page) -> Any:
    return page.locator("#chat-log .msg-bot")


def say(page: Page, text: str, label: str = "Je bericht") -> None:
    page.get_by_label(label).fill(text)
    page.keyboard.press("Enter")


def test_the_page_has_no_wcag_violations_before_and_during_a_conversation(page: Page, standin_web: Process) -> None:
    page.goto(standin_web.url)
    assert axe_violations(page) == []
    say(page, "hallo")
    expect(page.locator(".choices button")).to_have_count(2)
    say(page, "/more_tips")
    expect(bot_messages(page)).to_have_count(2)
    say(page, "hallo")
    expect(page.locator(".choices button")).to_have_count(2)
    assert axe_violations(page) == []


def test_chat_with_buttons_links_typing_state_and_a_reload(page: Page, standin_web: Process) -> None:
    requested: List[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(standin_web.url)
    log = page.get_by_role("log")
    expect(log).to_have_attribute("aria-live", "polite")

    say(page, "hallo")
    expect(bot_messages(page).first).to_contain_text("digitale assistent")
    choices = page.get_by_role("group", name="Kies een antwoord")
    expect(choices.get_by_role("button")).to_have_text(["Meer tips", "Hulp in de buurt"])

    # keyboard only: focus the quick reply and press Enter
    choices.get_by_role("button", name="Meer tips").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#chat-log .msg-user").last).to_have_text(re.compile("Meer tips"))
    expect(bot_messages(page)).to_have_count(2)
    expect(page.get_by_label("Je bericht")).to_be_focused()
    expect(page.locator(".choices")).to_have_count(0)  # used up
    tips = bot_messages(page).nth(1)
    expect(tips.locator('a[href="https://opvoeden.nl"]')).to_have_count(1)
    expect(tips.locator('a[href="https://www.thuisarts.nl"]')).to_contain_text("Thuisarts")
    expect(tips.locator("a").first).to_have_attribute("rel", "noopener noreferrer")

    # typing state while the answer is on its way
    say(page, "langzaam")
    expect(page.get_by_role("status")).to_have_text("Opvoedmaatje typt…")
    expect(bot_messages(page)).to_have_count(3, timeout=10_000)
    expect(page.get_by_role("status")).to_have_text("")

    session_id = page.evaluate("localStorage.getItem('opvoedmaatje.session_id')")
    assert session_id and len(session_id) >= 16

    page.reload()
    expect(bot_messages(page)).to_have_count(3)              # the conversation is still shown
    say(page, "na het herladen")
    expect(bot_messages(page).last).to_contain_text("(bericht 4)")  # the server knows the session
    assert page.evaluate("localStorage.getItem('opvoedmaatje.session_id')") == session_id

    hosts = {re.match(r"^(\w+://[^/]+)", url).group(1) for url in requested if "://" in url}
    assert all(h.startswith(("http://127.0.0.1:", "ws://127.0.0.1:")) for h in hosts), hosts


def test_clearing_the_conversation_starts_a_new_session(page: Page, standin_web: Process) -> None:
    page.goto(standin_web.url)
    say(page, "eerste")
    expect(bot_messages(page)).to_have_count(1)
    old = page.evaluate("localStorage.getItem('opvoedmaatje.session_id')")
    page.get_by_role("button", name="Gesprek wissen op dit apparaat").click()
    expect(page.locator("#chat-log .msg")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text("Het gesprek is gewist op dit apparaat.")
    say(page, "tweede")
    expect(bot_messages(page).last).to_contain_text("(bericht 1)")
    assert page.evaluate("localStorage.getItem('opvoedmaatje.session_id')") != old
    page.reload()
    expect(page.locator("#chat-log .msg")).to_have_count(2)


def test_a_stored_id_the_server_did_not_issue_starts_a_fresh_conversation(page: Page, standin_web: Process) -> None:
    """Issue 15: the server issues and signs the session id. A stored id it did not sign (tampered
    with, or another conversation's bare id) is not continued: the server starts a new one, and
    the page forgets what it showed, since that is not the conversation at the server."""
    page.goto(standin_web.url)
    say(page, "eerste")
    expect(bot_messages(page)).to_have_count(1)
    signed = stored(page)["session"]
    assert signed and sender_of(signed) != signed
    for forged in [signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB"), sender_of(signed)]:
        page.evaluate("id => localStorage.setItem('opvoedmaatje.session_id', id)", forged)
        page.reload()
        page.wait_for_function("bad => { const v = localStorage.getItem('opvoedmaatje.session_id');"
                               " return v && v !== bad; }", arg=forged)
        expect(page.locator("#chat-log .msg")).to_have_count(0)
        assert stored(page)["session"] != signed and stored(page)["history"] is None
        say(page, "weer")
        expect(bot_messages(page)).to_have_text([re.compile(r"\(bericht 1\)")])  # a new conversation


DAY_MS = 24 * 3600 * 1000


def stored(page: Page) -> Dict[str, Any]:
    return page.evaluate("""() => ({
        session: localStorage.getItem('opvoedmaatje.session_id'),
        savedAt: localStorage.getItem('opvoedmaatje.saved_at'),
        history: JSON.parse(localStorage.getItem('opvoedmaatje.history') || 'null')})""")


def age_storage(page: Page, days_ago: List[float]) -> None:
    """Pretend the stored messages were written `days_ago` (one value per message) and the last
    activity was the youngest of them: the stored time stamps are moved back."""
    page.evaluate("""([ages, day]) => {
        const now = Date.now();
        const history = JSON.parse(localStorage.getItem('opvoedmaatje.history'));
        history.forEach((entry, i) => { entry.at = now - ages[i] * day; });
        localStorage.setItem('opvoedmaatje.history', JSON.stringify(history));
        localStorage.setItem('opvoedmaatje.saved_at', String(now - Math.min(...ages) * day));
    }""", [days_ago, DAY_MS])


def test_the_local_history_expires_after_the_retention_period(page: Page, standin_web: Process) -> None:
    page.goto(standin_web.url)
    days = int(page.locator("#opvoedmaatje-chat").get_attribute("data-retention-days"))
    assert days > 0
    say(page, "eerste")
    expect(bot_messages(page)).to_have_count(1)
    say(page, "tweede")
    expect(bot_messages(page)).to_have_count(2)
    kept = stored(page)
    assert kept["session"] and kept["savedAt"] and len(kept["history"]) == 4
    assert all(isinstance(entry["at"], (int, float)) for entry in kept["history"])

    # within the period everything stays; a message older than the period goes on its own
    age_storage(page, [days + 5, days + 5, days - 1, days - 1])
    page.reload()
    expect(page.locator("#chat-log .msg")).to_have_count(2)
    expect(bot_messages(page)).to_contain_text(["tweede"])
    assert stored(page)["session"] == kept["session"] and len(stored(page)["history"]) == 2

    # the last message older than the period: history and session id are gone
    age_storage(page, [days + 1, days + 1])
    page.reload()
    expect(page.locator("#chat-empty")).to_be_visible()
    assert page.locator("#chat-log .msg").count() == 0
    after = stored(page)
    assert after["history"] is None and after["session"] != kept["session"]
    say(page, "opnieuw")
    expect(bot_messages(page).last).to_contain_text("(bericht 1)")  # a new session at the server


def test_a_stamp_in_the_future_or_none_at_all_is_not_believed(page: Page, standin_web: Process) -> None:
    page.goto(standin_web.url)
    say(page, "eerste")
    expect(bot_messages(page)).to_have_count(1)
    page.evaluate("localStorage.setItem('opvoedmaatje.saved_at', String(Date.now() + 400 * 86400000))")
    page.reload()
    assert page.locator("#chat-log .msg").count() == 0 and stored(page)["history"] is None
    say(page, "tweede")
    expect(bot_messages(page)).to_have_count(1)
    page.evaluate("localStorage.removeItem('opvoedmaatje.saved_at')")  # as before stamps were kept
    page.reload()
    assert page.locator("#chat-log .msg").count() == 0 and stored(page)["history"] is None


# chat.js is given a socket.io client whose socket the test can reach (to play a bot message)
CAPTURE_SOCKET = """(() => {
  let real;
  Object.defineProperty(window, 'io', {
    configurable: true,
    get() {
      return real && function () { const s = real.apply(this, arguments); window.__chatSocket = s; return s; };
    },
    set(value) { real = value; },
  });
})();"""


def play_bot_message(page: Page, message: Dict[str, Any]) -> None:
    page.evaluate("m => window.__chatSocket.listeners('bot_uttered').forEach(f => f(m))", message)


@pytest.mark.parametrize("shape", ["separate", "nested", "merged"])
def test_an_erased_message_clears_the_local_history_and_the_session(page: Page, standin_web: Process,
                                                                    shape: str) -> None:
    """The answer to "wis mijn gegevens" carries {"opvoedmaatje_erased": true}: in the message's
    metadata, merged into it (as Rasa merges a bot message's metadata), or as a socket.io message
    of its own right after the text. The page forgets its history and session id; the
    confirmation stays in view but is not stored."""
    page.add_init_script(CAPTURE_SOCKET)
    page.goto(standin_web.url)
    say(page, "eerste")
    expect(bot_messages(page)).to_have_count(1)
    before = stored(page)
    assert before["session"] and before["history"]
    say(page, "wis mijn gegevens")
    answered = ["Je schreef: wis mijn gegevens (bericht 2)"]  # the stand-in's answer
    expect(bot_messages(page)).to_have_count(2)
    if shape == "separate":
        play_bot_message(page, {"opvoedmaatje_erased": True})
    else:
        answered.append("Je gegevens zijn gewist.")
        play_bot_message(page, {"text": answered[-1], "metadata": {"opvoedmaatje_erased": True}}
                         if shape == "nested" else {"text": answered[-1], "opvoedmaatje_erased": True})
    # only the answer to "wis mijn gegevens" stays in view
    expect(page.locator("#chat-log .msg")).to_have_count(len(answered))
    expect(bot_messages(page)).to_have_text([re.compile(re.escape(t)) for t in answered])
    expect(page.get_by_role("status")).to_have_text("Het gesprek is gewist, ook op dit apparaat.")
    after = stored(page)
    assert after["history"] is None and after["session"] != before["session"]
    say(page, "tweede")
    expect(bot_messages(page).last).to_contain_text("(bericht 1)")  # a new session
    page.reload()
    expect(page.locator("#chat-log .msg")).to_have_count(2)  # only what came after the erasure
    assert "eerste" not in page.locator("#chat-log").inner_text()

    # a message with other metadata changes nothing
    play_bot_message(page, {"text": "Gewoon een bericht", "metadata": {"opvoedmaatje_erased": "ja"}})
    expect(page.locator("#chat-log .msg")).to_have_count(3)


def test_keyboard_users_can_skip_to_the_chat(page: Page, standin_web: Process) -> None:
    page.goto(standin_web.url)
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Direct naar de chat")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Je bericht")).to_be_focused()


def test_messages_are_shown_as_text_not_as_html(page: Page, standin_web: Process) -> None:
    page.goto(standin_web.url)
    say(page, '<img src=x onerror="window.hacked=1">')
    expect(bot_messages(page)).to_have_count(1)
    assert page.locator("#chat-log img").count() == 0
    assert page.evaluate("window.hacked === undefined")


def test_a_page_of_another_origin_cannot_chat(page: Page, standin_web: Process) -> None:
    other_origin = standin_web.url.replace("127.0.0.1", "localhost")  # not in the stand-in's WEB_ORIGINS
    page.goto(other_origin)
    say(page, "hallo")
    expect(page.get_by_role("status")).to_contain_text("Geen verbinding", timeout=15_000)
    assert bot_messages(page).count() == 0


# ---------------------------------------------------------------- end to end: the running assistant


def replies_after(page: Page, count: int, timeout: float = 60, quiet: float = 2.5) -> int:
    """Wait for more than ``count`` bot messages and until no more arrive; the new count."""
    page.wait_for_function(f"document.querySelectorAll('#chat-log .msg-bot').length > {count}",
                           timeout=timeout * 1000)
    seen, still = bot_messages(page).count(), time.monotonic()
    while time.monotonic() - still < quiet:
        page.wait_for_timeout(200)
        if bot_messages(page).count() != seen:
            seen, still = bot_messages(page).count(), time.monotonic()
    return seen


def test_e2e_web_conversation_concern_age_reassurance_support_nearby(page: Page, web_server: Process,
                                                                      assistant: Any) -> None:
    assert web_server.url == E2E_WEB_URL and E2E_WEB_URL in CHANNEL_ENV["WEB_ORIGINS"]
    page.goto(web_server.url)

    say(page, "mijn dochter wil niet slapen")
    count = replies_after(page, 0)
    first = " ".join(bot_messages(page).all_inner_texts()).lower()
    assert "digitale assistent" in first or "geen mens" in first
    assert "oud" in first                                   # "Hoe oud is je kind?"

    say(page, "anderhalf")
    count = replies_after(page, count)
    choices = page.get_by_role("group", name="Kies een antwoord")
    expect(choices.get_by_role("button", name="Hulp in de buurt")).to_be_visible()
    expect(choices.get_by_role("button", name="Meer tips")).to_be_visible()
    assert axe_violations(page) == []

    signed = page.evaluate("localStorage.getItem('opvoedmaatje.session_id')")
    session_id = sender_of(signed)                           # the page keeps the server's signed id
    assert signed != session_id
    slots = assistant.slots(session_id)
    assert slots["topic"] == "slapen" and slots["age_months"] == 18 and slots["severity"] == "normaal"

    choices.get_by_role("button", name="Hulp in de buurt").click()
    count = replies_after(page, count)

    page.reload()                                            # the conversation survives a reload
    expect(bot_messages(page)).to_have_count(count)
    say(page, "/more_tips")
    replies_after(page, count)
    assert page.evaluate("localStorage.getItem('opvoedmaatje.session_id')") == signed
    events = requests.get(f"{assistant.url}/conversations/{session_id}/tracker",
                          params={"token": assistant.token}, timeout=30).json()["events"]
    user_texts = [e.get("text") for e in events if e.get("event") == "user"]
    assert user_texts[0] == "mijn dochter wil niet slapen" and user_texts[-1] == "/more_tips"


def test_e2e_an_english_conversation_from_the_language_menu(page: Page, web_server: Process, assistant: Any) -> None:
    """Issue 17: the menu switches to English; the answers, buttons and disclosure are English."""
    from bot.domain import translations

    page.goto(web_server.url)
    page.get_by_role("navigation", name="Taal / Language").get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Questions about raising your child?")
    count = replies_after(page, 0)
    first = bot_messages(page).first.inner_text()
    assert translations.text("en", "dialogue.disclosure") in first and "English" in first

    say(page, "How do I stop my 2 year old from biting other kids?", label="Your message")
    count = replies_after(page, count)
    choices = page.get_by_role("group", name=translations.text("en", "web.choices"))
    expect(choices.get_by_role("button", name="More tips")).to_be_visible()
    answer = " ".join(bot_messages(page).all_inner_texts())
    assert "What can you do?" in answer and "Wat kun je doen?" not in answer
    assert axe_violations(page) == []

    signed = page.evaluate("localStorage.getItem('opvoedmaatje.session_id')")
    slots = assistant.slots(sender_of(signed))
    assert slots["language"] == "en" and slots["topic"] == "agressie" and slots["age_months"] == 24


def test_e2e_an_arabic_conversation_reads_right_to_left(page: Page, web_server: Process, assistant: Any) -> None:
    """Issue 17: Arabic is detected from the message, answered in Arabic and laid out right to left;
    Dutch on the same page stays left to right."""
    from bot.domain import translations

    page.goto(web_server.url)
    say(page, "ابني عمره 3 سنوات لا ينام في الليل ويستيقظ كثيرا")
    count = replies_after(page, 0)
    first = bot_messages(page).first
    paragraph = first.locator("p").first
    assert paragraph.inner_text().startswith(translations.text("ar", "dialogue.disclosure"))
    assert paragraph.evaluate("p => getComputedStyle(p).direction") == "rtl"
    box, text_box = first.bounding_box(), paragraph.evaluate(
        "p => { const r = document.createRange(); r.selectNodeContents(p); const b = r.getBoundingClientRect();"
        " return {x: b.x, width: b.width}; }")
    assert abs((box["x"] + box["width"]) - (text_box["x"] + text_box["width"])) < 30, "Arabic hugs the right edge"
    user = page.locator("#chat-log .msg-user").first.locator("p").first
    assert user.evaluate("p => getComputedStyle(p).direction") == "rtl"
    expect(page.get_by_role("group", name="Kies een antwoord").get_by_role(
        "button", name=translations.text("ar", "common.buttons.more_tips.title"))).to_be_visible()
    assert axe_violations(page) == []

    page.get_by_role("navigation", name="Taal / Language").get_by_role("link", name="Nederlands").click()
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    replies_after(page, count)
    last = bot_messages(page).last.locator("p").first
    assert last.evaluate("p => getComputedStyle(p).direction") == "ltr"
    assert "Nederlands" in last.inner_text()
    slots = assistant.slots(sender_of(page.evaluate("localStorage.getItem('opvoedmaatje.session_id')")))
    assert slots["language"] == "nl" and slots["topic"] == "slapen"


def test_e2e_socketio_slash_text_is_ordinary_text_and_a_crisis_is_answered(assistant: Any) -> None:
    """Issue 13: on the web chat too, "/"-text that is no payload of the assistant's is read as text."""
    import asyncio

    import socketio

    from bot.domain import situations

    confirmed_ids: List[str] = []

    async def scenario() -> List[str]:
        replies: List[str] = []
        confirmed = asyncio.Event()
        client = socketio.AsyncClient()
        client.on("bot_uttered", lambda data: replies.append(data.get("text", "")))
        client.on("session_confirm", lambda signed: (confirmed_ids.append(signed), confirmed.set()))
        await client.connect(assistant.url, headers={"Origin": E2E_WEB_URL}, socketio_path="socket.io",
                             transports=["polling"])
        try:
            await client.emit("session_request", {})
            await asyncio.wait_for(confirmed.wait(), timeout=10)
            await client.emit("user_uttered", {"message": "/restart mijn zoon van 6 is weg en ik kan hem nergens vinden",
                                               "session_id": confirmed_ids[0]})
            deadline = time.monotonic() + 30
            while len(replies) < 2 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await client.eio.disconnect(abort=True)  # disconnect() waits for the next ping on polling
        return replies

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # its own event loop: the browser tests may hold this thread's
        replies = pool.submit(asyncio.run, scenario()).result(timeout=60)
    assert replies and replies[0] == situations.reply("vermist"), replies
    assert assistant.slots(sender_of(confirmed_ids[0]))["situation"] == "vermist"


def test_e2e_the_erase_button_erases_at_the_municipality_and_on_the_page(page: Page, web_server: Process,
                                                                           assistant: Any) -> None:
    """Issue 14: the page's button erases the conversation in the tracker store (checked with SQL)
    and the page forgets its own copy."""
    import sqlite3

    page.goto(web_server.url)
    say(page, "mijn dochter wil niet slapen")
    replies_after(page, 0)
    signed = page.evaluate("localStorage.getItem('opvoedmaatje.session_id')")
    session_id = sender_of(signed)
    database = assistant.env["TRACKER_STORE_URL"].replace("sqlite:///", "")

    def rows() -> int:
        with sqlite3.connect(database) as connection:
            return connection.execute("SELECT COUNT(*) FROM events WHERE sender_id = ?", (session_id,)).fetchone()[0]

    assert rows() > 0
    page.get_by_role("button", name="Wis mijn gegevens, ook bij de gemeente").click()
    expect(bot_messages(page).last).to_contain_text("gewist", timeout=30_000)
    deadline = time.monotonic() + 10
    while rows() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert rows() == 0
    assert page.evaluate("localStorage.getItem('opvoedmaatje.session_id')") != signed


def _deliver(assistant: Any, session_id: str, text: str) -> None:
    """A bot message into a conversation through its latest channel, as the console delivers a
    professional's answer (bot/services/console/rasa_client.py)."""
    answer = requests.post(f"{assistant.url}/conversations/{session_id}/tracker/events",
                           params={"token": assistant.token, "execute_side_effects": "true",
                                   "output_channel": "latest"},
                           json=[{"event": "bot", "text": text, "data": {}, "metadata": {}}], timeout=30)
    answer.raise_for_status()


def test_e2e_clearing_the_conversation_leaves_its_room(page: Page, web_server: Process, assistant: Any) -> None:
    """Issue 15: after "Gesprek wissen op dit apparaat" nothing sent to the old conversation (a
    professional's answer) reaches the page; the new conversation's messages do."""
    page.goto(web_server.url)
    say(page, "mijn dochter wil niet slapen")
    count = replies_after(page, 0)
    signed = page.evaluate("localStorage.getItem('opvoedmaatje.session_id')")
    old = sender_of(signed)
    _deliver(assistant, old, "Een bericht van de jeugdverpleegkundige.")
    expect(bot_messages(page)).to_have_count(count + 1)
    expect(bot_messages(page).last).to_contain_text("jeugdverpleegkundige")

    page.get_by_role("button", name="Gesprek wissen op dit apparaat").click()
    expect(page.locator("#chat-log .msg")).to_have_count(0)
    page.wait_for_function("old => { const v = localStorage.getItem('opvoedmaatje.session_id');"
                           " return v && v !== old; }", arg=signed)
    say(page, "hallo")
    count = replies_after(page, 0)
    new = sender_of(page.evaluate("localStorage.getItem('opvoedmaatje.session_id')"))
    assert new != old
    _deliver(assistant, old, "Nog een bericht voor het oude gesprek.")
    _deliver(assistant, new, "Een bericht voor het nieuwe gesprek.")  # after it, on the same server
    expect(bot_messages(page)).to_have_count(count + 1)
    expect(bot_messages(page).last).to_contain_text("nieuwe gesprek")
    page.wait_for_timeout(500)
    assert "oude gesprek" not in page.locator("#chat-log").inner_text()


WEBCHAT = ROOT / "node_modules" / "rasa-webchat" / "lib" / "index.js"
WEBCHAT_PAGE = """<!doctype html>
<html lang="nl"><head><meta charset="utf-8"><title>rasa-webchat op een gemeentepagina</title></head>
<body>
  <div id="webchat"></div>
  <script src="/rasa-webchat/index.js"></script>
  <script>
    WebChat.default({socketUrl: "%s", socketPath: "/socket.io/", embedded: true, title: "Opvoedmaatje",
                     customData: {language: "nl"}, params: {storage: "local"}},
                    document.getElementById("webchat"));
  </script>
</body></html>"""


def open_webchat_page(page: Page, origin: str, rasa_url: str) -> None:
    """A municipality's page embedding the community widget (npm rasa-webchat 1.0.1, from
    node_modules): a document of an allowed origin (the web server's, so that Chromium counts it
    as local like the Rasa server) whose content is the embedding page."""
    page.goto(f"{origin}/health")
    page.set_content(WEBCHAT_PAGE % rasa_url)


def test_e2e_the_rasa_webchat_widget_converses_and_keeps_its_conversation_over_a_reload(
        page: Page, web_server: Process, assistant: Any) -> None:
    """The community widget stores the signed id the server issues and presents it again: it
    converses, and a reload keeps the conversation (shown, and at the server)."""
    assert WEBCHAT.is_file(), "npm ci installs rasa-webchat (package.json)"
    script = WEBCHAT.read_bytes()
    page.route(f"{web_server.url}/rasa-webchat/index.js",
               lambda route: route.fulfill(status=200, body=script, content_type="text/javascript"))
    open_webchat_page(page, web_server.url, assistant.url)
    bot = page.locator(".rw-response .rw-message-text")  # not the typing dots (also .rw-response)
    page.locator(".rw-new-message").fill("mijn dochter wil niet slapen")
    page.keyboard.press("Enter")
    expect(bot.first).to_be_visible(timeout=60_000)
    page.wait_for_timeout(2500)  # the rest of the answer
    first = " ".join(bot.all_inner_texts()).lower()
    assert "digitale assistent" in first or "geen mens" in first
    assert "oud" in first                                    # "Hoe oud is je kind?"
    shown = bot.count()
    signed = page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id")
    session_id = sender_of(signed)
    assert signed != session_id                              # the widget keeps the signed id

    page.reload()
    page.set_content(WEBCHAT_PAGE % assistant.url)           # the same embedding page, reloaded
    expect(bot).to_have_count(shown, timeout=20_000)         # the conversation is still shown
    page.locator(".rw-new-message").fill("anderhalf")
    page.keyboard.press("Enter")
    expect(bot).not_to_have_count(shown, timeout=60_000)
    assert page.evaluate("JSON.parse(localStorage.getItem('chat_session')).session_id") == signed
    slots = assistant.slots(session_id)                      # the server continued the conversation
    assert slots["topic"] == "slapen" and slots["age_months"] == 18
