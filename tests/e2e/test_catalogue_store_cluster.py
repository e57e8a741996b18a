"""Publish without a restart on the production set-up (issue 20; tests/support/cluster.py: two Rasa
servers, one action server, PostgreSQL and Redis): a version published in the catalogue
database reaches both servers' answers within a minute, and a parent in the middle of a
conversation goes on with their slots intact and gets the new offer in the next answer."""
from __future__ import annotations

import time
import uuid
from typing import Iterator, List

import pytest
import requests

from bot.services.cases import CaseStore
from bot.services.offers.store import CatalogueStore
from tests.support.cluster import Cluster, cluster_fixture, why_not_runnable

pytestmark = pytest.mark.scale
WITHIN = 60.0
NAME = "Driftbuiengroep Akkers, twee servers (voorbeeld)"
OFFER = {
    "id": "vs-driftbuien-cluster", "name": NAME, "level": "A", "topics": ["driftbuien"], "phases": ["2-4"],
    "scope": "neighbourhood", "neighbourhoods": ["De Akkers"],
    "contact": {"address": "Buurthuis De Akker, Akkerweg 3, Voorbeeldstad", "phone": "0123-456 786"},
    "hours": {"wo": "09:30-11:30"}, "languages": ["nl"], "cost": "free", "format": "group",
    "description": "Praat met andere ouders over driftbuien. Een opvoedcoach denkt mee. (Voorbeeld)",
    "source": "Voorbeeldgegevens, verzonnen", "last_checked": "2026-11-30",
}


@pytest.fixture(scope="session")
def cluster(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    reason = why_not_runnable()
    if reason:
        pytest.skip(reason)
    yield from cluster_fixture(request, tmp_path_factory)


def say(cluster: Cluster, server: int, sender: str, text: str) -> List[dict]:
    answer = requests.post(f"{cluster.url(server)}/webhooks/rest/webhook",
                           json={"sender": sender, "message": text}, timeout=90)
    answer.raise_for_status()
    return answer.json()


def names(replies: List[dict]) -> List[str]:
    return [r["text"].split("\n")[0] for r in replies if r.get("text") and "\n" in r["text"]]


def support(cluster: Cluster, server: int) -> List[str]:
    sender = f"catalogue-{uuid.uuid4().hex[:10]}"
    say(cluster, server, sender, "mijn dochter van 3 heeft veel driftbuien")
    return names(say(cluster, server, sender, "hulp in de buurt in De Akkers"))


def test_a_published_version_reaches_both_servers_without_a_restart(cluster: Cluster) -> None:
    cases = CaseStore.from_url(cluster.env["CASE_STORE_URL"])
    store = CatalogueStore(cases)
    start = store.newest()
    try:
        for server in (0, 1):
            assert NAME not in support(cluster, server)
        # a parent is in the middle of a conversation on server 0 when the editor publishes
        ongoing = f"catalogue-{uuid.uuid4().hex[:10]}"
        say(cluster, 0, ongoing, "mijn dochter van 3 heeft veel driftbuien")
        store.save_offer(OFFER, "redactie@voorbeeldstad.example")
        store.publish("redactie@voorbeeldstad.example")
        deadline = time.monotonic() + WITHIN
        seen = {0: False, 1: False}
        while not all(seen.values()):
            for server in (0, 1):
                seen[server] = seen[server] or NAME in support(cluster, server)
            if not all(seen.values()):
                assert time.monotonic() < deadline, f"not within {WITHIN:.0f} s on every server: {seen}"
                time.sleep(3)
        # the ongoing conversation goes on on the other server: its slots are intact, the
        # next answer names the new offer
        replies = say(cluster, 1, ongoing, "hulp in de buurt in De Akkers")
        assert NAME in names(replies)
        tracker = requests.get(f"{cluster.url(1)}/conversations/{ongoing}/tracker",
                               params={"token": cluster.token}, timeout=30).json()
        assert tracker["slots"]["topic"] == "driftbuien" and tracker["slots"]["age_months"] == 36
    finally:
        if store.newest() != start:
            store.rollback(start, "test")
        cases.engine.dispose()
