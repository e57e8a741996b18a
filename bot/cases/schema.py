"""Tables of the case store (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

Change a table here AND add a migration (``migrations/versions``); ``tests/test_cases.py``
checks that the migrated schema matches these definitions.
"""
from __future__ import annotations

import sqlalchemy as sa

from bot.vocabulary import SEVERITIES

metadata = sa.MetaData()

STATUSES = ("open", "claimed", "closed")
CONTACT_PREFERENCES = ("chat", "phone", "whatsapp", "email")
# the parent chose to be answered in the conversation itself: only then is its number kept
ANSWER_IN_CONVERSATION = ("chat", "whatsapp")
ROLES = ("professional", "admin")
AUDIT_ACTIONS = (
    "created", "viewed", "claimed", "replied", "closed", "deleted",
    "user_created", "user_deactivated", "user_activated", "password_changed",
    "login", "login_failed", "logout",
    "team_created", "user_team_changed",
    "erased",  # what is left of a case's audit rows once the parent erased the conversation
    "totp_enabled", "totp_disabled", "totp_failed",  # the console's second factor (never the code)
)
# a professional's reply to a WhatsApp or Twilio parent: delivered, or not and why (issue 14, item 5)
DELIVERY_STATUSES = ("pending", "delivered", "not_delivered")
DELIVERY_REASONS = ("window", "refused", "unreachable", "no_number", "unconfirmed", "assistant_down")
VERSION_TABLE = "cases_alembic_version"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# A team (or organisation) of professionals: a professional sees only the cases of their team.
teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, unique=True),
)

console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    # bumped by logout and a password change: console sessions of an older version are refused
    sa.Column("session_version", sa.Integer, nullable=False, server_default="0"),
    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="SET NULL")),
    # the second factor (TOTP, migration 0007): a Fernet token of the secret (bot/cases/crypto.py),
    # never clear text; none: no second factor. The last 30-second step a code was accepted for:
    # a code is never accepted twice
    sa.Column("totp_secret", sa.String(512)),
    sa.Column("totp_last_step", sa.BigInteger),
    sa.CheckConstraint(_in("role", ROLES), name="ck_console_users_role"),
)

# A structured summary in the shape of Meldcode step 1 (signals), nothing more.
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(32)),
    sa.Column("municipality", sa.String(100)),
    sa.Column("topic", sa.String(40)),
    sa.Column("age_months", sa.Integer),
    sa.Column("phase", sa.String(8)),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("signal", sa.String(24)),
    sa.Column("words_consent", sa.Boolean, nullable=False, default=False),
    sa.Column("parent_words", sa.Text),  # JSON list of strings; only with words_consent
    sa.Column("contact_preference", sa.String(16), nullable=False),
    # a Fernet token of the phone number or e-mail address (bot/cases/crypto.py), never clear text
    sa.Column("contact_detail", sa.String(512)),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("assigned_to", sa.Integer, sa.ForeignKey("console_users.id", ondelete="SET NULL")),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("closed_at", sa.DateTime),
    # CONTRACT.md 4b; alerted_at: a crisis came in while a professional held the conversation
    sa.Column("situation", sa.String(32)),
    sa.Column("alerted_at", sa.DateTime),
    # the team whose professionals may see the case; none: only admins see it
    sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id", ondelete="SET NULL"), index=True),
    # the WhatsApp or Twilio number to answer in the conversation (a Fernet token, like
    # contact_detail), and when the parent last wrote there: kept only while the case is active
    # and the parent chose to be answered in the conversation; cleared on closing
    sa.Column("reply_number", sa.String(512)),
    sa.Column("last_inbound_at", sa.DateTime),
    sa.CheckConstraint(_in("status", STATUSES), name="ck_cases_status"),
    sa.CheckConstraint(_in("severity", SEVERITIES), name="ck_cases_severity"),
    sa.CheckConstraint(_in("contact_preference", CONTACT_PREFERENCES), name="ck_cases_contact"),
    sa.CheckConstraint("words_consent OR parent_words IS NULL", name="ck_cases_words_consent"),
)

# Who did what on which case, and when. No content: rows outlive the case they name.
case_audit = sa.Table(
    "case_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("action", sa.String(24), nullable=False),
    sa.Column("case_id", sa.String(32), index=True),
    sa.CheckConstraint(_in("action", AUDIT_ACTIONS), name="ck_case_audit_action"),
)

# Whether a professional's reply reached the parent's WhatsApp or Twilio number. No content.
case_deliveries = sa.Table(
    "case_deliveries",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("case_id", sa.String(32), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False,
              index=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(24)),  # why it was not delivered (DELIVERY_REASONS)
    sa.Column("code", sa.Integer),  # the messaging service's error code or HTTP status
    sa.Column("settled_at", sa.DateTime),
    sa.CheckConstraint(_in("status", DELIVERY_STATUSES), name="ck_case_deliveries_status"),
    sa.CheckConstraint("reason IS NULL OR " + _in("reason", DELIVERY_REASONS), name="ck_case_deliveries_reason"),
)
