"""The municipality's support catalogue (pyramid levels A to D): loading, checks, advice.

Data: ``catalogue/*.yml`` (format in catalogue/README.md, schema in schema.yml).
The catalogue in use is named by env ``OPVOED_CATALOGUE`` (default: the example municipality).
"""
from .hours import OpeningHours, is_holiday, is_open, next_opening
from .loader import load_catalogue, resolve_path
from .model import (
    Catalogue,
    CatalogueError,
    Contact,
    Issue,
    Municipality,
    Neighbourhood,
    Offer,
)
from .recommend import Recommendation, format_offer, recommend

__all__ = [
    "Catalogue", "CatalogueError", "Contact", "Issue", "Municipality", "Neighbourhood", "Offer",
    "OpeningHours", "Recommendation", "format_offer", "is_holiday", "is_open", "load_catalogue",
    "next_opening", "recommend", "resolve_path",
]
