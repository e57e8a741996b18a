"""The case store: migrations (SQLite and PostgreSQL), cases, claims, audit log, retention."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from bot.services.cases import CaseStore, ClaimConflict, CaseError, retention_days, store_url
from bot.services.cases import __main__ as cases_cli
from bot.services.cases import crypto
from bot.services.cases.crypto import ContactCipher
from bot.services.cases.schema import VERSION_TABLE, case_audit, cases, metadata
from tests.support.pg_schema import postgres_url

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
KEY = "b3B2b2VkbWFhdGplLXRlc3Qtc2xldXRlbC0zMmJ5dGU="  # a fixed Fernet key of these tests
CIPHER = ContactCipher([KEY])


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(Path(crypto.__file__).parent / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


HEAD = _head()


@pytest.fixture(scope="module")
def pg_url() -> str:
    url = postgres_url()
    if url is None:
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (database 'test')")
    return url


@pytest.fixture
def postgresql_store(pg_url: str) -> Iterator[CaseStore]:
    """A store in a fresh PostgreSQL schema, dropped afterwards."""
    schema = f"cases_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(pg_url)
    with admin.begin() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    store = CaseStore.from_url(pg_url, cipher=CIPHER, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield store
    finally:
        store.engine.dispose()
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> CaseStore:
    return CaseStore.from_url(f"sqlite:///{tmp_path / 'cases.db'}", cipher=CIPHER)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> CaseStore:
    return request.getfixturevalue(f"{request.param}_store")


def _case(store: CaseStore, **overrides):
    values = dict(conversation_id=f"conv-{uuid.uuid4().hex[:8]}", severity="aandacht",
                  topic="slapen", age_months=30, phase="2-4", channel="socketio",
                  municipality="Voorbeeldstad", contact_preference="chat", now=T0)
    values.update(overrides)
    return store.create_case(**values)


def _admin(store: CaseStore, email: str = "sanne@voorbeeldstad.example"):
    return store.add_user(email, "Sanne", "hash", "professional")


# --- migrations --------------------------------------------------------------------------

def test_migration_creates_the_schema_of_the_models(store: CaseStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    assert store.current_revision() == HEAD
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        diff = [d for d in compare_metadata(context, metadata)
                if not (isinstance(d, tuple) and d[0] == "remove_table" and d[1].name == VERSION_TABLE)]
    assert diff == []


def test_migrating_twice_changes_nothing(store: CaseStore) -> None:
    case = _case(store)
    store.migrate()
    assert store.get(case.id) == case
    assert store.current_revision() == HEAD


def test_downgrade_and_upgrade_again(sqlite_store: CaseStore) -> None:
    sqlite_store.downgrade("base")
    assert "cases" not in sa.inspect(sqlite_store.engine).get_table_names()
    sqlite_store.migrate()
    assert {"cases", "case_audit", "console_users"} <= set(sa.inspect(sqlite_store.engine).get_table_names())


def test_two_processes_starting_together_both_migrate(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'together.db'}"
    errors: list[BaseException] = []

    def start() -> None:
        try:
            CaseStore.from_url(url)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert CaseStore.from_url(url, migrate=False).current_revision() == HEAD


@pytest.mark.parametrize("env, expected", [
    ({}, "sqlite:///"),
    ({"CASE_STORE_URL": "postgresql://u:p@db:5432/cases"}, "postgresql://u:p@db:5432/cases"),
    ({"CASE_STORE_URL": "postgres://u@db/cases"}, "postgresql://u@db/cases"),
])
def test_store_url_from_one_setting(env: dict, expected: str) -> None:
    url = store_url(env)
    assert url.startswith(expected)
    if not env:
        assert url.endswith("var/cases.db")


# --- cases ------------------------------------------------------------------------------------

def test_a_case_holds_the_summary(store: CaseStore) -> None:
    case = _case(store, severity="crisis", signal="geweld", words_consent=True,
                 parent_words=["Hij slaat zijn zusje", "Ik weet het niet meer"],
                 contact_preference="phone", contact_detail="+31612345678")
    again = store.get(case.id)
    assert again == case
    assert case.status == "open" and case.assigned_to is None
    assert case.parent_words == ("Hij slaat zijn zusje", "Ik weet het niet meer")
    assert case.created_at == T0
    assert not case.anonymous


# --- contact details: encrypted at rest (issue 14, item 3) -------------------------------------

OTHER_KEY = "c29tZW9uZS1lbHNlcy1rZXktb2YtMzItYnl0ZXMtISE="


def _stored_detail(store: CaseStore, case_id: str) -> str:
    """The contact detail as the database holds it, read with SQL (not through the store)."""
    with store.engine.connect() as connection:
        return connection.execute(sa.text("SELECT contact_detail FROM cases WHERE id = :id"),
                                  {"id": case_id}).scalar()


@pytest.mark.parametrize("preference, detail, fragments", [
    ("phone", "+31612345678", ["612345678", "0612", "+316"]),
    ("email", "piet.jansen+ouders@example.nl", ["piet", "jansen", "example", "@"]),
])
def test_contact_details_are_unreadable_in_the_database_without_the_key(
        store: CaseStore, preference: str, detail: str, fragments: list) -> None:
    from cryptography.fernet import Fernet, InvalidToken

    case = _case(store, contact_preference=preference, contact_detail=detail)
    raw = _stored_detail(store, case.id)
    assert raw and all(fragment not in raw for fragment in fragments), raw
    assert raw.startswith("gAAAAA")  # a Fernet token
    with pytest.raises(InvalidToken):
        Fernet(OTHER_KEY).decrypt(raw.encode())
    assert Fernet(KEY).decrypt(raw.encode()).decode() == detail  # with the key it can be read
    # the store decrypts only when the detail is read (the console shows it)
    again = store.get(case.id)
    assert again.contact_detail == detail and not again.anonymous
    assert detail not in repr(again) and raw not in repr(again)
    # a server with another key cannot read it, and says so
    stranger = CaseStore(store.engine, ContactCipher([OTHER_KEY]))
    assert stranger.get(case.id).contact_detail == crypto.UNREADABLE
    # each detail gets its own token (random IV): equal details cannot be matched in the table
    twin = _case(store, contact_preference=preference, contact_detail=detail)
    assert _stored_detail(store, twin.id) != raw


def test_a_case_without_a_contact_detail_stores_none(store: CaseStore) -> None:
    case = _case(store, contact_preference="chat")
    assert _stored_detail(store, case.id) is None
    assert case.anonymous and case.contact_detail is None


def test_a_rotated_key_still_reads_old_details(sqlite_store: CaseStore) -> None:
    case = _case(sqlite_store, contact_preference="phone", contact_detail="+31612345678")
    rotated = CaseStore(sqlite_store.engine, ContactCipher([OTHER_KEY, KEY]))  # new key first
    assert rotated.get(case.id).contact_detail == "+31612345678"
    newer = _case(rotated, contact_preference="phone", contact_detail="+31687654321")
    assert sqlite_store.get(newer.id).contact_detail == crypto.UNREADABLE  # the old key alone cannot


def test_migration_0003_encrypts_details_stored_in_clear_and_the_downgrade_decrypts(store: CaseStore) -> None:
    store.downgrade("0002")
    with store.engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO cases (id, conversation_id, severity, words_consent, contact_preference, "
            "contact_detail, status, created_at) VALUES ('old1', 'c-old', 'normaal', :f, 'phone', "
            "'+31612345678', 'open', :at)"), {"f": False, "at": T0.replace(tzinfo=None)})
    store.migrate()
    raw = _stored_detail(store, "old1")
    assert raw.startswith("gAAAAA") and "612345678" not in raw
    assert store.get("old1").contact_detail == "+31612345678"
    store.downgrade("0002")
    assert _stored_detail(store, "old1") == "+31612345678"
    store.migrate()
    assert store.get("old1").contact_detail == "+31612345678"


def test_the_key_comes_from_the_environment_or_is_generated_once_with_mode_0600(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import stat

    key_file = tmp_path / "var" / "case-store-key"
    keys, from_env = crypto.load_keys({crypto.KEY_ENV: f" {KEY} , {OTHER_KEY}"}, key_file)
    assert keys == [KEY.encode(), OTHER_KEY.encode()] and from_env and not key_file.exists()

    created: list = []
    real_open = os.open

    def watching_open(path, flags, mode=0o777, *args, **kwargs):  # the mode is set at creation
        if str(path) == str(key_file):
            created.append((flags & os.O_CREAT and flags & os.O_EXCL, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", watching_open)
    first, from_env = crypto.load_keys({}, key_file)
    monkeypatch.undo()
    assert not from_env and created and all(excl and mode == 0o600 for excl, mode in created)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert crypto.load_keys({}, key_file)[0] == first  # generated once, then kept
    cipher = ContactCipher(first)
    assert cipher.decrypt(cipher.encrypt("a@b.nl")) == "a@b.nl"


@pytest.mark.parametrize("value", ["geheim", "a" * 44, "b3B2b2VkbWFhdGplLXRlc3Q="])
def test_a_key_that_is_no_fernet_key_is_refused(tmp_path: Path, value: str) -> None:
    with pytest.raises(crypto.CaseKeyError, match="Fernet"):
        crypto.load_keys({crypto.KEY_ENV: value}, tmp_path / "case-store-key")


def test_words_are_not_stored_without_consent(store: CaseStore) -> None:
    case = _case(store, words_consent=False, parent_words=["geheim"])
    assert case.parent_words == ()
    with store.engine.connect() as connection:
        stored = connection.execute(sa.select(cases.c.parent_words).where(cases.c.id == case.id)).scalar()
    assert stored is None


def test_the_database_refuses_words_without_consent(store: CaseStore) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as connection:
            connection.execute(cases.insert().values(
                id=uuid.uuid4().hex, conversation_id="c", severity="normaal", words_consent=False,
                parent_words=json.dumps(["x"]), contact_preference="chat", status="open",
                created_at=T0.replace(tzinfo=None)))


@pytest.mark.parametrize("field, value", [
    ("severity", "hoog"), ("contact_preference", "postduif"), ("conversation_id", ""),
])
def test_invalid_values_are_refused(store: CaseStore, field: str, value: str) -> None:
    with pytest.raises(ValueError):
        _case(store, **{field: value})


def test_open_cases_by_urgency_then_oldest(store: CaseStore) -> None:
    normal_old = _case(store, severity="normaal", now=T0)
    attention_new = _case(store, severity="aandacht", now=T0 + timedelta(hours=2))
    crisis_new = _case(store, severity="crisis", now=T0 + timedelta(hours=3))
    attention_old = _case(store, severity="aandacht", now=T0 + timedelta(hours=1))
    crisis_old = _case(store, severity="crisis", now=T0 + timedelta(minutes=5))
    closed = _case(store, severity="crisis", now=T0 - timedelta(hours=1))
    store.close(closed.id, _admin(store))
    order = [c.id for c in store.list_cases()]
    assert order == [crisis_old.id, crisis_new.id, attention_old.id, attention_new.id, normal_old.id]


def test_claim_is_exclusive_and_audited(store: CaseStore) -> None:
    case = _case(store)
    sanne = _admin(store)
    piet = store.add_user("piet@voorbeeldstad.example", "Piet", "hash", "professional")
    claimed = store.claim(case.id, sanne, now=T0 + timedelta(minutes=3))
    assert claimed.status == "claimed" and claimed.assigned_to == sanne.id
    assert claimed.assigned_name == "Sanne"
    assert claimed.claimed_at == T0 + timedelta(minutes=3)
    with pytest.raises(ClaimConflict):
        store.claim(case.id, piet)
    closed = store.close(case.id, sanne)
    assert closed.status == "closed" and closed.closed_at is not None
    with pytest.raises(CaseError):
        store.close(case.id, sanne)
    log = [(e.actor, e.action) for e in reversed(store.audit_log(case.id))]
    assert log == [("system", "created"), (sanne.email, "claimed"), (sanne.email, "closed")]


def test_audit_of_views_and_replies(store: CaseStore) -> None:
    case = _case(store)
    store.audit("viewed", "a@b.nl", case.id)
    store.audit("replied", "a@b.nl", case.id)
    assert [e.action for e in store.audit_log(case.id)][:2] == ["replied", "viewed"]
    with pytest.raises(ValueError):
        store.audit("read_everything", "a@b.nl", case.id)


def test_active_case_of_a_conversation_and_escalation(store: CaseStore) -> None:
    case = _case(store, conversation_id="conv-1", severity="normaal")
    assert store.active_case_for("conv-1").id == case.id
    assert store.active_case_for("conv-2") is None
    raised = store.escalate(case.id, "crisis", "suicide")
    assert (raised.severity, raised.signal) == ("crisis", "suicide")
    assert store.escalate(case.id, "normaal").severity == "crisis"  # never lowered
    store.close(case.id, _admin(store))
    assert store.active_case_for("conv-1") is None


def test_delete_for_conversation(store: CaseStore) -> None:
    keep = _case(store, conversation_id="other")
    _case(store, conversation_id="forget-me")
    _case(store, conversation_id="forget-me")
    assert store.delete_for_conversation("forget-me") == 2
    assert [c.id for c in store.list_cases()] == [keep.id]


def test_users(store: CaseStore) -> None:
    user = store.add_user("  Sanne@Voorbeeldstad.Example ", "Sanne", "h1", "admin")
    assert user.email == "sanne@voorbeeldstad.example" and user.is_admin and user.active
    assert store.user_by_email("SANNE@voorbeeldstad.example") == user
    with pytest.raises(ValueError):
        store.add_user("sanne@voorbeeldstad.example", "Again", "h", "admin")
    with pytest.raises(ValueError):
        store.add_user("x@y.nl", "X", "h", "superuser")
    store.set_user_active(user.id, False, "cli")
    store.set_password(user.id, "h2", "cli")
    again = store.user(user.id)
    assert not again.active and again.password_hash == "h2"


def test_logout_and_a_password_change_move_the_session_version(store: CaseStore) -> None:
    user = store.add_user("sanne@voorbeeldstad.example", "Sanne", "h1", "professional")
    assert user.session_version == 0
    assert store.end_sessions(user.id, user.email) == 1
    store.set_password(user.id, "h2", user.email)
    assert store.user(user.id).session_version == 2
    assert store.end_sessions(12345) == 0  # unknown user: nothing
    actions = [e.action for e in store.audit_log()]
    assert actions[:2] == ["password_changed", "logout"]


def test_logins_are_allowed_in_the_audit_log_by_the_database(store: CaseStore) -> None:
    for action in ("login", "login_failed", "logout"):
        store.audit(action, "sanne@voorbeeldstad.example")
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as connection:
            connection.execute(case_audit.insert().values(at=T0.replace(tzinfo=None), actor="x",
                                                          action="password_seen"))


def test_migration_0004_down_and_up_keeps_users(sqlite_store: CaseStore) -> None:
    user = sqlite_store.add_user("sanne@voorbeeldstad.example", "Sanne", "h1", "professional")
    sqlite_store.end_sessions(user.id, user.email)
    sqlite_store.downgrade("0003")
    assert "session_version" not in {c["name"] for c in sa.inspect(sqlite_store.engine).get_columns("console_users")}
    sqlite_store.migrate()
    again = sqlite_store.user(user.id)
    assert again.email == user.email and again.session_version == 0


def test_migration_0005_teams_down_and_up(store: CaseStore) -> None:
    team = store.add_team("Wijkteam Noord")
    user = store.add_user("sanne@voorbeeldstad.example", "Sanne", "h1", "professional", team_id=team.id)
    case = _case(store)
    assert case.team_id == team.id and case.team_name == "Wijkteam Noord"  # the only team
    store.set_user_team(user.id, None, "beheer@voorbeeldstad.example")
    store.downgrade("0004")
    inspector = sa.inspect(store.engine)
    assert "teams" not in inspector.get_table_names()
    assert "team_id" not in {c["name"] for c in inspector.get_columns("cases")}
    assert "team_id" not in {c["name"] for c in inspector.get_columns("console_users")}
    assert store.current_revision() == "0004"
    store.migrate()
    assert store.current_revision() == HEAD
    again = store.get(case.id)
    assert again is not None and again.team_id is None and again.conversation_id == case.conversation_id
    assert store.user(user.id).team_id is None and store.teams() == []
    assert "team_created" not in {e.action for e in store.audit_log()}  # removed by the downgrade
    store.audit("team_created", "beheer@voorbeeldstad.example")  # allowed again by the database


def test_a_deleted_team_leaves_its_cases_to_the_admins(store: CaseStore) -> None:
    from bot.services.cases.schema import teams

    team = store.add_team("Wijkteam Noord")
    case = _case(store)
    with store.engine.begin() as connection:
        connection.execute(teams.delete().where(teams.c.id == team.id))
    assert store.get(case.id).team_id is None


# --- retention -------------------------------------------------------------------------------

def test_purge_deletes_expired_cases_and_keeps_audit_rows_without_content(store: CaseStore) -> None:
    sanne = _admin(store)
    old_closed = _case(store, now=T0 - timedelta(days=100), words_consent=True, parent_words=["woorden"])
    store.close(old_closed.id, sanne, now=T0 - timedelta(days=95))
    recently_closed = _case(store, now=T0 - timedelta(days=120))
    store.close(recently_closed.id, sanne, now=T0 - timedelta(days=10))  # counts from closing
    old_open = _case(store, now=T0 - timedelta(days=91))
    fresh = _case(store, now=T0 - timedelta(days=89))

    assert store.purge_expired(now=T0, days=90) == 2
    assert store.get(old_closed.id) is None and store.get(old_open.id) is None
    assert store.get(recently_closed.id) is not None and store.get(fresh.id) is not None
    actions = [e.action for e in reversed(store.audit_log(old_closed.id))]
    assert actions == ["created", "closed", "deleted"]
    assert store.audit_log(old_open.id)[0].actor == "system:retention"
    # the audit table has no column that could hold content
    assert {c.name for c in case_audit.columns} == {"id", "at", "actor", "action", "case_id"}
    assert store.purge_expired(now=T0, days=90) == 0


@pytest.mark.parametrize("env, catalogue_days, expected", [
    ({"CASE_RETENTION_DAYS": "30"}, 45, 30),
    ({"CASE_RETENTION_DAYS": "nul"}, 45, 45),
    ({"CASE_RETENTION_DAYS": "-3"}, None, 90),
    ({}, 45, 45),
    ({}, None, 90),
])
def test_retention_days(monkeypatch: pytest.MonkeyPatch, env: dict, catalogue_days, expected: int) -> None:
    import bot.domain.catalogue.loader as model

    class Municipality:
        retention_days = catalogue_days

    class Catalogue:
        municipality = Municipality()

    def fake_load(*_a, **_k):
        if catalogue_days is None:
            raise model.CatalogueError(["no catalogue"])
        return Catalogue()

    monkeypatch.setattr(model, "load_catalogue", fake_load)
    assert retention_days(env) == expected


def test_purge_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("CASE_STORE_URL", url)
    store = CaseStore.from_url(url)
    _case(store, now=T0 - timedelta(days=40))
    _case(store, now=T0 - timedelta(days=20))
    assert cases_cli.main(["purge", "--days", "30", "--now", T0.isoformat()]) == 0
    assert "deleted 1 case(s)" in capsys.readouterr().out
    assert len(store.list_cases()) == 1
    assert cases_cli.main(["upgrade"]) == 0


def test_closing_a_case_deletes_its_contact_details_at_once(store: CaseStore) -> None:
    """Issue 14: the phone number is kept no longer than the case needs it (checked with SQL)."""
    case = _case(store, contact_preference="phone", contact_detail="+31612345678")
    other = _case(store, contact_preference="phone", contact_detail="+31687654321")
    store.close(case.id, _admin(store))
    with store.engine.connect() as connection:
        rows = dict(connection.execute(sa.select(cases.c.id, cases.c.contact_detail)).all())
    assert rows[case.id] is None and rows[other.id] is not None
    closed = store.get(case.id)
    assert closed.status == "closed" and closed.contact_detail is None and closed.contact_preference == "phone"


# --- answering in the conversation, delivery, erasure (issue 14, items 1 and 5) -------------------

WA_NUMBER = "31612345678"


def _sql(store: CaseStore, query: str, **params) -> list:
    with store.engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sa.text(query), params)]


def test_migration_0006_down_and_up(store: CaseStore) -> None:
    case = _case(store, channel="whatsapp")
    store.keep_reply_number(case.conversation_id, WA_NUMBER, T0)
    store.start_delivery(case.id, now=T0)
    store.delete_for_conversation("conv-none")  # nothing: no 'erased' row
    store.downgrade("0005")
    inspector = sa.inspect(store.engine)
    assert "case_deliveries" not in inspector.get_table_names()
    assert not {"reply_number", "last_inbound_at"} & {c["name"] for c in inspector.get_columns("cases")}
    store.migrate()
    assert store.current_revision() == HEAD
    assert store.reply_route(case.conversation_id) is None and store.deliveries(case.id) == []


def test_the_reply_number_is_kept_encrypted_only_for_an_active_case_answered_in_the_conversation(
        store: CaseStore) -> None:
    chat = _case(store, channel="whatsapp", conversation_id="wa-chat")
    phone = _case(store, channel="whatsapp", conversation_id="wa-phone", contact_preference="phone",
                  contact_detail="+31687654321")
    assert store.keep_reply_number("wa-chat", WA_NUMBER, T0) is True
    assert store.keep_reply_number("wa-phone", WA_NUMBER, T0) is False  # the parent chose to be phoned
    assert store.keep_reply_number("wa-no-case", WA_NUMBER, T0) is False  # no hand-off, no consent
    stored = dict(_sql(store, "SELECT id, reply_number FROM cases"))
    assert stored[phone.id] is None and set(stored) == {chat.id, phone.id}
    assert stored[chat.id].startswith("gAAAAA") and "612345678" not in stored[chat.id]
    route = store.reply_route("wa-chat")
    assert route.number == WA_NUMBER and route.last_inbound == T0
    assert WA_NUMBER not in repr(route)
    # unreadable without the key
    other_key = CaseStore(store.engine, ContactCipher([Fernet.generate_key()]))
    assert other_key.reply_route("wa-chat") is None
    # a later message moves the time of the window
    store.keep_reply_number("wa-chat", WA_NUMBER, T0 + timedelta(hours=3))
    assert store.reply_route("wa-chat").last_inbound == T0 + timedelta(hours=3)


def test_closing_and_the_purge_delete_the_reply_number(store: CaseStore) -> None:
    case = _case(store, channel="whatsapp", conversation_id="wa-close")
    store.keep_reply_number("wa-close", WA_NUMBER, T0)
    store.close(case.id, _admin(store))
    assert _sql(store, "SELECT reply_number, last_inbound_at FROM cases WHERE id = :i", i=case.id) == [(None, None)]
    assert store.reply_route("wa-close") is None
    # a case closed by other means (an older version, by hand): the purge deletes what it holds
    left = _case(store, channel="whatsapp", conversation_id="wa-left", contact_detail="+31687654321",
                 contact_preference="whatsapp")
    store.keep_reply_number("wa-left", WA_NUMBER, T0)
    with store.engine.begin() as connection:
        connection.execute(cases.update().where(cases.c.id == left.id).values(status="closed"))
    assert store.clear_closed_contacts() == 1
    assert _sql(store, "SELECT contact_detail, reply_number, last_inbound_at FROM cases WHERE id = :i",
                i=left.id) == [(None, None, None)]
    assert store.clear_closed_contacts() == 0


def test_a_delivery_is_settled_once_with_its_reason(store: CaseStore) -> None:
    case = _case(store, channel="whatsapp")
    first = store.start_delivery(case.id, now=T0)
    assert first.status == "pending" and not first.delivered
    assert store.settle_delivery(first.id, False, "window", 131047, now=T0) is True
    assert store.settle_delivery(first.id, True) is False  # settled already: stays as it is
    second = store.start_delivery(case.id, now=T0 + timedelta(minutes=1))
    assert store.settle_delivery(second.id, True) is True
    assert [(d.status, d.reason, d.code) for d in store.deliveries(case.id)] == [
        ("delivered", None, None), ("not_delivered", "window", 131047)]
    with pytest.raises(ValueError):
        store.settle_delivery(store.start_delivery(case.id).id, False, "no idea")
    with pytest.raises(sa.exc.IntegrityError):  # the database refuses an unknown reason too
        with store.engine.begin() as connection:
            connection.execute(sa.text("UPDATE case_deliveries SET reason = 'x' WHERE id = :i"), {"i": first.id})


def test_erasure_reduces_the_audit_rows_of_the_conversation_to_erased(store: CaseStore) -> None:
    """Leftover of issue 14, item 1: after "wis mijn gegevens" no row of the cases is left, their
    deliveries neither, and their audit rows are one row 'erased' each: no case id, no
    professional (checked with SQL)."""
    sanne = _admin(store)
    erased = _case(store, channel="whatsapp", conversation_id="wa-erase", contact_detail="+31687654321",
                   contact_preference="whatsapp")
    store.keep_reply_number("wa-erase", WA_NUMBER, T0)
    store.audit("viewed", sanne.email, erased.id)
    store.claim(erased.id, sanne)
    store.audit("replied", sanne.email, erased.id)
    store.settle_delivery(store.start_delivery(erased.id).id, True)
    kept = _case(store, conversation_id="wa-keep")
    store.audit("viewed", sanne.email, kept.id)
    kept_rows = _sql(store, "SELECT id, actor, action, case_id FROM case_audit WHERE case_id = :c ORDER BY id",
                     c=kept.id)

    assert store.delete_for_conversation("wa-erase", actor="parent") == 1
    assert _sql(store, "SELECT COUNT(*) FROM cases WHERE conversation_id = 'wa-erase'") == [(0,)]
    assert _sql(store, "SELECT COUNT(*) FROM case_deliveries WHERE case_id = :c", c=erased.id) == [(0,)]
    assert _sql(store, "SELECT COUNT(*) FROM case_audit WHERE case_id = :c", c=erased.id) == [(0,)]
    assert _sql(store, "SELECT actor, action, case_id FROM case_audit WHERE action = 'erased'") == [
        ("parent", "erased", None)]
    assert _sql(store, "SELECT COUNT(*) FROM case_audit WHERE actor = :a AND case_id IS NULL",
                a=sanne.email) == [(0,)]
    assert _sql(store, "SELECT id, actor, action, case_id FROM case_audit WHERE case_id = :c ORDER BY id",
                c=kept.id) == kept_rows  # nothing of another conversation
    assert store.delete_for_conversation("wa-erase") == 0


def test_the_purge_deletes_what_a_closed_case_still_holds(store: CaseStore, tmp_path: Path) -> None:
    from bot.services import purge

    left = _case(store, channel="whatsapp", conversation_id="wa-purge")
    store.keep_reply_number("wa-purge", WA_NUMBER, T0)
    with store.engine.begin() as connection:  # closed by other means than CaseStore.close
        connection.execute(cases.update().where(cases.c.id == left.id).values(status="closed", closed_at=T0))
    result = purge.purge(now=T0, days=90, tracker_url=f"sqlite:///{tmp_path / 'trackers.db'}", case_store=store)
    assert (result.cases, result.contacts) == (0, 1)
    assert _sql(store, "SELECT reply_number, last_inbound_at FROM cases WHERE id = :i", i=left.id) == [(None, None)]
