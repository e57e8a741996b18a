"""Console commands.

  python -m bot.console create-admin --email X [--name N]
  python -m bot.console create-user --email X [--name N] [--role professional|admin]
  python -m bot.console serve [--port 8081]      (the console alone; normally the web app serves it)

The password is read twice with getpass, or from env CONSOLE_ADMIN_PASSWORD (for scripts).
The case store is CASE_STORE_URL (default sqlite var/cases.db); it is migrated first.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Optional

from bot.cases import CaseStore, store_url

from .auth import hash_password, password_problem


def _password() -> Optional[str]:
    from_env = os.environ.get("CONSOLE_ADMIN_PASSWORD")
    if from_env:
        return from_env
    first = getpass.getpass("Wachtwoord: ")
    if first != getpass.getpass("Nog een keer: "):
        print("De wachtwoorden zijn niet gelijk.", file=sys.stderr)
        return None
    return first


def _create(email: str, name: Optional[str], role: str) -> int:
    password = _password()
    if password is None:
        return 1
    problem = password_problem(password)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    store = CaseStore.from_url(store_url(), migrate=True)
    try:
        user = store.add_user(email, name or email.split("@")[0], hash_password(password), role,
                              actor="cli")
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"{'Beheerder' if role == 'admin' else 'Medewerker'} {user.email} aangemaakt.")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.console")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser("create-admin", help="create an admin of the console")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", help="name shown to parents (default: the part before @)")
    user = sub.add_parser("create-user", help="create a console user")
    user.add_argument("--email", required=True)
    user.add_argument("--name")
    user.add_argument("--role", choices=("professional", "admin"), default="professional")
    serve = sub.add_parser("serve", help="serve the console alone (development)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    if args.command == "create-admin":
        return _create(args.email, args.name, "admin")
    if args.command == "create-user":
        return _create(args.email, args.name, args.role)
    from .app import create_app

    create_app().run(host=args.host, port=args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
