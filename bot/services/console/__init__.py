"""The professionals' console: a Flask blueprint ``blueprint`` under ``/console``.

Registering the blueprint on any Flask app is enough: on registration it sets up what it needs
on that app (secret key, Flask-Login, Flask-WTF CSRF, session lifetime) unless the app did
already. Every page needs a login (a browser's GET without one is redirected to the login page,
any other request gets 401); every POST needs a valid CSRF token (400 otherwise).

Configuration (``app.config`` first, then the environment):
  CASE_STORE_URL          the case store (default sqlite var/cases.db); or CASE_STORE (object)
  RASA_API_URL            the Rasa HTTP API as this server reaches it (server-side calls with the
                          token); else RASA_URL; else http://127.0.0.1:$RASA_PORT
  RASA_AUTH_TOKEN         default: the token bot.settings generates in var/auth-token
  CONSOLE_SECRET_KEY      session signing key when the app has none (the web app sets its own
                          WEB_SECRET_KEY); default: generated once into var/console-secret-key
  CONSOLE_SESSION_HOURS   login lifetime in hours (default 8)
  CONSOLE_COOKIE_SECURE   auto (default): the session cookie is Secure except on plain-http
                          localhost; true or false forces it (bot/services/console/security.py)
  CONSOLE_TRUSTED_PROXIES proxies whose X-Forwarded-* headers count (ProxyFix; default 0)
  CONSOLE_THROTTLE        a bot.services.console.auth.Throttle (tests); else per account, in Redis when
                          LOCK_STORE_TYPE=redis, else in memory
Logins, failed logins and logouts are audited; logout and a password change bump the user's
session version, so copies of the session cookie are refused.

Second factor (TOTP, pyotp; the QR code drawn as inline SVG by segno): after the password a user
who has it gives a 6-digit code (``/console/login/code``; the step before and after count, a code
is accepted once; wrong codes count toward the account's lock-out). An admin must have it: one
without it sets it up right after the password (``/console/login/enrol``) and can do nothing
else first. A professional may switch it on and off (with a code) on ``/console/account``; an
admin can switch off another user's (a lost phone; also ``python -m bot.services.console reset-totp``).
The secret is stored encrypted with ``CASE_STORE_KEY``; setting it up, switching it off and
wrong codes are audited, never the secret or a code.
"""
from __future__ import annotations

from .views import blueprint, init_console
from . import insight as _insight  # noqa: F401,E402  (the insight page, issue 18)

# the catalogue editor's routes (issue 20) live in bot/services/offers/editor.py, on this blueprint
import bot.services.offers.editor  # noqa: E402,F401  (registers /console/aanbod before the app does)

__all__ = ["blueprint", "init_console"]
