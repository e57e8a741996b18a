"""Issue 15, items 1 and 2: server-issued socket.io sessions, and socket.io through Redis as JSON.

- ``SessionSigner``: only ids this server signed are accepted back.
- Against the real Rasa server (session fixture of tests/support/assistant.py): a forged, foreign (another
  socket's bare id) or other-channel (a WhatsApp pseudonym) session id gets a fresh, empty
  conversation, and a message naming another conversation's id goes to the socket's own; the
  signed id continues the conversation (a reload).
- python-socketio's ``AsyncRedisManager`` publishes JSON, not pickle (CVE-2025-61765), checked on
  the raw bytes in the local Redis, and a pickle on the channel is not unpickled.
The browser side (the page, "Gesprek wissen", the rasa-webchat widget) is in tests/browser/test_web_page.py.
"""
from __future__ import annotations

import asyncio
import json
import pickle
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List

import pytest
import requests

from bot import settings
from bot.rasa.channels.socketio import SessionSigner, client_manager, sender_of
from bot.services.pseudonym import Pseudonymizer
from tests.support.socketio_chat import Chat, in_own_loop
from tests.support.web_fixture import CHANNEL_ENV

# ---------------------------------------------------------------- the signer


def test_only_ids_this_server_signed_are_accepted() -> None:
    signer = SessionSigner("a-long-random-session-secret-for-tests")
    session_id, signed = signer.new()
    assert len(session_id) == 32 and signed.startswith(session_id + ".") and sender_of(signed) == session_id
    assert signer.verify(signed) == session_id
    assert signer.sign(session_id) == signed, "the same id always signs the same (the widget compares)"
    assert signer.new()[0] != session_id
    other = SessionSigner("another-long-random-secret-for-tests")
    pseudonym = Pseudonymizer(b"e2e-sender-id-secret").pseudonym("+31612345678")
    for presented in [None, "", 42, {"session_id": signed}, session_id, signed[:-1] + ("A" if signed[-1] != "A" else "B"),
                      other.sign(session_id), pseudonym, f"{pseudonym}.{signed.split('.')[-1]}",
                      signed + "x" * 200, signer.sign("not-a-session-id")]:
        assert signer.verify(presented) is None, presented
    with pytest.raises(ValueError):
        SessionSigner("")


def test_the_session_secret_comes_from_the_environment_or_is_generated_once(tmp_path: Path) -> None:
    secret_file = tmp_path / "var" / "socketio-session-secret"
    generated = settings.socketio_session_secret({}, secret_file)
    assert len(generated) >= 32 and secret_file.stat().st_mode & 0o777 == 0o600
    assert settings.socketio_session_secret({}, secret_file) == generated
    assert settings.socketio_session_secret({"SOCKETIO_SESSION_SECRET": "chosen-by-the-host-xyz"},
                                            secret_file) == "chosen-by-the-host-xyz"
    assert "SOCKETIO_SESSION_SECRET" in settings.SECRET_SETTINGS
    assert settings.secret_problems({"SOCKETIO_SESSION_SECRET": "change-me-long-random"}) == \
        ["SOCKETIO_SESSION_SECRET is a placeholder"]


def test_the_socketio_redis_url_carries_the_password() -> None:
    manager = client_manager({"LOCK_STORE_TYPE": "redis", "REDIS_HOST": "redis", "REDIS_PORT": "6379",
                              "REDIS_PASSWORD": "p@ss/word:with-signs", "REDIS_DB": "1"})
    assert manager is not None
    assert manager.redis_url == "redis://:p%40ss%2Fword%3Awith-signs@redis:6379/1"
    assert client_manager({"LOCK_STORE_TYPE": "in_memory"}) is None


def test_redis_requires_a_password_in_every_deployment_file() -> None:
    """Anything on the backend network could otherwise read and write the Rasa servers' locks,
    rate limits and socket.io messages."""
    import yaml

    deploy = settings.PROJECT_ROOT / "deploy"
    compose = yaml.safe_load((deploy / "docker-compose.yml").read_text(encoding="utf-8"))
    redis = compose["services"]["redis"]
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?"), "required"
    started = " ".join(redis["command"])
    assert "requirepass" in started and "redis-server" in started
    assert "REDISCLI_AUTH" in " ".join(redis["healthcheck"]["test"])  # the health check logs in
    for name in ("rasa-1", "rasa-2", "actions", "web"):  # the services that talk to Redis
        assert compose["services"][name]["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?"), name
    example = dict(line.split("=", 1) for line in (deploy / "env.example").read_text(encoding="utf-8").splitlines()
                   if "=" in line and not line.startswith("#"))
    assert example["REDIS_PASSWORD"] and settings.placeholder_secret(example["REDIS_PASSWORD"], fill_in_only=True)
    secret = yaml.safe_load((deploy / "k8s" / "secret.example.yaml").read_text(encoding="utf-8"))
    assert secret["stringData"]["REDIS_PASSWORD"]
    for name in ("rasa.yaml", "actions.yaml", "web.yaml"):
        text = (deploy / "k8s" / name).read_text(encoding="utf-8")
        assert "key: REDIS_PASSWORD}" in text, name   # required (not optional) in the pod


# ---------------------------------------------------------------- socket.io through Redis

REDIS_URL = "redis://127.0.0.1:6379/0"
UNPICKLED: List[str] = []


def _unpickled(marker: str) -> str:  # what unpickling the payload below would run
    UNPICKLED.append(marker)
    return marker


class _Payload:
    def __reduce__(self) -> Any:
        return (_unpickled, ("code ran",))


def _redis() -> Any:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis on 127.0.0.1:6379 ({type(error).__name__}); the pickle test needs one")
    return client


def test_the_redis_manager_carries_json_not_pickle() -> None:
    """What one Rasa server publishes for the others (a reply for a socket it does not hold) is
    JSON on the wire; a pickle put on the channel by anything on the network is not unpickled."""
    import socketio

    client = _redis()
    channel = f"opvoedmaatje-test-{uuid.uuid4().hex}"
    subscriber = client.pubsub(ignore_subscribe_messages=True)
    subscriber.subscribe(channel)
    UNPICKLED.clear()

    async def scenario() -> List[bytes]:
        manager = socketio.AsyncRedisManager(REDIS_URL, channel=channel)
        server = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
        handled = asyncio.Event()
        original = manager._handle_emit

        async def handle_emit(message: Dict[str, Any]) -> None:
            handled.set()
            await original(message)

        manager._handle_emit = handle_emit  # type: ignore[method-assign]
        await server.emit("bot_uttered", {"text": "Hoi, ik ben een digitale assistent."}, room="een-gesprek")
        # the listener of this server: a pickle first, then a JSON emit from "another server"
        manager.initialize()  # starts the listening task
        deadline = time.monotonic() + 10
        while client.pubsub_numsub(channel)[0][1] < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        client.publish(channel, pickle.dumps({"method": "emit", "event": "x", "data": _Payload(),
                                              "namespace": "/", "room": None, "host_id": "evil"}))
        client.publish(channel, json.dumps({"method": "emit", "event": "x", "data": "y", "namespace": "/",
                                            "room": "niemand", "skip_sid": None, "callback": None,
                                            "host_id": "other-server"}))
        await asyncio.wait_for(handled.wait(), timeout=10)
        raw: List[bytes] = []
        deadline = time.monotonic() + 5
        while len(raw) < 3 and time.monotonic() < deadline:  # ours, the pickle, the other server's
            message = subscriber.get_message(timeout=0.2)
            if message is not None:
                raw.append(message["data"])
        await server.shutdown()
        return raw

    try:
        with ThreadPoolExecutor(1) as pool:
            raw = pool.submit(asyncio.run, scenario()).result(timeout=60)
    finally:
        subscriber.close()
    published = raw[0]
    assert not published.startswith(b"\x80"), "a pickle (protocol 2+ starts with 0x80)"
    data = json.loads(published.decode("utf-8"))
    assert data["method"] == "emit" and data["event"] == "bot_uttered" and data["room"] == "een-gesprek"
    assert data["data"] in ([{"text": "Hoi, ik ben een digitale assistent."}], {"text": "Hoi, ik ben een digitale assistent."})
    assert UNPICKLED == [], "the pickle on the channel was unpickled"


# ---------------------------------------------------------------- against the real Rasa server


def _user_texts(assistant: Any, sender: str) -> List[str]:
    events = requests.get(f"{assistant.url}/conversations/{sender}/tracker",
                          params={"token": assistant.token}, timeout=30).json().get("events") or []
    return [e.get("text") for e in events if e.get("event") == "user"]


def test_e2e_a_forged_foreign_or_other_channel_session_id_gets_a_fresh_empty_conversation(assistant: Any) -> None:
    pseudonym = Pseudonymizer(CHANNEL_ENV["SENDER_ID_SECRET"].encode()).pseudonym("+31612345678")
    assistant.say(pseudonym, "mijn zoon van 6 eet slecht")  # a conversation of another channel
    other_channel = _user_texts(assistant, pseudonym)
    assert other_channel == ["mijn zoon van 6 eet slecht"]

    async def scenario() -> Dict[str, Any]:
        found: Dict[str, Any] = {"fresh": []}
        parent = await Chat(assistant.url).open()
        assert parent.signed and parent.signed != parent.sender
        assert await parent.say("mijn dochter wil niet slapen")
        found["parent"] = parent.sender
        found["parent_signed"] = parent.signed
        seen_by_parent = len(parent.replies)

        signed = parent.signed
        forged_signature = signed[:-4] + ("AAAA" if not signed.endswith("AAAA") else "BBBB")
        presented = {
            "foreign": parent.sender,                                     # another socket's bare id
            "forged": forged_signature,                                   # a signature not ours
            "other secret": SessionSigner("some-other-secret-than-ours").sign(parent.sender),
            "whatsapp": pseudonym,                                        # another channel's id
        }
        for kind, value in presented.items():
            intruder = await Chat(assistant.url).open(value)
            empty_before = _user_texts(assistant, intruder.sender)
            # the message names the parent's conversation; it goes to the intruder's own
            replies = await intruder.say("anderhalf", session_id=value if kind != "foreign" else signed)
            found["fresh"].append((kind, intruder.signed, intruder.sender, empty_before, replies,
                                   _user_texts(assistant, intruder.sender), assistant.slots(intruder.sender)))
            await intruder.close()

        # a socket that skipped session_request cannot write into a conversation by naming it
        skipper = await Chat(assistant.url).open(request=False)
        found["skipper"] = await skipper.say(signed, session_id=signed, quiet=0, timeout=3)
        await skipper.close()
        found["parent_saw"] = parent.replies[seen_by_parent:]
        await parent.close()

        # the parent's page reloaded: the signed id continues the conversation
        reloaded = await Chat(assistant.url).open(signed)
        found["reloaded_signed"] = reloaded.signed
        assert await reloaded.say("anderhalf")
        await reloaded.close()
        return found

    found = in_own_loop(scenario())
    parent = found["parent"]
    for kind, signed, sender, empty_before, replies, texts, slots in found["fresh"]:
        assert signed != found["parent_signed"] and sender not in (parent, pseudonym), kind
        assert empty_before == [], kind                  # fresh and empty
        assert replies, kind                             # and it converses
        assert texts == ["anderhalf"], kind              # only its own message
        assert slots.get("topic") != "slapen", (kind, slots)   # nothing of the parent's conversation
    assert found["skipper"] == []
    assert found["parent_saw"] == [], "nothing of the other sockets' conversations reached the parent"
    assert found["reloaded_signed"] == found["parent_signed"]
    assert _user_texts(assistant, parent) == ["mijn dochter wil niet slapen", "anderhalf"]
    slots = assistant.slots(parent)
    assert slots["topic"] == "slapen" and slots["age_months"] == 18
    assert _user_texts(assistant, pseudonym) == other_channel, "the WhatsApp conversation is untouched"
