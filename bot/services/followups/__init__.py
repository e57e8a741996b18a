"""Opt-in follow-ups (issue 19): stored in the case store, sent by their own worker.

``store``: the table ``followups`` (schedule, claim, cancel, erase, purge); ``worker``: the process
``python -m bot.services.followups`` that sends due follow-ups into their conversation through the Rasa
HTTP API, as the console delivers a professional's reply (bot/services/console/rasa_client.py).
"""
from .store import FollowUp, FollowUpStore

__all__ = ["FollowUp", "FollowUpStore"]
