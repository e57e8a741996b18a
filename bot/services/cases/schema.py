"""Tables of the case store (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

Change a table here AND add a migration (``migrations/versions``); ``tests/e2e/test_cases.py``
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
# beleid: the insight page (issue 18); redactie: the catalogue editor (issue 20); admins see both
ROLES = ("professional", "admin", "beleid", "redactie")
# what each role may open in the console: cases (the hand-offs), inzicht (issue 18), aanbod (issue 20)
ROLE_AREAS = {
    "professional": ("cases",),
    "admin": ("cases", "inzicht", "aanbod"),
    "beleid": ("inzicht",),
    "redactie": ("aanbod",),
}
AUDIT_ACTIONS = (
    "created", "viewed", "claimed", "replied", "closed", "deleted",
    "user_created", "user_deactivated", "user_activated", "password_changed",
    "login", "login_failed", "logout",
    "team_created", "user_team_changed",
    "erased",  # what is left of a case's audit rows once the parent erased the conversation
    "totp_enabled", "totp_disabled", "totp_failed",  # the console's second factor (never the code)
    # the catalogue editor (issue 20) and the insight export (issue 18); no content
    "offer_saved", "offer_deleted", "catalogue_imported", "catalogue_published",
    "catalogue_rolled_back", "proposal_accepted", "proposal_declined", "insight_exported",
)
# a professional's reply to a WhatsApp or Twilio parent: delivered, or not and why (issue 14, item 5)
DELIVERY_STATUSES = ("pending", "delivered", "not_delivered")
DELIVERY_REASONS = ("window", "refused", "unreachable", "no_number", "unconfirmed", "assistant_down")
# an opt-in follow-up a week or two after the answer (issue 19, bot/services/followups/)
FOLLOWUP_STATUSES = ("scheduled", "claimed", "sent", "answered", "cancelled", "failed")
FOLLOWUP_CHANNELS = ("rest", "socketio", "whatsapp")
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
    # the second factor (TOTP, migration 0007): a Fernet token of the secret (bot/services/cases/crypto.py),
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
    # a Fernet token of the phone number or e-mail address (bot/services/cases/crypto.py), never clear text
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
    # the language the parent wrote in (ISO 639-1; issue 17): the console shows it
    sa.Column("language", sa.String(8)),
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

# The support catalogue in the database (issue 20, migration 0011). A version is one published
# catalogue document (the YAML exchange format, as text); the newest number is in use. The draft
# is the one document the editors change before they publish it.
CATALOGUE_ACTIONS = ("seed", "publish", "import", "rollback")
PROPOSAL_STATUSES = ("new", "accepted", "declined")
catalogue_versions = sa.Table(
    "catalogue_versions",
    metadata,
    sa.Column("number", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(254), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("diff", sa.Text, nullable=False),
    sa.Column("summary", sa.String(500), nullable=False),
    sa.CheckConstraint(_in("action", CATALOGUE_ACTIONS), name="ck_catalogue_versions_action"),
)
catalogue_draft = sa.Table(
    "catalogue_draft",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),  # always 1
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("actor", sa.String(254), nullable=False),
)
# An offer a resident proposed on the public form (plain text, no HTML). The contact address is a
# Fernet token (bot/services/cases/crypto.py), only with consent; the purge clears it 30 days after a decline.
offer_proposals = sa.Table(
    "offer_proposals",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("audience", sa.String(200), nullable=False),
    sa.Column("topic", sa.String(40)),
    sa.Column("place", sa.String(200), nullable=False),
    sa.Column("when_text", sa.String(200), nullable=False),
    sa.Column("contact_name", sa.String(512)),
    sa.Column("contact_email", sa.String(512)),
    sa.Column("decided_at", sa.DateTime),
    sa.Column("decided_by", sa.String(254)),
    sa.Column("decline_reason", sa.String(500)),
    sa.Column("offer_id", sa.String(64)),
    sa.CheckConstraint(_in("status", PROPOSAL_STATUSES), name="ck_offer_proposals_status"),
)

# The municipality's insight (issue 18, migration 0010). insight_daily: how many questions (and
# crises, `situation` set) per day and fixed labels; '' is "not known". No text and no id.
# insight_seen and insight_state are the consumer's working tables, emptied after two days: the
# keys of the statistics records already counted (exactly once), and per conversation of the day
# (the broker's daily keyed hash) the labels known so far and the question counted last.
insight_daily = sa.Table(
    "insight_daily",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("topic", sa.String(40), nullable=False),
    sa.Column("phase", sa.String(8), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("support_level", sa.String(2), nullable=False),
    sa.Column("neighbourhood", sa.String(100), nullable=False),
    sa.Column("situation", sa.String(32), nullable=False),
    sa.Column("handoff", sa.Boolean, nullable=False),
    sa.Column("local_support", sa.Boolean, nullable=False),
    sa.Column("questions", sa.Integer, nullable=False),
    sa.UniqueConstraint("day", "channel", "language", "topic", "phase", "severity", "support_level",
                        "neighbourhood", "situation", "handoff", "local_support", name="uq_insight_daily_cell"),
)
insight_seen = sa.Table(
    "insight_seen",
    metadata,
    sa.Column("key", sa.String(40), primary_key=True),
    sa.Column("day", sa.Date, nullable=False, index=True),
)
insight_state = sa.Table(
    "insight_state",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("conversation", sa.String(16), primary_key=True),
    sa.Column("labels", sa.String(1000), nullable=False),  # JSON of fixed labels only
)

# An opt-in follow-up (issue 19): the conversation's pseudonymous id, its channel, topic, phase and
# severity, the due date and the bookkeeping of sending it; nothing else (no text, no number).
followups = sa.Table(
    "followups",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("topic", sa.String(40), nullable=False),
    sa.Column("phase", sa.String(8)),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),  # the 1st or 2nd follow-up
    sa.Column("tries", sa.Integer, nullable=False, server_default="0"),  # delivery tries
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    sa.CheckConstraint(_in("status", FOLLOWUP_STATUSES), name="ck_followups_status"),
    sa.CheckConstraint(_in("channel", FOLLOWUP_CHANNELS), name="ck_followups_channel"),
    sa.CheckConstraint(_in("severity", SEVERITIES), name="ck_followups_severity"),
)
