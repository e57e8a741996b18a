"""The catalogue in the database (issue 20): seeded from the shipped file, versions with who,
when and a diff, rollback, YAML export and import both ways, the file mode of OPVOED_CATALOGUE,
catalogue-check on files, and the servers' refresh of the published version (on SQLite and on
PostgreSQL)."""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa

from bot.domain import dialogue
from bot.domain.catalogue import check, loader, published
from bot.domain.catalogue.model import DEFAULT_CATALOGUE
from bot.domain.catalogue.recommend import recommend
from bot.domain.catalogue.validate import validate_path, validate_text
from bot.services.cases import CaseStore
from bot.services.offers.store import CatalogueInvalid, CatalogueStore, NothingToPublish, own_offers
from tests.support.pg_schema import store_urls

NOW = {"OPVOED_CATALOGUE_REFRESH_SECONDS": "0"}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> Iterator[CaseStore]:
    with store_urls(request.param, tmp_path, "opv_catalogue") as urls:
        case_store = CaseStore.from_url(urls["cases"])
        yield case_store
        case_store.engine.dispose()
        with published._engines_lock:
            engine = published._engines.pop(urls["cases"], None)
        if engine is not None:
            engine.dispose()
    published.clear_cache()


def url_of(store: CaseStore) -> str:
    return store.engine.url.render_as_string(hide_password=False)


def renamed(cat: CatalogueStore, offer_id: str, name: str, actor: str = "redactie@voorbeeldstad.example") -> None:
    raw = dict(cat.raw_offer(offer_id))
    raw["name"] = name
    cat.save_offer(raw, actor, replaces=offer_id)


def test_a_fresh_database_is_seeded_from_the_shipped_file(store) -> None:
    cat = CatalogueStore(store)
    assert cat.newest() == 1
    [first] = cat.versions()
    assert first.action == "seed" and first.actor == "system" and "voorbeeldstad.yml" in first.summary
    assert cat.version_text(1) == DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    from_file = loader.load_catalogue(DEFAULT_CATALOGUE)
    from_database = published.load_published(url_of(store), NOW)
    assert [o.id for o in from_database.offers] == [o.id for o in from_file.offers]
    assert from_database.municipality == from_file.municipality
    assert cat.draft_changed() is False
    # seeding again does nothing
    assert published.ensure_seeded(store.engine) is False and cat.newest() == 1


def test_every_publish_is_a_version_with_who_when_and_a_diff(store) -> None:
    cat = CatalogueStore(store)
    with pytest.raises(NothingToPublish):
        cat.publish("redactie@voorbeeldstad.example")
    renamed(cat, "vs-cjg", "CJG Voorbeeldstad aan het plein (voorbeeld)")
    assert cat.draft_changed()
    assert published.load_published(url_of(store), NOW).offer("vs-cjg").name.startswith("Centrum voor Jeugd")
    number = cat.publish("redactie@voorbeeldstad.example")
    version = cat.version(number)
    assert number == 2 and version.actor == "redactie@voorbeeldstad.example" and version.action == "publish"
    assert version.created_at is not None and version.summary == "1 gewijzigd (vs-cjg)"
    assert '+    name: "CJG Voorbeeldstad aan het plein (voorbeeld)"' in version.diff.replace("'", '"') or \
        "+    name: CJG Voorbeeldstad aan het plein (voorbeeld)" in version.diff
    assert "-    name:" in version.diff
    assert published.load_published(url_of(store), NOW).offer("vs-cjg").name == "CJG Voorbeeldstad aan het plein (voorbeeld)"
    assert [e.action for e in store.audit_log()][:2] == ["catalogue_published", "offer_saved"]


def test_rolling_back_restores_the_assistants_answers(store) -> None:
    cat = CatalogueStore(store)
    url = url_of(store)

    def answer() -> str:
        conversation = dialogue.Conversation(slots={"topic": "driftbuien", "age_months": 36,
                                                    "neighbourhood": "De Akkers", "place_asked": True})
        outcome = dialogue.support_nearby(conversation, dialogue.Message(text="hulp in de buurt", intent="support_nearby"),
                                          published.load_published(url, NOW))
        return "\n".join(r.text for r in outcome.replies)

    before = answer()
    shown = [o for o in published.load_published(url, NOW).offers if o.name in before]
    assert shown, before
    local = [o for o in shown if o.origin.endswith("gemeente-database.yml")][0]  # not a national one
    renamed(cat, local.id, "Heel andere naam (voorbeeld)")
    cat.publish("redactie@voorbeeldstad.example")
    changed = answer()
    assert "Heel andere naam (voorbeeld)" in changed and changed != before
    new = cat.rollback(1, "redactie@voorbeeldstad.example")
    assert new == 3 and cat.version(3).action == "rollback"
    assert answer() == before
    assert cat.draft_text() == cat.version_text(1)
    assert "catalogue_rolled_back" in [e.action for e in store.audit_log()]
    with pytest.raises(KeyError):
        cat.rollback(99, "redactie@voorbeeldstad.example")


def test_yaml_export_and_import_both_ways(store, tmp_path: Path) -> None:
    cat = CatalogueStore(store)
    renamed(cat, "vs-cjg", "CJG na export (voorbeeld)")
    cat.publish("redactie@voorbeeldstad.example")
    exported = tmp_path / "export.yml"
    exported.write_text(cat.version_text(2), encoding="utf-8")
    # the exported file is a catalogue file: catalogue-check passes (its include is next to it)
    (tmp_path / "national.yml").write_text((DEFAULT_CATALOGUE.parent / "national.yml").read_text("utf-8"), "utf-8")
    out = io.StringIO()
    assert check.main([str(exported), "--no-gaps"], out=out) == 0, out.getvalue()
    assert validate_path(exported).catalogue.offer("vs-cjg").name == "CJG na export (voorbeeld)"
    # and a file changed outside comes back in
    text = exported.read_text("utf-8").replace("CJG na export (voorbeeld)", "CJG na import (voorbeeld)")
    cat.import_text(text, "redactie@voorbeeldstad.example")
    assert cat.draft_catalogue().offer("vs-cjg").name == "CJG na import (voorbeeld)"
    assert cat.publish("redactie@voorbeeldstad.example") == 3
    with pytest.raises(CatalogueInvalid) as invalid:
        cat.import_text(text.replace("level: A", "level: E", 1), "redactie@voorbeeldstad.example")
    assert "is not one of A, B, C, D" in str(invalid.value.issues[0])
    with pytest.raises(CatalogueInvalid) as invalid:  # no other file of the server is read
        cat.import_text(text.replace("include: [national.yml]", "include: [../bot/catalogue/topics.yml]"), "x")
    assert "only national.yml can be included" in str(invalid.value.issues[0])
    with pytest.raises(CatalogueInvalid):  # a national file is no municipality catalogue
        cat.import_text((DEFAULT_CATALOGUE.parent / "national.yml").read_text("utf-8"), "x")
    assert cat.draft_catalogue().offer("vs-cjg").name == "CJG na import (voorbeeld)"


def test_the_draft_never_holds_an_invalid_catalogue(store) -> None:
    cat = CatalogueStore(store)
    before = cat.draft_text()
    raw = dict(cat.raw_offer("vs-cjg"))
    for bad in ({"hours": {"ma": "25:00-26:00"}}, {"level": "E"}, {"description": "x" * 100_000},
                {"name": "<script>alert(1)</script>"}):
        with pytest.raises(CatalogueInvalid):
            cat.save_offer({**raw, **bad}, "x", replaces="vs-cjg")
    missing = {k: v for k, v in raw.items() if k != "source"}
    with pytest.raises(CatalogueInvalid):
        cat.save_offer(missing, "x", replaces="vs-cjg")
    assert cat.draft_text() == before
    assert cat.delete_offer("vs-cjg", "x") is True and "vs-cjg" not in {o.id for o in own_offers(cat.draft_catalogue())}
    assert cat.delete_offer("vs-cjg", "x") is False


def test_the_servers_see_a_published_version_at_their_next_check(store) -> None:
    cat = CatalogueStore(store)
    url = url_of(store)
    clock = [1000.0]
    env = {"OPVOED_CATALOGUE_REFRESH_SECONDS": "15"}
    first = published.load_published(url, env, clock=lambda: clock[0])
    renamed(cat, "vs-cjg", "CJG nieuw (voorbeeld)")
    cat.publish("x")
    clock[0] += 14  # within the refresh period: the catalogue this process has
    assert published.load_published(url, env, clock=lambda: clock[0]) is first
    clock[0] += 2  # the next check finds version 2
    assert published.load_published(url, env, clock=lambda: clock[0]).offer("vs-cjg").name == "CJG nieuw (voorbeeld)"


def test_database_mode_and_the_file_mode_of_opvoed_catalogue(store, monkeypatch, tmp_path: Path) -> None:
    url = url_of(store)
    monkeypatch.setenv("CASE_STORE_URL", url)
    monkeypatch.setenv("OPVOED_CATALOGUE_REFRESH_SECONDS", "0")
    monkeypatch.setenv("OPVOED_CATALOGUE_SOURCE", "database")
    monkeypatch.delenv("OPVOED_CATALOGUE", raising=False)
    cat = CatalogueStore(store)
    renamed(cat, "vs-cjg", "CJG uit de database (voorbeeld)")
    cat.publish("x")
    assert loader.load_catalogue().offer("vs-cjg").name == "CJG uit de database (voorbeeld)"
    # a municipality that prefers a file names it: the database is not used
    own = tmp_path / "eigen.yml"
    own.write_text(DEFAULT_CATALOGUE.read_text("utf-8").replace("include: [national.yml]",
                   f"include: [{DEFAULT_CATALOGUE.parent / 'national.yml'}]"), "utf-8")
    monkeypatch.setenv("OPVOED_CATALOGUE", str(own))
    assert loader.load_catalogue().offer("vs-cjg").name.startswith("Centrum voor Jeugd")
    # without OPVOED_CATALOGUE_SOURCE the library default stays the shipped file
    monkeypatch.delenv("OPVOED_CATALOGUE")
    monkeypatch.delenv("OPVOED_CATALOGUE_SOURCE")
    assert loader.load_catalogue().offer("vs-cjg").name.startswith("Centrum voor Jeugd")


def test_make_run_uses_the_database_unless_a_file_is_named() -> None:
    from bot import serve

    assert serve.runtime_env({})["OPVOED_CATALOGUE_SOURCE"] == "database"
    assert published.database_mode({"OPVOED_CATALOGUE_SOURCE": "database"})
    assert not published.database_mode({"OPVOED_CATALOGUE_SOURCE": "database", "OPVOED_CATALOGUE": "x.yml"})
    assert not published.database_mode({})


def test_a_database_not_migrated_yet_gives_the_seed_file_until_it_is(tmp_path: Path, caplog) -> None:
    url = f"sqlite:///{tmp_path / 'later.db'}"
    early = published.load_published(url, NOW)
    assert [o.id for o in early.offers] == [o.id for o in loader.load_catalogue(DEFAULT_CATALOGUE).offers]
    assert "python -m bot.services.cases upgrade" in caplog.text
    store = CaseStore.from_url(url)  # migrated: the next check seeds and uses the database
    assert published.load_published(url, NOW).path == "database:v1"
    store.engine.dispose()


def test_validate_text_is_validate_path_on_the_same_text(tmp_path: Path) -> None:
    text = DEFAULT_CATALOGUE.read_text("utf-8")
    from_text = validate_text(text, DEFAULT_CATALOGUE)
    from_path = validate_path(DEFAULT_CATALOGUE)
    assert [str(i) for i in from_text.issues] == [str(i) for i in from_path.issues]
    assert [o.id for o in from_text.catalogue.offers] == [o.id for o in from_path.catalogue.offers]
    broken = validate_text(text.replace('ma: "09:00-17:00"', 'ma: "09:00-27:00"', 1), DEFAULT_CATALOGUE)
    assert broken.errors and "municipality.office_hours.ma" in str(broken.errors[0])


def test_the_catalogue_check_still_validates_a_file(tmp_path: Path) -> None:
    out = io.StringIO()
    assert check.main([str(DEFAULT_CATALOGUE), "--no-gaps", "--quiet"], out=out) == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("schema_version: 1\nkind: municipality\noffers: []\n", "utf-8")
    out = io.StringIO()
    assert check.main([str(bad)], out=out) == 1 and "municipality: is missing" in out.getvalue()


def test_the_migration_goes_down_and_up(tmp_path: Path) -> None:
    store = CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}")
    CatalogueStore(store).ensure_seeded()
    store.downgrade("0011-1")
    tables = set(sa.inspect(store.engine).get_table_names())
    assert not {"catalogue_versions", "catalogue_draft", "offer_proposals"} & tables
    store.migrate()
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {"catalogue_versions", "catalogue_draft", "offer_proposals"} <= tables
