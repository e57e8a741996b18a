"""The trained model for an evaluation: loaded once, without a log line per parsed message (the
evaluations parse held-out and blind messages, whose texts must not end up in logs)."""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Tuple


def load(model: Path) -> Tuple[Any, asyncio.AbstractEventLoop]:
    """(the Rasa agent of ``model``, an event loop to run its coroutines on)."""
    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.WARNING)
    return Agent.load(str(model)), asyncio.new_event_loop()
