"""The web app: the demo page of the fictional 'Gemeente Voorbeeldstad' with the chat at ``/``.

``create_app()`` is a Flask app factory. It registers the professionals' console
(``bot.services.console``, issue 6) under ``/console``.

Settings (env): ``WEB_PORT`` (8080), ``RASA_URL`` (the Rasa server the chat talks socket.io to;
default ``http://127.0.0.1:{RASA_PORT}``), ``WEB_SECRET_KEY`` (Flask's session key; generated
into ``var/web-secret-key`` when unset), ``CONSOLE_TRUSTED_PROXIES`` (how many proxies in front
set X-Forwarded-For/-Proto/-Host; 0, the default, trusts none). HTTPS answers carry HSTS. The page keeps the chat in the browser for at most the
catalogue's ``retention_days`` (default 90) after the last message. Browser assets come from npm (``npm ci`` at the repo
root) and are served from this server: nothing is loaded from a CDN.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

import yaml
from flask import Blueprint, Flask, Response, abort, jsonify, render_template, request, send_file

from bot import settings
from bot.services.console import blueprint as console_blueprint
from bot.services.console.security import add_hsts, apply_proxy_fix, trusted_proxies

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
NODE_MODULES = settings.PROJECT_ROOT / "node_modules"
SECRET_KEY_FILE = settings.VAR_DIR / "web-secret-key"
# The npm files the page may load, by the name it uses for them.
VENDOR_FILES = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
}
DEFAULT_RETENTION_DAYS = 90


def rasa_url(environ: settings.Environ = None) -> str:
    values = settings.current(environ)
    url = (values.RASA_URL or "").strip().rstrip("/")
    return url or f"http://127.0.0.1:{values.value('RASA_PORT')}"


def socket_origins(url: str) -> str:
    """The CSP connect-src sources for a socket.io server at ``url`` (http(s) and ws(s))."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return ""
    ws = "wss" if parts.scheme == "https" else "ws"
    return f"{parts.scheme}://{parts.netloc} {ws}://{parts.netloc}"


def retention_days() -> int:
    """How long conversations are kept: the catalogue's ``municipality.retention_days``, else 90.
    The page's chat forgets its local history after this many days without a message."""
    try:
        from bot.domain.catalogue.loader import load_catalogue

        days = getattr(load_catalogue().municipality, "retention_days", None)
        if days is not None and int(days) > 0:
            return int(days)
    except Exception:  # noqa: BLE001 - no (valid) catalogue: the default
        logger.debug("web: no retention period in the catalogue; %d days", DEFAULT_RETENTION_DAYS)
    return DEFAULT_RETENTION_DAYS


def _secret_key(environ: settings.Environ, key_file: Path = SECRET_KEY_FILE) -> str:
    return settings.secret("WEB_SECRET_KEY", key_file, environ)[0]


PAGE_TEXTS = Path(__file__).parent / "texts" / "nl.yml"


def language_menu() -> List[Tuple[str, str]]:
    """(code, own name) of every language the assistant answers in (issue 17)."""
    from bot.domain.dialogue import say
    from bot.domain.translations import DUTCH, languages

    return [(code, say("switch_language_button", code)) for code in (DUTCH, *languages())]


@lru_cache(maxsize=1)
def _dutch_page_texts() -> Dict[str, str]:
    return yaml.safe_load(PAGE_TEXTS.read_text(encoding="utf-8"))


def page_texts(language: str, retention: int) -> Tuple[str, Dict[str, str]]:
    """(the page's language, its texts): the language's own page texts where it has them, else Dutch."""
    from bot.domain import translations

    dutch = _dutch_page_texts()
    own = translations.page(language)
    texts = translations.merged(dutch, own) if own else dutch
    formatted = {key: str(value).replace("{retention_days}", str(retention)) for key, value in texts.items()}
    return (language if own else translations.DUTCH), formatted


def widget_texts(language: str) -> Dict[str, str]:
    """The chat widget's own texts in a language (the `web` section of its conversation file);
    {} for Dutch, whose texts are chat.js's own."""
    from bot.domain import translations

    return {k: v for k, v in translations.section(language, "web").items() if isinstance(v, str)}


site = Blueprint("site", __name__, template_folder="templates", static_folder="static",
                 static_url_path="/static")


@site.route("/")
def index() -> Response:
    from flask import current_app

    from bot.domain.languages.switch import payload
    from bot.domain.translations import answers_in

    url = current_app.config["RASA_URL"]
    retention = current_app.config["RETENTION_DAYS"]
    asked = request.args.get("lang")
    chat_language = answers_in(asked)
    page_language, texts = page_texts(chat_language, retention)
    page = render_template("index.html", rasa_url=url, socket_path="/socket.io/",
                           retention_days=retention, languages=language_menu(), t=texts,
                           page_language=page_language, chat_language=chat_language,
                           asked_language=chat_language if asked == chat_language else "",
                           switch_payload=payload(chat_language), widget_texts=widget_texts(chat_language))
    answer = Response(page, mimetype="text/html")
    answer.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {socket_origins(url)}; frame-ancestors 'self'; base-uri 'none'; "
        "form-action 'self'; object-src 'none'"
    )
    return answer


@site.route("/vendor/<name>")
def vendor(name: str) -> Response:
    relative = VENDOR_FILES.get(name)
    if relative is None:
        abort(404)
    path = NODE_MODULES / relative
    if not path.is_file():
        logger.error("web: %s is missing: run `npm ci` in %s", relative, settings.PROJECT_ROOT)
        abort(404)
    return send_file(path, mimetype="text/javascript", max_age=3600)


@site.route("/health")
def health() -> Response:
    return jsonify(status="ok")


@site.after_app_request
def security_headers(answer: Response) -> Response:
    answer.headers.setdefault("X-Content-Type-Options", "nosniff")
    answer.headers.setdefault("Referrer-Policy", "no-referrer")
    return add_hsts(answer)


def create_app(environ: Optional[Mapping[str, str]] = None) -> Flask:
    """The web app: demo page, its assets, and the console when ``bot.services.console`` provides one."""
    values = settings.current(environ)
    app = Flask(__name__, static_folder=None)
    app.config.update(
        RASA_URL=rasa_url(values),
        SECRET_KEY=_secret_key(values),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_AS_ASCII=False,
        RETENTION_DAYS=retention_days(),
    )
    # the client address (login throttling, logs) and scheme (HSTS, Secure cookie) behind proxies
    apply_proxy_fix(app, trusted_proxies(values.CONSOLE_TRUSTED_PROXIES))
    app.register_blueprint(site)
    app.register_blueprint(console_blueprint, url_prefix=console_blueprint.url_prefix or "/console")
    # residents propose offers (issue 20): the public form /aanbod-voorstellen, reviewed in the console
    from bot.services.offers.public import public as proposals

    app.register_blueprint(proposals)
    return app
