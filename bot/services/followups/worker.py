"""The follow-up worker: sends each due follow-up once into its conversation.

It claims due follow-ups (``FollowUpStore.claim_due``: row locks on PostgreSQL, a conditional
update on SQLite, so two workers never send the same one), and appends to the conversation, with
the Rasa HTTP API, the follow-up's slots and a bot message with the buttons Beter / Hetzelfde /
Slechter: ``POST /conversations/{id}/tracker/events?execute_side_effects=true&output_channel=latest``,
the path of a professional's reply (bot/services/console/rasa_client.py). Rasa sends it through the
parent's latest channel: on WhatsApp inside the 24-hour window as an interactive message, outside
it as the follow-up template (bot/rasa/channels/whatsapp.py, ``FOLLOWUP_KEY`` in the metadata); on the
web chat to the page when it is open, and in the stored conversation for when the parent comes
back; on REST into the conversation. The clock is injectable (``now``) for tests. Logs hold
counts only: never a conversation id, a topic or text.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional

from bot.domain import replies, wellbeing
from bot.services.cases.store import utcnow
from bot.services.console.rasa_client import RasaClient, RasaUnavailable

from .store import FollowUp, FollowUpStore

logger = logging.getLogger(__name__)

FOLLOWUP_KEY = "opvoedmaatje_followup"  # the bot event's metadata: WhatsApp's template parameters
FOLLOWUP_SLOT = "followup_id"

Clock = Callable[[], datetime]


def followup_events(followup: FollowUp) -> List[Dict[str, Any]]:
    """The events that put the follow-up into its conversation: its slots, then the question."""
    now = time.time()
    message = wellbeing.followup_message(followup.topic, followup.weeks)
    slots = {"topic": followup.topic, "phase": followup.phase, "severity": followup.severity,
             FOLLOWUP_SLOT: followup.id, "followup_pending": True}
    events: List[Dict[str, Any]] = [{"event": "slot", "name": name, "value": value, "timestamp": now}
                                    for name, value in slots.items() if value is not None]
    events.append({
        "event": "bot", "text": message.text, "timestamp": now,
        "data": {"buttons": [{"title": title, "payload": payload} for title, payload in message.buttons]},
        "metadata": {FOLLOWUP_KEY: {
            "parameters": wellbeing.followup_template_parameters(followup.topic, followup.weeks),
            "payloads": [payload for _, payload in message.buttons],
            "label": replies.label(followup.topic)}},
    })
    return events


class RasaDelivery:
    """Delivers a follow-up with the Rasa HTTP API (the console's client)."""

    def __init__(self, client: RasaClient) -> None:
        self.client = client

    def __call__(self, followup: FollowUp) -> None:
        self.client.append(followup.conversation_id, followup_events(followup))

    def ready(self) -> bool:
        """Whether the Rasa server answers (nothing is claimed while it does not)."""
        try:
            self.client._call("GET", f"{self.client.base_url.rstrip('/')}/status")
        except RasaUnavailable:
            return False
        return True


class Worker:
    def __init__(self, store: FollowUpStore, deliver: Callable[[FollowUp], None],
                 clock: Clock = utcnow, batch: int = 20) -> None:
        self.store = store
        self.deliver = deliver
        self.clock = clock
        self.batch = batch

    def run_once(self) -> int:
        """Send what is due now; the number sent."""
        if not self.store.ready():
            return 0
        ready = getattr(self.deliver, "ready", None)
        if ready is not None and not ready():
            logger.warning("follow-ups: the Rasa server does not answer; tried again next round")
            return 0
        sent = failed = 0
        while True:
            claimed = self.store.claim_due(self.clock(), limit=self.batch)
            if not claimed:
                break
            for followup in claimed:
                try:
                    self.deliver(followup)
                except (RasaUnavailable, OSError) as error:
                    logger.warning("follow-up not sent (%s); tried again later", type(error).__name__)
                    self.store.release(followup.id)
                    failed += 1
                    continue
                self.store.mark_sent(followup.id, self.clock())
                sent += 1
            if failed:  # the Rasa server stopped answering: the rest waits for the next round
                break
        if sent or failed:
            logger.info("follow-ups: %d sent, %d not sent", sent, failed)
        return sent

    def run(self, every: float, stop: Optional[Callable[[], bool]] = None) -> None:
        while not (stop and stop()):
            try:
                self.run_once()
            except Exception as error:  # noqa: BLE001 - the type only: a message may hold ids
                logger.error("follow-up round failed (%s)", type(error).__name__)
            time.sleep(max(1.0, every))
