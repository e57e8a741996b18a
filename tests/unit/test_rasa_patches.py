"""The patches of Rasa internals (bot/rasa/patches.py, issue 16 item 4), each installed against the
real Rasa class: what it changes, that a second install does nothing, and that it refuses to
install on a Rasa version it was not written for."""
from __future__ import annotations

import asyncio
import importlib
import socket
from typing import Any, Iterator, List

import pytest

pytest.importorskip("rasa.core.actions.action")

import rasa  # noqa: E402
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction  # noqa: E402
from rasa.core.processor import MessageProcessor  # noqa: E402
from rasa.shared.core.domain import Domain  # noqa: E402
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationPaused, UserUttered  # noqa: E402
from rasa.shared.core.trackers import DialogueStateTracker  # noqa: E402
from rasa.utils.endpoints import EndpointConfig  # noqa: E402

from bot.rasa import patches  # noqa: E402

# (patch, class, method) of every patch
PATCHED = [
    ("action_fallback", RemoteAction, "run"),
    ("cached_action_validation", RemoteAction, "_validate_action_result"),
    ("crisis_while_paused", MessageProcessor, "_should_handle_message"),
]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Rasa's own methods (also when bot.rasa.channels installed the patches before), no patch counted
    as installed, and every method as it was again after the test."""
    monkeypatch.setattr(patches, "_INSTALLED", set())
    monkeypatch.setattr(patches, "_ORIGINALS", dict(patches._ORIGINALS))  # what a test records is dropped
    for name, cls, method in PATCHED:
        monkeypatch.setattr(cls, method, cls.__dict__[method])  # restored on teardown (staticmethod too)
        if name in patches._ORIGINALS:
            assert patches._ORIGINALS[name][:2] == (cls, method)
            setattr(cls, method, patches._ORIGINALS[name][2])
    yield


def test_every_patch_is_listed_and_guarded() -> None:
    assert sorted(patches.PATCHES) == sorted(name for name, _, _ in PATCHED)
    assert patches.WRITTEN_FOR == rasa.__version__ == "3.6.21"


def test_importing_the_channels_installs_every_patch() -> None:
    """The start-up of the Rasa server: Rasa imports the channels of credentials.yml."""
    importlib.import_module("bot.rasa.channels")
    assert set(patches.PATCHES) <= patches._INSTALLED
    assert "install_cached_action_validation" in RemoteAction.__dict__["_validate_action_result"].__qualname__
    assert "install_action_fallback" in RemoteAction.__dict__["run"].__qualname__
    assert "install_crisis_while_paused" in MessageProcessor.__dict__["_should_handle_message"].__func__.__qualname__


# ---------------------------------------------------------------- RemoteAction._validate_action_result
def test_cached_action_validation_replaces_the_validation(fresh: None) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    patches.install_cached_action_validation()
    assert "install_cached_action_validation" in RemoteAction.__dict__["_validate_action_result"].__qualname__
    remote = RemoteAction("action_respond", None)
    assert remote._validate_action_result({"events": [], "responses": [{"text": "hoi"}]}) is True
    with pytest.raises(jsonschema.ValidationError) as error:
        remote._validate_action_result({"events": [], "responses": "not a list"})
    assert "Failed to validate Action server response" in error.value.message
    assert patches._action_response_validator.cache_info().currsize == 1  # built once


# ---------------------------------------------------------------- RemoteAction.run
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(action: RemoteAction) -> List[Any]:
    tracker = DialogueStateTracker.from_events("ouder", [ActionExecuted("action_listen"), UserUttered("hoi")])
    return asyncio.run(action.run(None, None, tracker, Domain.empty()))  # type: ignore[arg-type]


def test_action_fallback_gives_the_kind_reply_when_the_action_server_refuses(fresh: None) -> None:
    endpoint = EndpointConfig(url=f"http://127.0.0.1:{_closed_port()}/webhook")
    action = RemoteAction("action_respond", endpoint)
    with pytest.raises(Exception):  # Rasa alone: an error, and nothing is sent
        _run(action)
    patches.install_action_fallback()
    events = _run(action)
    assert len(events) == 1 and isinstance(events[0], BotUttered)
    assert events[0].text == patches.fallback_text() and events[0].metadata == {"opvoedmaatje_fallback": True}


def test_action_fallback_lets_a_rejection_through(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    async def rejecting(self: RemoteAction, *args: Any) -> List[Any]:
        raise ActionExecutionRejection(self.name())

    monkeypatch.setattr(RemoteAction, "run", rejecting)
    patches.install_action_fallback()
    with pytest.raises(ActionExecutionRejection):  # Rasa then predicts another action
        _run(RemoteAction("action_respond", None))


# ---------------------------------------------------------------- MessageProcessor._should_handle_message
def _tracker(intent: str, paused: bool) -> DialogueStateTracker:
    events = [ActionExecuted("action_listen")] + ([ConversationPaused()] if paused else [])
    events.append(UserUttered("...", intent={"name": intent, "confidence": 1.0}))
    return DialogueStateTracker.from_events("ouder", events)


def test_crisis_while_paused_lets_only_crisis_and_erasure_through(fresh: None) -> None:
    crisis, other = "crisis_suicidaal_kind", "topic_slapen"
    assert not MessageProcessor._should_handle_message(_tracker(crisis, paused=True))  # Rasa alone
    patches.install_crisis_while_paused()
    handled = MessageProcessor._should_handle_message
    for intent in (crisis, "safety_check", "delete_data", "restart"):
        assert handled(_tracker(intent, paused=True)), intent
    for intent in (other, "greet", "safety_no", "affirm"):
        assert not handled(_tracker(intent, paused=True)), intent
        assert handled(_tracker(intent, paused=False)), intent
    # still a staticmethod: the processor calls it on an instance
    assert isinstance(MessageProcessor.__dict__["_should_handle_message"], staticmethod)


def test_answered_while_paused() -> None:
    assert patches.answered_while_paused("crisis_mishandeling")
    assert patches.answered_while_paused("safety_check") and patches.answered_while_paused("delete_data")
    assert not patches.answered_while_paused("greet") and not patches.answered_while_paused(None)


# ---------------------------------------------------------------- the shared guard
def test_installing_twice_is_a_no_op(fresh: None) -> None:
    patches.install_all()
    first = {(cls, method): cls.__dict__[method] for _, cls, method in PATCHED}
    patches.install_all()
    for name, cls, method in PATCHED:
        assert cls.__dict__[method] is first[(cls, method)], name
        getattr(patches, f"install_{name}")()
        assert cls.__dict__[method] is first[(cls, method)], name
    assert patches._INSTALLED == set(patches.PATCHES)


@pytest.mark.parametrize("name,cls,method", PATCHED)
def test_another_rasa_version_is_refused(fresh: None, monkeypatch: pytest.MonkeyPatch,
                                         name: str, cls: type, method: str) -> None:
    before = cls.__dict__[method]
    monkeypatch.setattr(rasa, "__version__", "3.7.0")
    with pytest.raises(RuntimeError) as error:
        patches.PATCHES[name]()
    message = str(error.value)
    assert name in message and f"{cls.__name__}.{method}" in message
    assert "3.6.21" in message and "3.7.0" in message
    assert cls.__dict__[method] is before and name not in patches._INSTALLED
    with pytest.raises(RuntimeError):
        patches.install_all()
