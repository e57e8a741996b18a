"""The public form ``/aanbod-voorstellen`` on the web server (issue 20): a resident proposes an
offer (what, for whom, where, when, and a contact only with consent).

Protection: Flask-WTF's CSRF token (the app's CSRFProtect, set up with the console), a rate
limit per client address (``PROPOSALS_PER_HOUR``, default 5; the address behind trusted proxies
comes from ProxyFix), a honeypot field that people do not see, length limits and plain text only
(no ``<`` or ``>``). Stored in the case store (bot/services/offers/store.py); the contact is encrypted.
"""
from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot import settings
from bot.domain.catalogue.model import reference
from bot.services.cases.store import CaseStore, store_url
from bot.services.ratelimit import MemoryBuckets, address_group, bucket_key

from .forms import form_message, text_problem
from .store import CatalogueStore

logger = logging.getLogger(__name__)

RATE_ENV = "PROPOSALS_PER_HOUR"
DEFAULT_PER_HOUR = int(settings.Settings.default(RATE_ENV))
HONEYPOT = "website"
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$")
# field -> (limit, required)
FIELDS: dict[str, tuple[int, bool]] = {
    "what": (1000, True), "audience": (200, True), "place": (200, True), "when_text": (200, True),
    "contact_name": (100, False), "contact_email": (254, False),
}
MAX_BODY = 256 * 1024  # a 100 kB text still gets its error at the field
EXTENSION = "opvoed_proposals"

public = Blueprint("proposals", __name__, template_folder="templates", static_folder="static",
                   static_url_path="/aanbod-voorstellen/static")


def per_hour(environ: settings.Environ = None) -> int:
    try:
        return max(0, int((settings.current(environ).PROPOSALS_PER_HOUR or "").strip() or DEFAULT_PER_HOUR))
    except ValueError:
        logger.warning("%s is not a whole number; using %d", RATE_ENV, DEFAULT_PER_HOUR)
        return DEFAULT_PER_HOUR


@public.record_once
def _on_register(state: Any) -> None:
    app: Flask = state.app
    if "csrf" not in app.extensions:
        CSRFProtect(app)
    limit = app.config.get("PROPOSALS_PER_HOUR", per_hour())
    app.extensions[EXTENSION] = {"buckets": MemoryBuckets(int(limit), period=3600.0) if int(limit) else None}


def _store() -> CatalogueStore:
    """The case store the console uses (the same app), else one of CASE_STORE_URL."""
    state = current_app.extensions[EXTENSION]
    if "opvoed_console" in current_app.extensions:
        from bot.services.console.views import store

        return CatalogueStore(store())
    if state.get("store") is None:
        state["store"] = CaseStore.from_url(current_app.config.get("CASE_STORE_URL") or store_url())
    return CatalogueStore(state["store"])


def _headers(answer: Any) -> Any:
    answer.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'self'; base-uri 'none'; form-action 'self'; object-src 'none'")
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _page(values: dict, errors: dict[str, str], status: int = 200) -> Any:
    topics = list(reference().topic_labels.items())
    return _headers(current_app.make_response((render_template(
        "proposals/form.html", values=values, errors=errors, topics=topics), status)))


@public.errorhandler(CSRFError)
def _csrf_error(_error: CSRFError) -> Any:
    return _page({}, {"form": "Het formulier is verlopen of ongeldig. Laad de pagina opnieuw en probeer het nog eens."}, 400)


def _allowed() -> bool:
    buckets = current_app.extensions[EXTENSION]["buckets"]
    if buckets is None:
        return True
    address = address_group(request.remote_addr or "unknown")
    return buckets.take(bucket_key("proposal", address)).allowed


@public.route("/aanbod-voorstellen", methods=["GET", "POST"])
def propose() -> Any:
    if request.method == "GET":
        return _page({}, {})
    if (request.content_length or 0) > MAX_BODY:
        return _page({}, {"form": "Je voorstel is te lang. Maak de teksten korter."}, 413)
    if not _allowed():
        return _page({}, {"form": "Je hebt al veel voorstellen gestuurd. Probeer het over een uur opnieuw."}, 429)
    form = request.form
    values = {name: (form.get(name) or "").strip() for name in FIELDS}
    values["topic"] = (form.get("topic") or "").strip()
    values["consent"] = bool(form.get("consent"))
    errors: dict[str, str] = {}
    for name, (limit, required) in FIELDS.items():
        problem = text_problem(values[name], limit)
        if problem:
            errors[name] = problem
        elif required and not values[name]:
            errors[name] = form_message("required")
    if values["topic"] and values["topic"] not in reference().topic_labels:
        errors["topic"] = "Kies een onderwerp uit de lijst."
    if values["contact_email"] and "contact_email" not in errors and not EMAIL.match(values["contact_email"]):
        errors["contact_email"] = "Dit e-mailadres klopt niet. Bijvoorbeeld naam@voorbeeld.nl."
    if (values["contact_email"] or values["contact_name"]) and not values["consent"]:
        errors["consent"] = "Geef toestemming, of laat je naam en e-mailadres leeg."
    if errors:
        shown = {k: ("" if k in errors else v) for k, v in values.items()}
        return _page(shown, errors, 400)
    if (form.get(HONEYPOT) or "").strip():
        logger.info("proposal form: honeypot filled; nothing stored")
        return render_thanks()
    _store().add_proposal(
        what=values["what"], audience=values["audience"], topic=values["topic"] or None, place=values["place"],
        when_text=values["when_text"], contact_name=values["contact_name"] or None,
        contact_email=values["contact_email"] or None)
    logger.info("proposal form: a proposal was stored")
    return render_thanks()


def render_thanks() -> Any:
    return _headers(current_app.make_response(render_template("proposals/thanks.html")))
