"""Console commands.

  python -m bot.services.console create-admin --email X [--name N] [--team T]
  python -m bot.services.console create-user --email X [--name N] [--role professional|admin] [--team T]
  python -m bot.services.console reset-totp --email X     (a lost phone: the second factor goes)
  python -m bot.services.console serve [--port 8081]      (the console alone; normally the web app serves it)

The password is read twice with getpass, or from env CONSOLE_ADMIN_PASSWORD (for scripts).
``--team`` puts the user in that team (created when there is none of that name).
An admin sets up the second factor (TOTP) at the first login; nothing is asked here.
The case store is CASE_STORE_URL (default sqlite var/cases.db); it is migrated first.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import Optional

from bot import settings
from bot.services.cases import CaseStore, store_url

from .auth import hash_password, password_problem


def _password() -> Optional[str]:
    from_env = settings.current().CONSOLE_ADMIN_PASSWORD
    if from_env:
        return from_env
    first = getpass.getpass("Wachtwoord: ")
    if first != getpass.getpass("Nog een keer: "):
        print("De wachtwoorden zijn niet gelijk.", file=sys.stderr)
        return None
    return first


def _team_id(store: CaseStore, name: Optional[str]) -> Optional[int]:
    name = " ".join((name or "").split())
    if not name:
        return None
    team = store.team_by_name(name)
    if team is None:
        team = store.add_team(name, actor="cli")
        print(f"Team {team.name} aangemaakt.")
    return team.id


def _create(email: str, name: Optional[str], role: str, team: Optional[str] = None) -> int:
    password = _password()
    if password is None:
        return 1
    problem = password_problem(password)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    store = CaseStore.from_url(store_url(), migrate=True)
    if store.user_by_email(email) is not None:
        print(f"a user with e-mail {email.strip().lower()} exists already", file=sys.stderr)
        return 1
    try:
        user = store.add_user(email, name or email.split("@")[0], hash_password(password), role,
                              actor="cli", team_id=_team_id(store, team))
    except ValueError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"{'Beheerder' if role == 'admin' else 'Medewerker'} {user.email} aangemaakt.")
    if role == "admin":
        print("Bij de eerste keer inloggen stel je tweestapsverificatie in (een app voor inlogcodes).")
    return 0


def _reset_totp(email: str) -> int:
    store = CaseStore.from_url(store_url(), migrate=True)
    user = store.user_by_email(email)
    if user is None:
        print(f"no user with e-mail {email}", file=sys.stderr)
        return 1
    if user.has_totp:
        store.disable_totp(user.id, "cli")
    print(f"Tweestapsverificatie van {user.email} staat uit."
          + (" Bij de volgende keer inloggen stel je die opnieuw in." if user.is_admin else ""))
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.services.console")
    sub = parser.add_subparsers(dest="command", required=True)
    admin = sub.add_parser("create-admin", help="create an admin of the console")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", help="name shown to parents (default: the part before @)")
    admin.add_argument("--team", help="the team (by name) of the admin; created when missing")
    user = sub.add_parser("create-user", help="create a console user")
    user.add_argument("--email", required=True)
    user.add_argument("--name")
    user.add_argument("--role", choices=("professional", "admin"), default="professional")
    user.add_argument("--team", help="the team (by name) of the user; created when missing")
    reset = sub.add_parser("reset-totp", help="remove a user's second factor (a lost phone)")
    reset.add_argument("--email", required=True)
    serve = sub.add_parser("serve", help="serve the console alone (development)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    if args.command == "create-admin":
        return _create(args.email, args.name, "admin", args.team)
    if args.command == "create-user":
        return _create(args.email, args.name, args.role, args.team)
    if args.command == "reset-totp":
        return _reset_totp(args.email)
    from .app import create_app

    create_app().run(host=args.host, port=args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
