"""Transport security of the web server and the console: the client address behind trusted
proxies (ProxyFix), a Secure session cookie unless the console runs on plain-http localhost,
and HSTS on HTTPS."""
from __future__ import annotations

import logging
from typing import Any, Optional

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

logger = logging.getLogger(__name__)

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
HSTS = "max-age=31536000"
TRUE = ("1", "true", "yes", "ja", "on")
FALSE = ("0", "false", "no", "nee", "off")


def trusted_proxies(value: Optional[Any]) -> int:
    """``CONSOLE_TRUSTED_PROXIES``: how many proxies in front of the server set X-Forwarded-*
    (0, the default: none, the headers are ignored)."""
    try:
        count = int(str(value).strip()) if value not in (None, "") else 0
    except ValueError:
        logger.warning("CONSOLE_TRUSTED_PROXIES is not a whole number; no proxy is trusted")
        return 0
    return max(0, count)


def apply_proxy_fix(app: Flask, proxies: int) -> None:
    """Take the client address, scheme and host from the last `proxies` X-Forwarded-* values."""
    if proxies > 0 and not isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,
                                x_port=proxies, x_prefix=0)  # type: ignore[method-assign]
    app.config["CONSOLE_TRUSTED_PROXIES"] = proxies


def plain_http_localhost() -> bool:
    """This request came over plain HTTP to localhost (``make run``, tests)."""
    if not has_request_context() or request.is_secure:
        return False
    host = (request.host or "").rsplit(":", 1)[0] if not request.host.startswith("[") \
        else request.host.split("]")[0] + "]"
    return host.lower() in LOCAL_HOSTS


def cookie_secure(app: Flask) -> bool:
    """``CONSOLE_COOKIE_SECURE``: true or false forces it; unset (auto): Secure, except for a
    request over plain HTTP to localhost, where a browser would not send a Secure cookie back."""
    setting = str(app.config.get("CONSOLE_COOKIE_SECURE") or "").strip().lower()
    if setting in TRUE:
        return True
    if setting in FALSE:
        return False
    return not plain_http_localhost()


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, with the Secure flag decided per request."""

    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
        return cookie_secure(app)


def add_hsts(response: Any) -> Any:
    """HSTS on every HTTPS answer (the scheme behind a trusted proxy comes from ProxyFix)."""
    if has_request_context() and request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response
