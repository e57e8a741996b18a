"""A kind reply when the action server cannot be reached, instead of silence.

Rasa 3.6 logs a failed custom action and sends nothing. ``install_action_fallback`` wraps
``RemoteAction.run`` so that a failure returns one kind message (with the crisis lines) that the
processor sends like any other bot message. Crisis replies never need this: they are static rules.
It is installed when the Rasa server imports the project's channels (bot/channels/__init__.py).
"""
from __future__ import annotations

import logging
from typing import Any, List

logger = logging.getLogger(__name__)
_INSTALLED = False


def fallback_text() -> str:
    from bot.dialogue import say

    return say("action_server_down")


def install_action_fallback() -> None:
    global _INSTALLED
    if _INSTALLED:
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
            return [BotUttered(fallback_text(), metadata={"opvoedmaatje_fallback": True})]

    RemoteAction.run = run_with_fallback
    _INSTALLED = True
