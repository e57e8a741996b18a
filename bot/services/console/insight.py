"""The municipality's insight page (issue 18) on the console blueprint: /console/inzicht, its CSV
export and the monthly summary. Role "beleid" and admins (area "inzicht"); anonymous counts only,
every count under 5 hidden (bot/services/insight/suppress.py). The export and the summary are audited."""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone

from flask import Response, abort, render_template, request, url_for
from flask_login import current_user

from bot.services.insight import charts, labels
from bot.services.insight.report import (
    HIDDEN, MAX_WEEKS, SUPPRESSED, THRESHOLD, build_report, cell_id, default_filters, label, month_filters,
    parse_filters, row_label, to_csv,
)

from .views import area_required, blueprint, store

logger = logging.getLogger(__name__)
WEEK_CHOICES = (1, 2, 4, 8, 13, 26)


def _catalogue():  # type: ignore[no-untyped-def]
    try:
        from bot.domain.catalogue import load_catalogue

        return load_catalogue()
    except Exception as error:  # noqa: BLE001 - the page works without the catalogue, without gaps
        logger.error("insight: the catalogue could not be read (%s)", type(error).__name__)
        return None


def _neighbourhoods(catalogue) -> list:  # type: ignore[no-untyped-def]
    municipality = getattr(catalogue, "municipality", None)
    return list(municipality.neighbourhood_names()) if municipality else []


def _today() -> date:
    return datetime.now(timezone.utc).date()


def _context(report, catalogue, notes=()):  # type: ignore[no-untyped-def]
    return dict(report=report, charts=charts, cell_id=cell_id, label=label, row_label=row_label, notes=list(notes),
                municipality=catalogue.name if catalogue is not None else "", threshold=THRESHOLD,
                suppressed=SUPPRESSED, hidden=HIDDEN, channel_names=labels.CHANNEL_NAMES,
                neighbourhoods=_neighbourhoods(catalogue), week_choices=WEEK_CHOICES, max_weeks=MAX_WEEKS,
                unknown=labels.UNKNOWN_LABEL)


@blueprint.get("/inzicht")
@area_required("inzicht")
def insight():  # type: ignore[no-untyped-def]
    catalogue = _catalogue()
    filters, notes = parse_filters(request.args, _today(), _neighbourhoods(catalogue))
    report = build_report(store().engine, filters, catalogue)
    return render_template("console/insight.html", **_context(report, catalogue, notes),
                           export_url=url_for("console.insight_export", **filters.query()),
                           month=(filters.start.strftime("%Y-%m")))


@blueprint.get("/inzicht/export.csv")
@area_required("inzicht")
def insight_export():  # type: ignore[no-untyped-def]
    catalogue = _catalogue()
    filters, _notes = parse_filters(request.args, _today(), _neighbourhoods(catalogue))
    report = build_report(store().engine, filters, catalogue)
    store().audit("insight_exported", current_user.email)
    name = f"inzicht-{filters.start.isoformat()}-{filters.weeks}w.csv"
    return Response("\ufeff" + to_csv(report), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@blueprint.get("/inzicht/maand")
@area_required("inzicht")
def insight_month():  # type: ignore[no-untyped-def]
    """A monthly summary as one HTML file (styles and charts inside) to send on."""
    month = request.args.get("maand") or default_filters(_today()).start.strftime("%Y-%m")
    try:
        filters = month_filters(month)
    except ValueError:
        abort(400)
    catalogue = _catalogue()
    report = build_report(store().engine, filters, catalogue)
    store().audit("insight_exported", current_user.email)
    html = render_template("console/insight_month.html", **_context(report, catalogue), month=month,
                           css=_inline_css())
    return Response(html, mimetype="text/html",
                    headers={"Content-Disposition": f'attachment; filename="inzicht-{month}.html"'})


def _inline_css() -> str:
    from pathlib import Path

    return (Path(__file__).parent / "static" / "insight.css").read_text(encoding="utf-8")
