"""A minimal Flask app serving only the console (tests, or running it on its own).

The web app (``bot/services/web/app.py``) registers ``bot.services.console.blueprint`` itself; this factory does
the same for a bare app. ``python -m bot.services.console serve --port 8081`` runs it.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Flask, redirect, url_for

from bot import settings

from . import blueprint
from .security import apply_proxy_fix, trusted_proxies


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    app = Flask(__name__)
    app.config.update(dict(config or {}))
    proxies = app.config.get("CONSOLE_TRUSTED_PROXIES", settings.current().CONSOLE_TRUSTED_PROXIES)
    apply_proxy_fix(app, trusted_proxies(proxies))
    app.register_blueprint(blueprint)

    @app.get("/")
    def root() -> Any:
        return redirect(url_for("console.cases"))

    return app
