"""Crisis detection keeps running while a professional holds the conversation (CONTRACT.md 4b).

A professional takes over by pausing the assistant (``bot/console/rasa_client.py``). Rasa 3.6's
``MessageProcessor._should_handle_message`` then runs no action at all, not even a static crisis
reply. ``install_crisis_while_paused`` widens it: a message whose intent is a crisis (or the
safety question about one) is still answered by the static crisis rules, which also alert the
professional (``action_alert_professional``). "wis mijn gegevens" is answered too: the parent may
always have the conversation erased. Every other message stays with the professional.
It is installed when the Rasa server imports the project's channels (bot/channels/__init__.py),
and only on the Rasa version it was written for.
"""
from __future__ import annotations

from typing import Any

from bot.safety import CRISIS_PREFIX, SAFETY_CHECK

WRITTEN_FOR = "3.6.21"
# the safety question about a crisis, and the parent's right to have the conversation erased
ANSWERED_WHILE_PAUSED = (SAFETY_CHECK, "delete_data")
_INSTALLED = False


def answered_while_paused(intent: Any) -> bool:
    return isinstance(intent, str) and (intent.startswith(CRISIS_PREFIX) or intent in ANSWERED_WHILE_PAUSED)


def install_crisis_while_paused() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    import rasa
    from rasa.core.processor import MessageProcessor
    from rasa.shared.nlu.constants import INTENT_NAME_KEY

    if rasa.__version__ != WRITTEN_FOR:
        raise RuntimeError(f"bot/crisis_while_paused.py was written for Rasa {WRITTEN_FOR}, "
                           f"not {rasa.__version__}: check MessageProcessor._should_handle_message")
    original = MessageProcessor._should_handle_message

    def should_handle_message(tracker: Any) -> bool:
        if original(tracker):
            return True
        latest = tracker.latest_message
        return latest is not None and answered_while_paused((latest.intent or {}).get(INTENT_NAME_KEY))

    MessageProcessor._should_handle_message = staticmethod(should_handle_message)
    _INSTALLED = True
