"""Routes of the console blueprint and its set-up on the app that registers it."""
from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Optional

from flask import (
    Blueprint, Flask, abort, current_app, flash, redirect, render_template, request, session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from bot import settings
from bot.domain import handoff, situations
from bot.services.cases import CaseError, CaseStore, ClaimConflict, User, store_url
from bot.services.cases.crypto import InvalidToken
from bot.services.cases.schema import ROLE_AREAS, ROLES
from bot.services.insight.labels import LANGUAGE_NAMES  # issue 17: the language the parent wrote in
from bot.settings import PROJECT_ROOT
from bot.vocabulary import TZ

from .auth import (
    ConsoleUser, Throttle, authenticate, group_secret, hash_password, load_user, matching_step,
    new_totp_secret, password_problem, qr_svg, throttle_from_settings, totp_uri,
)
from .security import ConsoleSessionInterface, add_hsts
from .rasa_client import RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)

SECRET_FILE = PROJECT_ROOT / "var" / "console-secret-key"
EXTENSION = "opvoed_console"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
PUBLIC_ENDPOINTS = ("console.login", "console.static", "console.login_code", "console.login_enrol")
# what a logged-in admin without a second factor may do: set it up, or log out (and the CSS)
ENROL_ONLY_ENDPOINTS = ("console.totp_enrol", "console.logout", "console.static")
# after the password, before the code: which user, since when (the session cookie is signed)
PENDING = "console_pending"
PENDING_SECONDS = 5 * 60
NEW_SECRET = "console_totp_new"  # a secret being set up, as a Fernet token (never in clear)
UNKNOWN_ACTOR = "onbekend"  # a failed login for an e-mail address that is no account
MAX_REPLY_CHARS = 2000
PURGE_INTERVAL = 3600.0
FLASK_DEFAULT_LIFETIME = timedelta(days=31)

blueprint = Blueprint(
    "console", __name__, url_prefix="/console",
    template_folder="templates", static_folder="static", static_url_path="/static",
)


# --- set-up on the registering app ---------------------------------------------------------

def _setting(app: Flask, key: str) -> Optional[str]:
    """``app.config[key]``, else the setting (bot/settings.py), else its default."""
    value = app.config.get(key)
    return value if value not in (None, "") else settings.current().value(key)


def _secret_key(app: Flask) -> str:
    configured = app.config.get("CONSOLE_SECRET_KEY")
    if configured:
        return configured
    return settings.secret("CONSOLE_SECRET_KEY", SECRET_FILE, generate=lambda: secrets.token_urlsafe(48))[0]


def init_console(app: Flask) -> None:
    """Set up secret key, sessions, CSRF and login on `app` (idempotent)."""
    if EXTENSION in app.extensions:
        return
    if not app.secret_key:
        app.secret_key = _secret_key(app)
    hours = float(_setting(app, "CONSOLE_SESSION_HOURS") or 8)
    if app.config.get("PERMANENT_SESSION_LIFETIME") in (None, FLASK_DEFAULT_LIFETIME):
        app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=hours)
    if app.config.get("SESSION_COOKIE_SAMESITE") is None:
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # Secure unless plain-http localhost (bot/services/console/security.py); CONSOLE_COOKIE_SECURE forces it
    app.config["CONSOLE_COOKIE_SECURE"] = _setting(app, "CONSOLE_COOKIE_SECURE")
    if type(app.session_interface) is SecureCookieSessionInterface:
        app.session_interface = ConsoleSessionInterface()
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid as long as the login

    csrf = app.extensions.get("csrf")
    if csrf is None:
        csrf = CSRFProtect(app)
    # the blueprint checks CSRF itself, after the login check (401 before 400)
    csrf.exempt(blueprint)

    if not hasattr(app, "login_manager"):
        manager = LoginManager()
        manager.init_app(app)
        manager.session_protection = "strong"
    app.login_manager.user_loader(lambda user_id: load_user(store(), user_id))

    app.extensions[EXTENSION] = {
        "store": app.config.get("CASE_STORE"),
        "rasa": app.config.get("CONSOLE_RASA_CLIENT"),
        "csrf": csrf,
        "throttle": app.config.get("CONSOLE_THROTTLE") or throttle_from_settings(),
        "last_purge": None,
    }


@blueprint.record_once
def _on_register(state: Any) -> None:
    init_console(state.app)


def _state() -> dict:
    return current_app.extensions[EXTENSION]


def store() -> CaseStore:
    state = _state()
    if state["store"] is None:
        url = current_app.config.get("CASE_STORE_URL") or store_url()
        state["store"] = CaseStore.from_url(url, migrate=True)
    return state["store"]


def rasa() -> RasaClient:
    state = _state()
    if state["rasa"] is None:
        base = (_setting(current_app, "RASA_API_URL") or _setting(current_app, "RASA_URL")
                or f"http://127.0.0.1:{settings.current().RASA_PORT}")
        token = current_app.config.get("RASA_AUTH_TOKEN") or settings.auth_token()[0]
        state["rasa"] = RasaClient(base, token)
    return state["rasa"]


def _maybe_purge() -> None:
    state = _state()
    now = time.monotonic()
    if state["last_purge"] is not None and now - state["last_purge"] < PURGE_INTERVAL:
        return
    state["last_purge"] = now
    try:
        store().purge_expired()
    except Exception as error:  # noqa: BLE001 - never break a page on housekeeping
        logger.error("retention purge failed: %s", type(error).__name__)


# --- guard: login, session expiry, CSRF -------------------------------------------------------

def _refuse() -> Any:
    """A browser asking for a page goes to the login page; any other client (a script, a probe)
    gets 401 with the login form, so no console URL ever answers 200 without a login."""
    if request.method not in SAFE_METHODS:
        abort(401)
    next_path = request.full_path.rstrip("?")
    if request.accept_mimetypes.accept_html:
        return redirect(url_for("console.login", next=next_path))
    return render_template("console/login.html", next=next_path), 401


@blueprint.before_request
def _guard() -> Any:
    if request.endpoint not in PUBLIC_ENDPOINTS:
        if not current_user.is_authenticated:
            return _refuse()
        started = session.get("console_login_at")
        lifetime = current_app.permanent_session_lifetime.total_seconds()
        if not isinstance(started, (int, float)) or time.time() - started > lifetime:
            logout_user()
            session.clear()
            return _refuse()
        if (current_user.is_admin and not current_user.user.has_totp
                and request.endpoint not in ENROL_ONLY_ENDPOINTS):
            # an admin without a second factor sets it up first, and can do nothing else
            if request.method not in SAFE_METHODS:
                abort(403)
            return redirect(url_for("console.totp_enrol"))
    if request.method not in SAFE_METHODS:
        _state()["csrf"].protect()
    return None


@blueprint.after_request
def _headers(response: Any) -> Any:
    if request.endpoint != "console.static":
        response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    add_hsts(response)
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'none'; object-src 'none'; frame-ancestors 'none'; "
        "form-action 'self'; base-uri 'none'"
    )
    return response


@blueprint.errorhandler(CSRFError)
def _csrf_error(_error: CSRFError) -> Any:
    return render_template("console/error.html", title="Formulier verlopen",
                           message="Het formulier is verlopen of ongeldig. Laad de pagina opnieuw "
                                   "en probeer het nog eens."), 400


@blueprint.errorhandler(401)
def _unauthorised(_error: Any) -> Any:
    return render_template("console/error.html", title="Niet ingelogd",
                           message="Log eerst in."), 401


@blueprint.errorhandler(403)
def _forbidden(_error: Any) -> Any:
    return render_template("console/error.html", title="Geen toegang",
                           message="Je hebt geen toegang tot deze pagina."), 403


@blueprint.errorhandler(404)
def _not_found(_error: Any) -> Any:
    return render_template("console/error.html", title="Niet gevonden",
                           message="Deze aanvraag bestaat niet (meer)."), 404


# the first page of each console area (ROLE_AREAS): where a user lands after logging in
AREA_LANDING = {"cases": "console.cases", "inzicht": "console.insight", "aanbod": "console.offers"}


def area_required(area: str) -> Callable[[Callable], Callable]:
    """Only users whose role may open `area` (bot/services/cases/schema.py ROLE_AREAS); others get 403."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.may(area):
                abort(403)
            return view(*args, **kwargs)
        return wrapped
    return decorate


def landing() -> str:
    """The first page the logged-in user may open."""
    areas = ROLE_AREAS.get(current_user.role, ())
    return url_for(AREA_LANDING[areas[0]]) if areas else url_for("console.account")


def admin_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not getattr(current_user, "is_admin", False):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


# --- template helpers -------------------------------------------------------------------------

SEVERITY_LABELS = {"crisis": "Crisis", "aandacht": "Aandacht", "normaal": "Normaal"}
SIGNAL_LABELS = {
    "suicide": "zelfdoding (gedachten of plannen)",
    "geweld": "geweld of mishandeling",
    "ouder_acuut": "ouder kan het niet meer aan",
    "medisch_acuut": "medische spoed",
}
ROLE_LABELS = {"professional": "medewerker", "admin": "beheerder", "beleid": "beleid (inzicht)",
               "redactie": "redactie (aanbod)"}
STATUS_LABELS = {"open": "Nieuw", "claimed": "In behandeling", "closed": "Afgesloten"}
CHANNEL_LABELS = {"socketio": "webchat", "rest": "webchat (REST)", "whatsapp": "WhatsApp"}
ACTION_LABELS = {
    "created": "aangemaakt", "viewed": "bekeken", "claimed": "opgepakt", "replied": "beantwoord",
    "closed": "afgesloten", "deleted": "verwijderd", "user_created": "gebruiker aangemaakt",
    "user_deactivated": "gebruiker uitgezet", "user_activated": "gebruiker aangezet",
    "password_changed": "wachtwoord gewijzigd", "login": "ingelogd",
    "login_failed": "inloggen mislukt", "logout": "uitgelogd",
    "team_created": "team aangemaakt", "user_team_changed": "team van gebruiker gewijzigd",
    "erased": "gewist door de ouder",
    "totp_enabled": "tweestapsverificatie aangezet", "totp_disabled": "tweestapsverificatie uitgezet",
    "totp_failed": "verkeerde code",
    "offer_saved": "aanbod opgeslagen", "offer_deleted": "aanbod verwijderd",
    "catalogue_imported": "aanbod ingelezen", "catalogue_published": "aanbod gepubliceerd",
    "catalogue_rolled_back": "vorige versie van het aanbod teruggezet",
    "proposal_accepted": "voorstel overgenomen", "proposal_declined": "voorstel afgewezen",
    "insight_exported": "inzicht geëxporteerd",
}
# channels that tell whether a professional's reply reached the parent (bot/services/cases/delivery.py)
DELIVERY_CHANNELS = ("whatsapp", "twilio")
NOT_DELIVERED = {
    "window": "de ouder stuurde het laatste bericht meer dan 24 uur geleden. WhatsApp laat dan "
              "geen gewoon bericht door.",
    "refused": "de berichtendienst weigerde het bericht{code}.",
    "unreachable": "de berichtendienst was niet bereikbaar{code}.",
    "no_number": "het nummer van de ouder is niet (meer) bekend.",
    "unconfirmed": "de assistent kon niet laten weten of het bericht aankwam.",
    "assistant_down": "de assistent was niet bereikbaar.",
}


def _topic_label(topic: Optional[str]) -> str:
    if not topic:
        return "onbekend"
    try:
        from bot.domain.catalogue.model import reference

        return reference().topic_labels.get(topic, topic.replace("_", " "))
    except Exception:  # noqa: BLE001 - labels are a nicety
        return topic.replace("_", " ")


def _age(months: Optional[int]) -> str:
    if months is None:
        return "onbekend"
    if months < 24:
        return f"{months} maanden" if months != 1 else "1 maand"
    years, rest = divmod(months, 12)
    return f"{years} jaar" + (f" en {rest} maanden" if rest else "")


def _when(moment: Optional[datetime]) -> str:
    return moment.astimezone(TZ).strftime("%d-%m-%Y %H:%M") if moment else ""


def _not_delivered(delivery: Any) -> str:
    """Why a reply did not reach the parent, in plain Dutch."""
    code = f" (foutcode {delivery.code})" if delivery.code else ""
    return NOT_DELIVERED.get(delivery.reason, NOT_DELIVERED["unconfirmed"]).format(code=code)


def _other_route(case: Any) -> str:
    """What the professional can do instead: the contact route the parent chose."""
    detail = case.contact_detail
    if case.contact_preference == "phone" and detail:
        return f"Bel de ouder op {detail}, zoals de ouder vroeg."
    if case.contact_preference == "email" and detail:
        return f"Mail de ouder op {detail}, zoals de ouder vroeg."
    if case.contact_preference == "whatsapp" and detail:
        return f"Stuur de ouder een WhatsApp-bericht op {detail}, zoals de ouder vroeg."
    return ("De ouder wilde antwoord in dit gesprek en gaf geen ander nummer of e-mailadres. "
            "Probeer het opnieuw als de ouder weer iets stuurt.")


def _contact(case: Any) -> str:
    detail = case.contact_detail
    if case.contact_preference == "chat":
        return "In de chat (anoniem)"
    if case.contact_preference == "phone":
        return f"Bellen: {detail}" if detail else "Bellen (geen nummer gegeven)"
    if case.contact_preference == "whatsapp":
        return f"WhatsApp: {detail}" if detail else "WhatsApp, in dit gesprek"
    return f"E-mail: {detail}" if detail else "E-mail (geen adres gegeven)"


@blueprint.app_context_processor
def _helpers() -> dict:
    return {
        "severity_label": lambda s: SEVERITY_LABELS.get(s, s),
        "signal_label": lambda s: SIGNAL_LABELS.get(s, s or "geen"),
        "situation_label": situations.label,
        "status_label": lambda s: STATUS_LABELS.get(s, s),
        "channel_label": lambda c: CHANNEL_LABELS.get(c or "", c or "onbekend"),
        "language_label": lambda code: LANGUAGE_NAMES.get(code or "nl", code),
        "action_label": lambda a: ACTION_LABELS.get(a, a),
        "role_label": lambda r: ROLE_LABELS.get(r, r),
        "topic_label": _topic_label,
        "age_label": _age,
        "when": _when,
        "contact_label": _contact,
        "not_delivered": _not_delivered,
        "other_route": _other_route,
    }


def _safe_next(target: Optional[str]) -> str:
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.cases")


def _case_or_404(case_id: str) -> Any:
    """The case, when the logged-in user may see it: 404 when there is none, 403 when it is
    another team's (or has no team and the user is no admin)."""
    case = store().get(case_id)
    if case is None:
        abort(404)
    if not _me().may_see(case):
        abort(403)
    return case


def _me() -> Any:
    return current_user.user


# --- pages ---------------------------------------------------------------------------------------

@blueprint.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("console.cases"))
        return render_template("console/login.html", next=request.args.get("next", ""))
    email = (request.form.get("email") or "").strip().lower()
    password = request.form.get("password") or ""
    throttle: Throttle = _state()["throttle"]
    # per account, never per address: behind the proxy every professional has the same one
    locked = throttle.locked_for(email)
    if locked:
        return _too_many(locked, "console/login.html", next=request.form.get("next", ""))
    user = authenticate(store(), email, password)
    if user is None:
        known = store().user_by_email(email)
        store().audit("login_failed", known.email if known else UNKNOWN_ACTOR)
        throttle.failed(email)
        flash("Het e-mailadres of wachtwoord klopt niet.", "error")
        return render_template("console/login.html", next=request.form.get("next", "")), 401
    if user.has_totp or user.is_admin:
        # the password is right; the code comes next (an admin without one sets it up first)
        session.clear()  # no session fixation
        session[PENDING] = {"id": ConsoleUser(user).get_id(), "at": time.time(),
                            "next": _safe_next(request.form.get("next"))}
        return redirect(url_for("console.login_code" if user.has_totp else "console.login_enrol"))
    throttle.reset(email)
    return _log_in(user, request.form.get("next"))


def _log_in(user: User, next_target: Optional[str], message: Optional[str] = None) -> Any:
    session.clear()  # no session fixation
    if message:
        flash(message, "info")
    login_user(ConsoleUser(user))
    session.permanent = True
    session["console_login_at"] = time.time()
    store().audit("login", user.email)
    return redirect(_safe_next(next_target))


def _pending_user() -> Optional[User]:
    """The user who gave the right password in this session, for a few minutes, while their
    password and session version are unchanged."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), (int, float)):
        return None
    if time.time() - pending["at"] > PENDING_SECONDS:
        return None
    found = load_user(store(), str(pending.get("id") or ""))
    return found.user if found is not None else None


def _no_pending() -> Any:
    """The code pages without a password first: back to the login page."""
    if current_user.is_authenticated:
        return redirect(url_for("console.cases"))
    if request.method not in SAFE_METHODS:
        abort(401)
    if session.pop(PENDING, None) is not None:
        flash("Dat duurde te lang. Log opnieuw in.", "error")
    return redirect(url_for("console.login"))


def _check_code(user: User, code: Optional[str], secret: Optional[str] = None) -> Optional[int]:
    """The step of a right code, used now; None for a wrong or already used code, which goes in
    the audit log (never the code) and counts toward the account's lock-out like a wrong
    password. With `secret` (setting it up): that secret, not yet stored."""
    throttle: Throttle = _state()["throttle"]
    if secret is not None:
        step = matching_step(secret, code)
    else:
        step = matching_step(store().totp_secret(user.id), code)
        if step is not None and not store().use_totp_step(user.id, step):
            step = None  # a code that was used before: never twice
    if step is None:
        store().audit("totp_failed", user.email)
        if throttle.failed(user.email):
            session.pop(PENDING, None)  # locked: the password again, once the lock ends
        return None
    throttle.reset(user.email)
    return step


TOTP_ON = "Tweestapsverificatie staat aan. Vanaf nu log je in met je wachtwoord en een code uit je app."
WRONG_CODE = ("Deze code klopt niet. Kijk in je app en typ de code die je nu ziet. "
              "Een code werkt maar één keer.")


@blueprint.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    user = _pending_user()
    if user is None or current_user.is_authenticated:
        return _no_pending()
    if not user.has_totp:
        return redirect(url_for("console.login_enrol"))
    if request.method == "GET":
        return render_template("console/login_code.html")
    throttle: Throttle = _state()["throttle"]
    locked = throttle.locked_for(user.email)
    if locked:
        return _too_many(locked, "console/login_code.html")
    if _check_code(user, request.form.get("code")) is None:
        if _pending_user() is None:
            return _too_many(throttle.locked_for(user.email), "console/login.html", next="")
        flash(WRONG_CODE, "error")
        return render_template("console/login_code.html"), 401
    return _log_in(user, session.get(PENDING, {}).get("next"))


def _new_secret(user: User) -> str:
    """The secret this user is setting up: kept (encrypted) in the session until it is
    confirmed, so reloading the page shows the same QR code."""
    kept = session.get(NEW_SECRET)
    if isinstance(kept, dict) and kept.get("user") == user.id:
        try:
            return store().cipher.decrypt(str(kept.get("token")))
        except (InvalidToken, ValueError, TypeError):
            pass
    secret = new_totp_secret()
    session[NEW_SECRET] = {"user": user.id, "token": store().cipher.encrypt(secret)}
    return secret


def _enrol_page(user: User, action: str, status: int = 200) -> Any:
    secret = _new_secret(user)
    return render_template(
        "console/totp_enrol.html", action=action, required=user.is_admin,
        logged_in=current_user.is_authenticated, secret=group_secret(secret),
        qr=qr_svg(totp_uri(secret, user.email), "QR-code om in je app te scannen"),
    ), status


def _confirm_enrolment(user: User) -> bool:
    """Check the code of the secret being set up; right: store it (encrypted), audited."""
    secret = _new_secret(user)
    step = _check_code(user, request.form.get("code"), secret=secret)
    if step is None:
        return False
    store().enable_totp(user.id, secret, user.email, step=step)
    session.pop(NEW_SECRET, None)
    return True


@blueprint.route("/login/enrol", methods=["GET", "POST"])
def login_enrol() -> Any:
    """After the password: an admin without a second factor sets it up before anything else."""
    user = _pending_user()
    if user is None or current_user.is_authenticated:
        return _no_pending()
    if user.has_totp:
        return redirect(url_for("console.login_code"))
    if request.method == "GET":
        return _enrol_page(user, url_for("console.login_enrol"))
    throttle: Throttle = _state()["throttle"]
    locked = throttle.locked_for(user.email)
    if locked:
        return _too_many(locked, "console/login.html", next="")
    next_target = session.get(PENDING, {}).get("next")
    if not _confirm_enrolment(user):
        if _pending_user() is None:
            return _too_many(throttle.locked_for(user.email), "console/login.html", next="")
        flash(WRONG_CODE, "error")
        return _enrol_page(user, url_for("console.login_enrol"), 400)
    fresh = store().user(user.id)
    assert fresh is not None
    return _log_in(fresh, next_target, TOTP_ON)


def _too_many(seconds: float, template: str, **context: Any) -> Any:
    minutes = max(1, int(-(-seconds // 60)))
    flash(f"Te veel mislukte pogingen voor dit account. Probeer het over {minutes} "
          f"{'minuut' if minutes == 1 else 'minuten'} opnieuw.", "error")
    answer = current_app.make_response((render_template(template, **context), 429))
    answer.headers["Retry-After"] = str(int(-(-seconds // 1)))
    return answer


@blueprint.route("/logout", methods=["POST"])
def logout() -> Any:
    # a new session version: every copy of this session cookie is refused from now on
    store().end_sessions(current_user.id, current_user.email)
    logout_user()
    session.clear()
    flash("Je bent uitgelogd.", "info")
    return redirect(url_for("console.login"))


@blueprint.route("/", methods=["GET"], strict_slashes=False)  # /console too, no redirect first
def cases() -> Any:
    if not current_user.may("cases"):
        return redirect(landing())
    _maybe_purge()
    active = store().list_cases(("open", "claimed"), for_user=_me())
    return render_template(
        "console/cases.html",
        open_cases=[c for c in active if c.status == "open"],
        claimed_cases=[c for c in active if c.status == "claimed"],
    )


@blueprint.route("/cases/<case_id>", methods=["GET"])
@area_required("cases")
def case(case_id: str) -> Any:
    found = _case_or_404(case_id)
    store().audit("viewed", current_user.email, found.id)
    lines, unavailable = [], False
    try:
        # without consent for their words: only what the parent wrote after the hand-off
        # with consent: the session that led to the hand-off, never an earlier one
        lines = rasa().conversation(found.conversation_id,
                                    since=None if found.words_consent else found.created_at,
                                    session_of=found.created_at)
    except RasaUnavailable:
        unavailable = True
    mine = found.status == "claimed" and found.assigned_to == current_user.id
    deliveries = store().deliveries(found.id) if found.channel in DELIVERY_CHANNELS else []
    return render_template("console/case.html", case=found, lines=lines, unavailable=unavailable,
                           mine=mine, max_reply=MAX_REPLY_CHARS, deliveries=deliveries)


@blueprint.route("/cases/<case_id>/claim", methods=["POST"])
@area_required("cases")
def claim(case_id: str) -> Any:
    found = _case_or_404(case_id)
    try:
        claimed = store().claim(found.id, _me())
    except ClaimConflict:
        flash("Deze aanvraag is al opgepakt of afgesloten.", "error")
        return redirect(url_for("console.case", case_id=case_id))
    try:
        rasa().pause(claimed.conversation_id,
                     handoff.console_text("claimed", claimed.language, name=current_user.display_name))
        flash("Je hebt de aanvraag opgepakt. De digitale assistent zwijgt nu in dit gesprek.", "info")
    except RasaUnavailable:
        flash("Opgepakt, maar het gesprek kon niet worden overgenomen: de assistent is niet "
              "bereikbaar. Probeer het later opnieuw met een bericht.", "error")
    return redirect(url_for("console.case", case_id=case_id))


@blueprint.route("/cases/<case_id>/reply", methods=["POST"])
@area_required("cases")
def reply(case_id: str) -> Any:
    found = _case_or_404(case_id)
    if found.status != "claimed" or found.assigned_to != current_user.id:
        abort(403)
    text = (request.form.get("text") or "").replace("\r\n", "\n").strip()
    if not text:
        flash("Typ eerst een bericht.", "error")
        return redirect(url_for("console.case", case_id=case_id))
    if len(text) > MAX_REPLY_CHARS:
        flash(f"Je bericht is te lang (meer dan {MAX_REPLY_CHARS} tekens).", "error")
        return redirect(url_for("console.case", case_id=case_id))
    tracked = store().start_delivery(found.id) if found.channel in DELIVERY_CHANNELS else None
    try:
        rasa().say(found.conversation_id,
                   handoff.console_text("reply", found.language, name=current_user.display_name, text=text),
                   tracked.id if tracked else None)
    except RasaUnavailable:
        _settle_unconfirmed(tracked, "assistant_down")
        flash("Je bericht is NIET verstuurd: de assistent is niet bereikbaar. Probeer het opnieuw.",
              "error")
        return redirect(url_for("console.case", case_id=case_id))
    store().audit("replied", current_user.email, found.id)
    outcome = _settle_unconfirmed(tracked, "unconfirmed")
    if outcome is None or outcome.delivered:
        flash("Je bericht is verstuurd." if outcome is None else "Je bericht is verstuurd en afgeleverd.", "info")
    else:
        flash(f"Je bericht is niet afgeleverd: {_not_delivered(outcome)} {_other_route(found)}", "error")
    return redirect(url_for("console.case", case_id=case_id) + "#gesprek")


def _settle_unconfirmed(tracked: Any, reason: str) -> Any:
    """The delivery as the channel recorded it; still pending (no channel answered for it):
    not delivered, for `reason`. None when the reply was not tracked (web chat)."""
    if tracked is None:
        return None
    store().settle_delivery(tracked.id, False, reason)  # does nothing when the channel settled it
    return store().delivery(tracked.id)


@blueprint.route("/cases/<case_id>/close", methods=["POST"])
@area_required("cases")
def close(case_id: str) -> Any:
    found = _case_or_404(case_id)
    if not (found.assigned_to == current_user.id or current_user.is_admin):
        abort(403)
    if found.status == "closed":
        flash("Deze aanvraag is al afgesloten.", "error")
        return redirect(url_for("console.case", case_id=case_id))
    announcement = None
    if found.status == "claimed":
        announcement = handoff.console_text("closed", found.language,
                                            name=found.assigned_name or "De medewerker")
    resumed = True
    try:  # before closing: closing deletes the number a WhatsApp parent is told on
        rasa().resume(found.conversation_id, announcement)
    except RasaUnavailable:
        resumed = False
    try:
        store().close(found.id, _me())
    except CaseError:
        flash("Deze aanvraag is al afgesloten.", "error")
        return redirect(url_for("console.case", case_id=case_id))
    if resumed:
        flash("De aanvraag is afgesloten. De digitale assistent praat weer mee.", "info")
    else:
        flash("Afgesloten, maar de assistent kon niet worden aangezet: hij is niet bereikbaar.",
              "error")
    return redirect(url_for("console.cases"))


@blueprint.route("/password", methods=["GET", "POST"])
def password() -> Any:
    if request.method == "GET":
        return render_template("console/password.html")
    throttle: Throttle = _state()["throttle"]
    account = f"password:{current_user.email}"
    locked = throttle.locked_for(account)
    if locked:
        return _too_many(locked, "console/password.html")
    if authenticate(store(), current_user.email, request.form.get("current") or "") is None:
        throttle.failed(account)
        flash("Je huidige wachtwoord klopt niet.", "error")
        return render_template("console/password.html"), 400
    throttle.reset(account)
    new = request.form.get("new") or ""
    problem = password_problem(new)
    if problem or new != (request.form.get("repeat") or ""):
        flash(problem or "De twee nieuwe wachtwoorden zijn niet gelijk.", "error")
        return render_template("console/password.html"), 400
    store().set_password(current_user.id, hash_password(new), current_user.email)
    logout_user()
    session.clear()
    flash("Je wachtwoord is gewijzigd. Log opnieuw in.", "info")
    return redirect(url_for("console.login"))


def _relog(user_id: int) -> None:
    """Keep this session after the session version moved (the second factor changed): every
    other session of the user ends."""
    started = session.get("console_login_at")
    fresh = store().user(user_id)
    assert fresh is not None
    login_user(ConsoleUser(fresh))
    session["console_login_at"] = started


@blueprint.route("/account", methods=["GET"])
def account() -> Any:
    return render_template("console/account.html", me=_me(),
                           team_names={t.id: t.name for t in store().teams()})


@blueprint.route("/account/totp", methods=["GET", "POST"])
def totp_enrol() -> Any:
    me = _me()
    if me.has_totp:
        return redirect(url_for("console.account"))
    if request.method == "GET":
        return _enrol_page(me, url_for("console.totp_enrol"))
    throttle: Throttle = _state()["throttle"]
    locked = throttle.locked_for(me.email)
    if locked:
        return _too_many(locked, "console/error.html", title="Even wachten",
                         message="Probeer het zo opnieuw.")
    if not _confirm_enrolment(me):
        flash(WRONG_CODE, "error")
        return _enrol_page(me, url_for("console.totp_enrol"), 400)
    _relog(me.id)
    flash(TOTP_ON, "info")
    return redirect(url_for("console.cases") if me.is_admin else url_for("console.account"))


@blueprint.route("/account/totp/disable", methods=["POST"])
def totp_disable() -> Any:
    me = _me()
    if me.is_admin:
        abort(403)  # required for admins
    if not me.has_totp:
        return redirect(url_for("console.account"))
    throttle: Throttle = _state()["throttle"]
    locked = throttle.locked_for(me.email)
    if locked:
        return _too_many(locked, "console/account.html", me=me,
                         team_names={t.id: t.name for t in store().teams()})
    if _check_code(me, request.form.get("code")) is None:
        flash(WRONG_CODE, "error")
        return render_template("console/account.html", me=store().user(me.id),
                               team_names={t.id: t.name for t in store().teams()}), 400
    store().disable_totp(me.id, me.email)
    _relog(me.id)
    flash("Tweestapsverificatie staat uit. Je logt nu alleen in met je wachtwoord.", "info")
    return redirect(url_for("console.account"))


@blueprint.route("/users", methods=["GET", "POST"])
@admin_required
def users() -> Any:
    if request.method == "POST":
        email = (request.form.get("email") or "").strip().lower()
        name = (request.form.get("display_name") or "").strip()
        role = request.form.get("role") or "professional"
        new_password = request.form.get("password") or ""
        problem = password_problem(new_password)
        if role not in ROLES:
            problem = "Kies een rol."
        elif "@" not in email or len(email) > 254:
            problem = "Vul een geldig e-mailadres in."
        elif not name:
            problem = "Vul een naam in. De ouder ziet deze naam."
        if problem:
            flash(problem, "error")
            return _users_page(400)
        try:
            store().add_user(email, name, hash_password(new_password), role, actor=current_user.email)
        except ValueError:
            flash("Er is al een gebruiker met dit e-mailadres.", "error")
            return _users_page(400)
        flash(f"Gebruiker {email} is aangemaakt.", "info")
        return redirect(url_for("console.users"))
    return _users_page()


def _users_page(status: int = 200) -> Any:
    all_teams = store().teams()
    return render_template("console/users.html", users=store().users(), roles=ROLES,
                           teams=all_teams, team_names={t.id: t.name for t in all_teams}), status


@blueprint.route("/teams", methods=["POST"])
@admin_required
def create_team() -> Any:
    name = " ".join((request.form.get("name") or "").split())
    if not name or len(name) > 100:
        flash("Vul een naam voor het team in (hoogstens 100 tekens).", "error")
        return _users_page(400)
    try:
        store().add_team(name, actor=current_user.email)
    except ValueError:
        flash("Er is al een team met deze naam.", "error")
        return _users_page(400)
    flash(f"Team {name} is aangemaakt.", "info")
    return redirect(url_for("console.users"))


@blueprint.route("/users/<int:user_id>/team", methods=["POST"])
@admin_required
def user_team(user_id: int) -> Any:
    if store().user(user_id) is None:
        abort(404)
    raw = (request.form.get("team_id") or "").strip()
    team_id: Optional[int] = None
    if raw:
        if not raw.isdigit() or int(raw) not in {t.id for t in store().teams()}:
            abort(400)
        team_id = int(raw)
    store().set_user_team(user_id, team_id, current_user.email)
    flash("Het team is gewijzigd.", "info")
    return redirect(url_for("console.users"))


@blueprint.route("/users/<int:user_id>/active", methods=["POST"])
@admin_required
def user_active(user_id: int) -> Any:
    target = store().user(user_id)
    if target is None:
        abort(404)
    if target.id == current_user.id:
        flash("Je kunt jezelf niet uitzetten.", "error")
        return redirect(url_for("console.users"))
    store().set_user_active(user_id, not target.active, current_user.email)
    return redirect(url_for("console.users"))


@blueprint.route("/users/<int:user_id>/totp/reset", methods=["POST"])
@admin_required
def user_totp_reset(user_id: int) -> Any:
    """A user lost their phone: their second factor goes (audited), every session of theirs
    ends; an admin sets it up again at the next login, a professional may."""
    target = store().user(user_id)
    if target is None:
        abort(404)
    if target.id == current_user.id:
        flash("Je kunt je eigen tweestapsverificatie hier niet uitzetten.", "error")
        return redirect(url_for("console.users"))
    if target.has_totp:
        store().disable_totp(user_id, current_user.email)
        message = f"De tweestapsverificatie van {target.email} staat uit."
        if target.is_admin:
            message += " Deze beheerder stelt die opnieuw in bij de volgende keer inloggen."
        flash(message, "info")
    return redirect(url_for("console.users"))


@blueprint.route("/audit", methods=["GET"])
@admin_required
def audit() -> Any:
    case_id = request.args.get("case") or None
    return render_template("console/audit.html", entries=store().audit_log(case_id), case_id=case_id)
