"""The catalogue editor in the console (issue 20): ``/console/aanbod`` and below.

Routes on the console blueprint (its login, second factor, CSRF and headers apply), for the
role "redactie" and admins (``area_required("aanbod")``). The editors change a draft; publishing
makes it the newest version, which every server uses within a minute. Every change is audited
(no content: the offer id, version or proposal id).
"""
from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any, Optional

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot import settings
from bot.domain.catalogue.hours import to_local
from bot.domain.catalogue.model import LEVELS, Catalogue, Offer, reference
from bot.domain.catalogue.published import database_mode
from bot.domain.catalogue.recommend import Recommendation, format_offer
from bot.domain.catalogue.validate import STALE_AFTER_DAYS
from bot.domain.translations import languages as other_languages
from bot.services.console.views import area_required, blueprint, store
from bot.services.insight.labels import LANGUAGE_NAMES

from . import forms
from .mail import proposer_notifier
from .store import CatalogueInvalid, CatalogueStore, NothingToPublish, PublishConflict, own_offers

logger = logging.getLogger(__name__)

AREA = "aanbod"
SCOPE_LABELS = {"neighbourhood": "een of meer wijken", "municipality": "de hele gemeente",
                "national": "heel Nederland"}
COST_LABELS = {"free": "gratis", "contribution": "eigen bijdrage", "insured": "vergoed door de zorgverzekering",
               "paid": "betaald"}
FORMAT_LABELS = {"group": "groep", "individual": "één op één", "self_help": "zelf doen (informatie)"}
AUDIENCE_LABELS = {"parents": "ouders", "children": "kinderen", "youth": "jongeren", "everyone": "iedereen"}
SIGNAL_LABELS = {"suicide": "zelfdoding", "geweld": "geweld", "ouder_acuut": "ouder kan het niet meer aan",
                 "medisch_acuut": "medische spoed"}
DAY_LABELS = {"ma": "maandag", "di": "dinsdag", "wo": "woensdag", "do": "donderdag", "vr": "vrijdag",
              "za": "zaterdag", "zo": "zondag", "feestdagen": "feestdagen"}
ACTION_LABELS = {"seed": "eerste versie", "publish": "gepubliceerd", "import": "ingelezen",
                 "rollback": "teruggezet"}


def catalogue_store() -> CatalogueStore:
    return CatalogueStore(store())


def _actor() -> str:
    return current_user.email


def preview(offer: Offer) -> str:
    """The offer exactly as the assistant shows it to a parent now (bot.domain.catalogue.recommend)."""
    at = to_local(None)
    return format_offer(Recommendation(offer=offer, open_now=offer.is_open(at), next_open=offer.next_opening(at),
                                       reason="preview", at=at))


def is_stale(offer: Offer, today: Optional[date] = None) -> bool:
    return ((today or date.today()) - offer.last_checked) > timedelta(days=STALE_AFTER_DAYS)


def _choices(catalogue: Optional[Catalogue]) -> dict[str, Any]:
    ref = reference()
    hoods = catalogue.municipality.neighbourhood_names() if catalogue and catalogue.municipality else ()
    return {
        "levels": [(lvl, f"{lvl}: {ref.level_labels[lvl]}") for lvl in LEVELS],
        "topics": [("alle", "alle onderwerpen")] + list(ref.topic_labels.items()),
        "phases": [("alle", "alle leeftijden")] + list(ref.phase_labels.items()),
        "neighbourhoods": list(hoods),
        "scopes": list(SCOPE_LABELS.items()), "costs": list(COST_LABELS.items()),
        "formats": list(FORMAT_LABELS.items()), "audiences": list(AUDIENCE_LABELS.items()),
        "signals": list(SIGNAL_LABELS.items()), "days": list(DAY_LABELS.items()),
        "languages": [(code, LANGUAGE_NAMES.get(code, code)) for code in other_languages()],
    }


def _matches(offer: Offer, query: str, level: str, topic: str, phase: str, hood: str) -> bool:
    if query and query.casefold() not in f"{offer.id} {offer.name} {offer.description}".casefold():
        return False
    if level and offer.level != level:
        return False
    if topic and topic not in offer.topics and "alle" not in offer.topics:
        return False
    if phase and not offer.covers_phase(phase):
        return False
    if hood and not (offer.scope != "neighbourhood" or hood in offer.neighbourhoods):
        return False
    return True


@blueprint.route("/aanbod", methods=["GET"], endpoint="offers")
@area_required(AREA)
def offers() -> Any:
    cat_store = catalogue_store()
    catalogue = cat_store.draft_catalogue()
    args = {key: (request.args.get(key) or "").strip()[:100] for key in ("q", "level", "topic", "phase", "wijk")}
    shown = [o for o in own_offers(catalogue)
             if _matches(o, args["q"], args["level"], args["topic"], args["phase"], args["wijk"])]
    today = date.today()
    return render_template(
        "console/offers.html", offers=shown, total=len(own_offers(catalogue)), args=args,
        stale={o.id for o in shown if is_stale(o, today)}, choices=_choices(catalogue),
        newest=cat_store.newest(), changed=cat_store.draft_changed(),
        waiting=len(cat_store.proposals(status="new")),
        topic_names=reference().topic_labels,
        file_in_use=None if database_mode() else (settings.current().OPVOED_CATALOGUE or "").strip() or "catalogue/voorbeeldstad.yml",
    )


def _offer_page(values: dict, errors: dict[str, str], editing: Optional[str], status: int = 200,
                shown: Optional[str] = None, proposal: Optional[str] = None) -> Any:
    catalogue = catalogue_store().draft_catalogue()
    return render_template("console/offer_form.html", values=values, errors=errors, editing=editing,
                           choices=_choices(catalogue), preview=shown, proposal=proposal,
                           summary=forms.form_message("summary")), status


def _save(editing: Optional[str]) -> Any:
    cat_store = catalogue_store()
    raw, errors = forms.offer_from_form(request.form)
    issues, catalogue, index = cat_store.check_offer(raw, replaces=editing)
    errors = {**forms.field_errors(issues, index), **errors}
    values = forms.form_from_request(request.form)
    proposal = (request.form.get("proposal") or "").strip()[:32] or None
    if errors or catalogue is None:
        return _offer_page(values, errors, editing, 400, proposal=proposal)
    offer = catalogue.offer(str(raw["id"]))
    if request.form.get("action") == "preview":
        return _offer_page(values, {}, editing, shown=preview(offer) if offer else None, proposal=proposal)
    try:
        cat_store.save_offer(raw, _actor(), replaces=editing)
    except CatalogueInvalid as invalid:  # changed by someone else in the meantime
        return _offer_page(values, forms.field_errors(invalid.issues, index), editing, 400, proposal=proposal)
    if proposal and (found := cat_store.proposal(proposal)) is not None and found.status == "new":
        cat_store.accept_proposal(found.id, str(raw["id"]), _actor())
        proposer_notifier().accepted(found)
    flash("Opgeslagen als concept. Publiceer om het aanbod in de assistent te zetten.", "status")
    return redirect(url_for("console.offer_edit", offer_id=raw["id"]))


@blueprint.route("/aanbod/nieuw", methods=["GET", "POST"], endpoint="offer_new")
@area_required(AREA)
def offer_new() -> Any:
    if request.method == "POST":
        return _save(None)
    values = forms.form_from_offer(None)
    proposal_id = (request.args.get("voorstel") or "").strip()[:32]
    proposal = catalogue_store().proposal(proposal_id) if proposal_id else None
    if proposal is not None:
        values.update(_from_proposal(proposal))
    return _offer_page(values, {}, None, proposal=proposal.id if proposal else None)


def _from_proposal(proposal: Any) -> dict[str, Any]:
    """A draft offer of level A from a resident's proposal; the editor completes it."""
    return {
        "level": "A", "name": "", "description": proposal.what[:300],
        "topics": [proposal.topic] if proposal.topic else ["alle"], "phases": ["alle"],
        "scope": "municipality", "hours_mode": "appointment", "format": "group",
        "contact_address": proposal.place[:200], "source": "Voorstel van een inwoner",
        "hours_note": proposal.when_text[:200],
    }


@blueprint.route("/aanbod/bewerk/<offer_id>", methods=["GET", "POST"], endpoint="offer_edit")
@area_required(AREA)
def offer_edit(offer_id: str) -> Any:
    cat_store = catalogue_store()
    raw = cat_store.raw_offer(offer_id)
    if raw is None:
        abort(404)
    if request.method == "POST":
        return _save(offer_id)
    catalogue = cat_store.draft_catalogue()
    offer = catalogue.offer(offer_id)
    return _offer_page(forms.form_from_offer(raw), {}, offer_id, shown=preview(offer) if offer else None)


@blueprint.route("/aanbod/bewerk/<offer_id>/verwijderen", methods=["POST"], endpoint="offer_delete")
@area_required(AREA)
def offer_delete(offer_id: str) -> Any:
    try:
        done = catalogue_store().delete_offer(offer_id, _actor())
    except CatalogueInvalid:
        flash("Dit aanbod kan niet weg: dan klopt het aanbod niet meer.", "error")
        return redirect(url_for("console.offer_edit", offer_id=offer_id))
    if not done:
        abort(404)
    flash("Het aanbod is uit het concept gehaald. Publiceer om het uit de assistent te halen.", "status")
    return redirect(url_for("console.offers"))


@blueprint.route("/aanbod/publiceren", methods=["POST"], endpoint="offers_publish")
@area_required(AREA)
def offers_publish() -> Any:
    try:
        number = catalogue_store().publish(_actor())
    except NothingToPublish:
        flash("Er is niets veranderd sinds de laatste versie.", "status")
    except PublishConflict:
        flash("Iemand anders publiceerde op hetzelfde moment. Probeer het nog een keer.", "error")
    except CatalogueInvalid:
        flash("Het concept klopt niet. Verbeter het eerst.", "error")
    else:
        flash(f"Versie {number} is gepubliceerd. De assistent gebruikt die binnen een minuut.", "status")
    return redirect(url_for("console.offers"))


@blueprint.route("/aanbod/versies", methods=["GET"], endpoint="offer_versions")
@area_required(AREA)
def offer_versions() -> Any:
    return render_template("console/offer_versions.html", versions=catalogue_store().versions(),
                           action_names=ACTION_LABELS)


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 9:
        abort(404)
    return int(text)


@blueprint.route("/aanbod/versies/<number>", methods=["GET"], endpoint="offer_version")
@area_required(AREA)
def offer_version(number: str) -> Any:
    number = _number(number)
    cat_store = catalogue_store()
    version = cat_store.version(number)
    if version is None:
        abort(404)
    return render_template("console/offer_version.html", version=version, newest=cat_store.newest(),
                           action_names=ACTION_LABELS)


@blueprint.route("/aanbod/versies/<number>/terugzetten", methods=["POST"], endpoint="offer_rollback")
@area_required(AREA)
def offer_rollback(number: str) -> Any:
    number = _number(number)
    try:
        new = catalogue_store().rollback(number, _actor())
    except KeyError:
        abort(404)
    except NothingToPublish:
        flash("Deze versie is al in gebruik.", "status")
        return redirect(url_for("console.offer_versions"))
    except PublishConflict:
        flash("Iemand anders publiceerde op hetzelfde moment. Probeer het nog een keer.", "error")
        return redirect(url_for("console.offer_versions"))
    flash(f"Versie {number} staat weer in de assistent, als versie {new}.", "status")
    return redirect(url_for("console.offer_versions"))


@blueprint.route("/aanbod/export.yml", methods=["GET"], endpoint="offers_export")
@area_required(AREA)
def offers_export() -> Any:
    cat_store = catalogue_store()
    raw = request.args.get("versie")
    if raw:
        try:
            text = cat_store.version_text(int(raw))
        except ValueError:
            abort(404)
        if text is None:
            abort(404)
        name = f"aanbod-versie-{int(raw)}.yml"
    else:
        text, name = cat_store.draft_text(), "aanbod-concept.yml"
    answer = Response(text, mimetype="application/yaml")
    answer.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return answer


@blueprint.route("/aanbod/import", methods=["GET", "POST"], endpoint="offers_import")
@area_required(AREA)
def offers_import() -> Any:
    if request.method == "GET":
        return render_template("console/offer_import.html", problems=[])
    upload = request.files.get("bestand")
    data = upload.read(forms_limit() + 1) if upload and upload.filename else (request.form.get("tekst") or "").encode()
    problems: list[str] = []
    if not data.strip():
        problems = ["Kies een bestand of plak de tekst van het bestand."]
    elif len(data) > forms_limit():
        problems = ["Het bestand is te groot (hoogstens 1 MB)."]
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            problems = ["Dit bestand is geen tekstbestand (UTF-8)."]
        else:
            try:
                catalogue_store().import_text(text, _actor())
            except CatalogueInvalid as invalid:
                problems = [str(i) for i in invalid.issues[:50]]
    if problems:
        return render_template("console/offer_import.html", problems=problems), 400
    flash("Het bestand is ingelezen als concept. Publiceer om het in de assistent te zetten.", "status")
    return redirect(url_for("console.offers"))


def forms_limit() -> int:
    from .store import MAX_IMPORT_BYTES

    return MAX_IMPORT_BYTES


@blueprint.route("/aanbod/voorstellen", methods=["GET"], endpoint="offer_proposals")
@area_required(AREA)
def offer_proposals() -> Any:
    cat_store = catalogue_store()
    return render_template("console/offer_proposals.html", waiting=cat_store.proposals(status="new"),
                           decided=[p for p in cat_store.proposals() if p.status != "new"][:50],
                           topic_names=reference().topic_labels, errors={})


@blueprint.route("/aanbod/voorstellen/<proposal_id>/afwijzen", methods=["POST"], endpoint="proposal_decline")
@area_required(AREA)
def proposal_decline(proposal_id: str) -> Any:
    cat_store = catalogue_store()
    proposal = cat_store.proposal(proposal_id)
    if proposal is None or proposal.status != "new":
        abort(404)
    reason = (request.form.get("reason") or "").strip()
    problem = forms.text_problem(reason, forms.TEXT_LIMITS["decline_reason"]) or (
        None if reason else forms.form_message("required"))
    if problem:
        flash("Het voorstel is niet afgewezen. Vul een korte reden in, zonder < of >.", "error")
        return render_template("console/offer_proposals.html", waiting=cat_store.proposals(status="new"),
                               decided=[], topic_names=reference().topic_labels,
                               errors={proposal_id: problem}), 400
    cat_store.decline_proposal(proposal_id, reason, _actor())
    proposer_notifier().declined(proposal, reason)
    flash("Het voorstel is afgewezen.", "status")
    return redirect(url_for("console.offer_proposals"))
