"""``python -m bot.services.cases purge`` deletes expired cases; ``... upgrade`` migrates the schema."""
from __future__ import annotations

import argparse
import logging
import sys
from datetime import datetime, timezone
from typing import Optional

from .store import CaseStore, retention_days, store_url


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.services.cases", description="Case store maintenance.")
    sub = parser.add_subparsers(dest="command", required=True)
    purge = sub.add_parser("purge", help="delete cases older than the retention period")
    purge.add_argument("--days", type=int, help="retention in days (default: CASE_RETENTION_DAYS, "
                       "else the catalogue's retention_days, else 90)")
    purge.add_argument("--now", help="ISO date-time to count from (default: now)")
    sub.add_parser("upgrade", help="migrate the schema to the newest version (alembic upgrade head)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    store = CaseStore.from_url(store_url(), migrate=True)
    if args.command == "upgrade":
        print(f"case store at revision {store.current_revision()}")
        return 0
    now = None
    if args.now:
        now = datetime.fromisoformat(args.now)
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
    days = args.days if args.days is not None else retention_days()
    if days <= 0:
        print("--days must be positive", file=sys.stderr)
        return 2
    count = store.purge_expired(now=now, days=days)
    print(f"deleted {count} case(s) older than {days} days")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
