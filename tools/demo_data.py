"""``make demo-data``: a realistic month of insight for Voorbeeldstad, made by the real assistant.

Scripted parents (demo_conversations.yml) talk to a real Rasa server and action server (started
here on free ports, with throw-away tracker and case stores). After each conversation its events
are read back from the Rasa API and turned into statistics records by the same code as the broker
(``AnonymousStatsBroker.records``), dated on a day of the month being filled, and counted by the
same sink as the consumer. No row is written by hand. The counts of those four weeks are replaced.

    python -m tools.demo_data [--conversations 240] [--seed 18]
"""
from __future__ import annotations

import argparse
import random
import socket
import sys
import tempfile
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time as clock, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

import requests
import sqlalchemy as sa
import yaml

from bot.rasa.stats_broker import AnonymousStatsBroker

from bot.services.insight.report import default_filters
from bot.services.insight.sink import InsightSink

SCRIPT = Path(__file__).with_name("demo_conversations.yml")
DEFAULT_CONVERSATIONS = 240


@dataclass
class Assistant:
    url: str
    token: str
    rest_token: str = ""  # REST_TOKEN, when the REST channel asks for it

    def say(self, sender: str, text: str) -> List[Dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.rest_token}"} if self.rest_token else {}
        answer = requests.post(f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text},
                               headers=headers, timeout=120)
        answer.raise_for_status()
        return answer.json()

    def events(self, sender: str) -> List[Dict[str, Any]]:
        answer = requests.get(f"{self.url}/conversations/{sender}/tracker", params={"token": self.token}, timeout=60)
        answer.raise_for_status()
        return answer.json()["events"]


def script() -> Mapping[str, Any]:
    return yaml.safe_load(SCRIPT.read_text(encoding="utf-8"))


def _payloads(replies: Sequence[Mapping[str, Any]]) -> List[str]:
    return [b.get("payload", "") for r in replies for b in (r.get("buttons") or [])]


def converse(assistant: Assistant, sender: str, rnd: random.Random, plan: Mapping[str, Any]) -> None:
    """One scripted parent: a concern (or a crisis), then perhaps help nearby or a person."""
    for crisis in plan["crises"]:
        if rnd.random() < float(crisis["share"]):
            assistant.say(sender, crisis["text"])
            return
    hood = rnd.choice(sorted(plan["place_texts"]))
    concerns = plan["concerns"]
    concern = rnd.choices(concerns, weights=[float(c["weight"].get(hood, 1)) for c in concerns])[0]
    replies = assistant.say(sender, concern["text"])
    if rnd.random() < float(plan["support_nearby"]) and "/support_nearby" in _payloads(replies):
        nearby = assistant.say(sender, "/support_nearby")
        if any(p in plan["place_texts"] for p in _payloads(nearby)) or "wijk" in " ".join(
                r.get("text") or "" for r in nearby).lower():
            assistant.say(sender, plan["place_texts"][hood])
    if rnd.random() < float(plan["handoff"]):
        for text in plan["handoff_texts"]:
            assistant.say(sender, text)


def replay(broker: AnonymousStatsBroker, sender: str, events: Sequence[Dict[str, Any]],
           moment: datetime) -> List[Dict[str, Any]]:
    """The statistics records of a conversation's events, as if it took place at `moment`."""
    stamps = [float(e["timestamp"]) for e in events if isinstance(e.get("timestamp"), (int, float))]
    first = min(stamps) if stamps else 0.0
    records: List[Dict[str, Any]] = []
    for event in events:
        shifted = dict(event, sender_id=sender)
        if isinstance(event.get("timestamp"), (int, float)):
            shifted["timestamp"] = moment.timestamp() + float(event["timestamp"]) - first
        records.extend(broker.records(shifted))
    return records


def _moment(rnd: random.Random, start: date, days: int) -> datetime:
    while True:
        day = start + timedelta(days=rnd.randrange(days))
        if day.weekday() < 5 or rnd.random() < 0.6:  # a little quieter at the weekend
            break
    hour = rnd.choice([7, 8, 9, 10, 12, 13, 14, 15, 19, 20, 20, 21, 21, 22])
    return datetime.combine(day, clock(hour, rnd.randrange(60)), tzinfo=timezone.utc)


def generate(assistant: Assistant, sink: InsightSink, start: date, days: int, conversations: int,
             seed: int = 18, progress: bool = False) -> int:
    """Run `conversations` scripted parents and count their records on days from `start`."""
    from bot.services.cases.schema import insight_daily

    rnd = random.Random(seed)
    plan = script()
    broker = AnonymousStatsBroker("demo://", hash_key=uuid.uuid4().hex)
    with sink.engine.begin() as connection:
        connection.execute(insight_daily.delete().where(
            sa.and_(insight_daily.c.day >= start, insight_daily.c.day < start + timedelta(days=days))))
    counted = 0
    for number in range(conversations):
        sender = f"demo-{uuid.uuid4().hex[:12]}"
        converse(assistant, sender, rnd, plan)
        counted += sum(sink.apply_many(replay(broker, sender, assistant.events(sender), _moment(rnd, start, days))))
        if progress and (number + 1) % 20 == 0:
            print(f"  {number + 1} of {conversations} conversations", flush=True)
    return counted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: Optional[List[str]] = None) -> int:
    from bot import serve, settings
    from bot.services.cases import store_url

    parser = argparse.ArgumentParser(description="Fill a month of insight through the real assistant.")
    parser.add_argument("--conversations", type=int, default=DEFAULT_CONVERSATIONS)
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--model", type=Path, default=settings.PROJECT_ROOT / "models" / "opvoedmaatje.tar.gz")
    args = parser.parse_args(argv)
    if not args.model.is_file():
        print(f"No trained model at {args.model}: run `make train` first.", file=sys.stderr)
        return 2
    target = store_url()
    period = default_filters(datetime.now(timezone.utc).date())
    with tempfile.TemporaryDirectory(prefix="opvoed-demo-") as tmp:
        action_port = str(_free_port())
        token = uuid.uuid4().hex
        env = serve.runtime_env({
            "RASA_PORT": str(_free_port()), "ACTION_PORT": action_port,
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{action_port}/webhook",
            "TRACKER_STORE_URL": f"sqlite:///{tmp}/trackers.db", "CASE_STORE_URL": f"sqlite:///{tmp}/cases.db",
            "LOCK_STORE_TYPE": "in_memory", "RASA_AUTH_TOKEN": token,
            "EVENT_BROKER_URL": "", "INSIGHT_IN_PROCESS": "0", "RATE_LIMIT_PER_MINUTE": "1000",
        })
        serve.prepare(env)
        services = [s for s in serve.services(args.model, env, token) if s.name in ("rasa", "actions")]
        supervisor = serve.Supervisor(services, env, log_dir=Path(tmp) / "logs")
        print("Starting the assistant for the demo (about a minute)...", flush=True)
        supervisor.start()
        try:
            supervisor.wait_ready(timeout=400)
            print(f"Talking: {args.conversations} scripted parents, "
                  f"{period.start.isoformat()} to {period.last_day.isoformat()}", flush=True)
            assistant = Assistant(f"http://127.0.0.1:{env['RASA_PORT']}", token, env.get("REST_TOKEN", ""))
            counted = generate(assistant, InsightSink.from_url(target),
                               period.start, 7 * period.weeks, args.conversations, args.seed, progress=True)
        finally:
            supervisor.stop()
    print(f"Done: {counted} statistics records counted. See /console/inzicht (role beleid or admin).")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
