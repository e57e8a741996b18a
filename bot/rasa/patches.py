"""Every patch of a Rasa internal, in one place (issue 16, item 4).

Each patch is a small function that replaces one method of a Rasa class. All of them share one
guard (``_begin``): a patch refuses to install on a Rasa version other than the one it was written
for (``WRITTEN_FOR``), with a RuntimeError naming the patch and the method to check, and
installing a patch a second time does nothing. ``install_all`` installs them all; the Rasa server
calls it at start-up (bot/rasa/channels/__init__.py). Tests: tests/unit/test_rasa_patches.py.

- ``cached_action_validation``, ``RemoteAction._validate_action_result``: Rasa 3.6 checks every
  action server response with ``jsonschema.validate(result, schema)``, which validates the (large)
  events schema against its meta-schema and builds a new validator with a new ref resolver on
  every call. On the Rasa server that was about 20% of all CPU time under load
  (reports/bench-*.md, ``make bench``). The replacement builds the validator once and validates
  every response the same way, with the same error on bad input.
- ``action_fallback``, ``RemoteAction.run``: Rasa 3.6 logs a failed custom action and sends
  nothing. The wrapper returns one kind message (with the crisis lines) instead, which the
  processor sends like any other bot message. Crisis replies never need it: they are static rules.
- ``crisis_while_paused``, ``MessageProcessor._should_handle_message`` (CONTRACT.md 4b): a
  professional takes over by pausing the assistant (bot/services/console/rasa_client.py), and Rasa then
  runs no action at all, not even a static crisis reply. The wider check still answers a message
  whose intent is a crisis (or the safety question about one) with the static crisis rules, which
  also alert the professional (``action_alert_professional``); "wis mijn gegevens" is answered
  too: the parent may always have the conversation erased. Every other message stays with the
  professional.

Rasa is imported inside the functions: the action server and most unit tests do not need it.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from bot.domain.safety import CRISIS_PREFIX, SAFETY_CHECK

logger = logging.getLogger(__name__)

WRITTEN_FOR = "3.6.21"  # every patch below was written for, and checked against, this version
_INSTALLED: Set[str] = set()  # the names of the patches installed in this process
_ORIGINALS: Dict[str, Tuple[type, str, Any]] = {}  # patch -> (class, method, Rasa's own), for tests

# the safety question about a crisis, and the parent's right to have the conversation erased
ANSWERED_WHILE_PAUSED = (SAFETY_CHECK, "delete_data")


def _begin(patch: str, method: str) -> bool:
    """The shared guard: False when ``patch`` is installed already; raises on another Rasa."""
    if patch in _INSTALLED:
        return False
    import rasa

    if rasa.__version__ != WRITTEN_FOR:
        raise RuntimeError(f"Rasa patch {patch!r} (bot/rasa/patches.py) was written for Rasa {WRITTEN_FOR}, "
                           f"not {rasa.__version__}: check {method} and update the patch and WRITTEN_FOR")
    return True


def _replace(patch: str, cls: type, method: str, new: Any) -> None:
    """Put ``new`` in place of ``cls.method`` and count ``patch`` as installed."""
    _ORIGINALS.setdefault(patch, (cls, method, cls.__dict__[method]))
    setattr(cls, method, new)
    _INSTALLED.add(patch)


# ------------------------------------------------------------ RemoteAction._validate_action_result
@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would do on every call
    return cls(schema)


def validate_action_result(result: Dict[str, Any]) -> bool:
    """What ``RemoteAction._validate_action_result`` does, with a validator built once."""
    from jsonschema.exceptions import best_match
    from rasa.shared.constants import DOCS_BASE_URL

    error = best_match(_action_response_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from "
            f"the Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install_cached_action_validation() -> None:
    if not _begin("cached_action_validation", "RemoteAction._validate_action_result"):
        return
    from rasa.core.actions.action import RemoteAction

    def _validate(self: RemoteAction, result: Dict[str, Any]) -> bool:
        return validate_action_result(result)

    _replace("cached_action_validation", RemoteAction, "_validate_action_result", _validate)


# ------------------------------------------------------------ RemoteAction.run
def fallback_text(language: Optional[str] = None) -> str:
    """The kind reply sent when a custom action fails (the action server is down, slow or broken),
    in the parent's language."""
    from bot.domain.dialogue import say

    return say("action_server_down", language)


def install_action_fallback() -> None:
    if not _begin("action_fallback", "RemoteAction.run"):
        return
    from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
    from rasa.shared.core.events import BotUttered

    original = RemoteAction.run

    async def run_with_fallback(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Any]:
        try:
            return await original(self, output_channel, nlg, tracker, domain)
        except ActionExecutionRejection:
            raise
        except Exception as error:  # the action server is down, slow or broken
            logger.error("custom action %s failed (%s); a kind fallback reply is sent",
                         self.name(), type(error).__name__)
            language = tracker.get_slot("language") if hasattr(tracker, "get_slot") else None
            return [BotUttered(fallback_text(language), metadata={"opvoedmaatje_fallback": True})]

    _replace("action_fallback", RemoteAction, "run", run_with_fallback)


# ------------------------------------------------------------ MessageProcessor._should_handle_message
def answered_while_paused(intent: Any) -> bool:
    """Whether a message with this intent is answered while a professional holds the conversation."""
    return isinstance(intent, str) and (intent.startswith(CRISIS_PREFIX) or intent in ANSWERED_WHILE_PAUSED)


def install_crisis_while_paused() -> None:
    if not _begin("crisis_while_paused", "MessageProcessor._should_handle_message"):
        return
    from rasa.core.processor import MessageProcessor
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    original = MessageProcessor._should_handle_message

    def should_handle_message(tracker: Any) -> bool:
        if original(tracker):
            return True
        latest = tracker.latest_message
        return latest is not None and answered_while_paused((latest.intent or {}).get(INTENT_NAME_KEY))

    _replace("crisis_while_paused", MessageProcessor, "_should_handle_message", staticmethod(should_handle_message))


# ------------------------------------------------------------ all of them
PATCHES: Dict[str, Callable[[], None]] = {
    "action_fallback": install_action_fallback,
    "cached_action_validation": install_cached_action_validation,
    "crisis_while_paused": install_crisis_while_paused,
}


def install_all() -> None:
    """Install every patch (in the order bot/rasa/channels/__init__.py always did). Raises RuntimeError
    on a Rasa version the patches were not written for; a second call does nothing."""
    for install in PATCHES.values():
        install()
