"""``python -m bot.services.followups``: the follow-up worker (``make run`` starts it; deploy/ runs it).

Settings: ``CASE_STORE_URL`` (where the follow-ups are), ``RASA_API_URL`` (else ``RASA_URL``, else
http://127.0.0.1:RASA_PORT) and ``RASA_AUTH_TOKEN`` (the Rasa HTTP API), ``FOLLOWUP_INTERVAL``
(seconds between rounds, default 60). ``--once`` does one round; ``--now ISO`` counts from that
moment instead of the clock (tests, a catch-up).
"""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from typing import List, Optional

from bot import settings
from bot.services.cases import CaseStore, store_url
from bot.services.console.rasa_client import RasaClient

from .store import FollowUpStore
from .worker import RasaDelivery, Worker

logger = logging.getLogger("bot.services.followups")


def _parse_now(value: str) -> datetime:
    when = datetime.fromisoformat(value)
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when


def rasa_client(environ: settings.Environ = None) -> RasaClient:
    values = settings.current(environ)
    base = values.RASA_API_URL or values.RASA_URL or f"http://127.0.0.1:{values.RASA_PORT}"
    return RasaClient(base, settings.auth_token(values)[0])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.services.followups",
                                     description="Send the due follow-ups (counts only in the log).")
    parser.add_argument("--once", action="store_true", help="one round, then stop")
    parser.add_argument("--now", type=_parse_now, help="ISO date-time to count from (default: the clock)")
    parser.add_argument("--every", type=float, metavar="SECONDS",
                        help="seconds between rounds (default: FOLLOWUP_INTERVAL, else 60)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    every = args.every if args.every is not None else float(settings.defaults()["FOLLOWUP_INTERVAL"])
    # never migrates: the web and action servers do (a fresh case store: nothing is due yet)
    store = FollowUpStore.of(CaseStore.from_url(store_url(), migrate=False))
    clock = (lambda: args.now) if args.now else None
    worker = Worker(store, RasaDelivery(rasa_client()), **({"clock": clock} if clock else {}))
    if args.once:
        try:
            worker.run_once()
        except Exception as error:  # noqa: BLE001 - the type only
            logger.error("follow-up round failed (%s)", type(error).__name__)
            return 1
        return 0
    worker.run(every)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
