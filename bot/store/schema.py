"""The relational schema (SQLAlchemy Core). Migrations in ``migrations/`` create it.

The same tables serve SQLite (one instance) and PostgreSQL (several instances): work
that instances share (due feeds, outbox rows) carries a lease (owner + expiry).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    Column("name", Text),
    Column("interval", Integer, nullable=False),
    Column("source", String(16), nullable=False, default="config"),  # config | user
    Column("added_by", Text),
    Column("active", Boolean, nullable=False, default=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(40)),
    # The entry prints (bot.core.decide.entry_print) of the body recorded last, base64:
    # its entries found in the next changed body are known without a seen-keys lookup,
    # whichever instance polls it next and after a restart. Written with body_hash.
    Column("entry_prints", Text),
    # Where the URL permanently redirects (every hop a 301 or 308), fetched there directly.
    # The feed keeps its URL: its items' identity keys are salted with it, and a config
    # feed stays the one its file names.
    Column("moved_to", Text),
    Column("ttl_seconds", Integer),
    Column("max_age", Integer),
    # False until the first successful poll: that poll records items without alerting.
    Column("seeded", Boolean, nullable=False, default=False),
    Column("last_fetch_at", UTCDateTime()),
    Column("last_success_at", UTCDateTime()),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("error_since", UTCDateTime()),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("failing_notified", Boolean, nullable=False, default=False),
    Column("next_poll_at", UTCDateTime()),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("items_seen", Integer, nullable=False, default=0),
)
Index("ix_feeds_due", feeds.c.next_poll_at)

watches = Table(
    "watches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("query", Text, nullable=False),
    Column("name", Text),
    Column("origin", String(16), nullable=False),  # config | chat | cli
    Column("owner", Text),  # destination that created it in chat
    Column("tenant", Text),  # workspace/server of that destination (None: operator's)
    Column("created_by", Text),
    Column("mention", Text),
    # Also polls a Google News search written from its query (bot.core.search_feeds).
    Column("google_news", Boolean, nullable=False, default=False),
    # Config watches without explicit channels follow the default destinations.
    Column("use_defaults", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("hits", Integer, nullable=False, default=0),
    Column("last_hit_at", UTCDateTime()),
    Column("created_at", UTCDateTime(), nullable=False),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True),
    Column("destination", Text, primary_key=True),
    # An unsubscribe keeps the row inactive, so a config re-sync does not undo it.
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime(), nullable=False),
    # Workspace/server of the destination, recorded by the chat command that subscribed it
    # (None for the operator's channels): items of a workspace's own feeds reach only it.
    Column("tenant", Text),
)
Index("ix_subscriptions_destination", subscriptions.c.destination)

# What a channel asked for (digest, quiet hours, snooze, story updates): no row is the
# default, realtime. Times of day are wall-clock in the row's IANA zones.
channel_controls = Table(
    "channel_controls",
    metadata,
    Column("destination", Text, primary_key=True),
    Column("digest", String(16), nullable=False, default="realtime"),
    Column("digest_at", String(5)),  # HH:MM
    Column("digest_tz", Text, nullable=False, default="UTC"),
    Column("quiet_start", String(5)),
    Column("quiet_end", String(5)),
    Column("quiet_tz", Text, nullable=False, default="UTC"),
    Column("snoozed_until", UTCDateTime()),
    Column("threads", Boolean, nullable=False, default=False),
    Column("template", Text),  # the alerts' first line (bot.core.templates)
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", Text),
)

# One watch's volume in one channel: snooze, hourly cap, outlet threshold.
watch_controls = Table(
    "watch_controls",
    metadata,
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), primary_key=True),
    Column("destination", Text, primary_key=True),
    Column("snoozed_until", UTCDateTime()),
    Column("max_per_hour", Integer),
    Column("min_outlets", Integer),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Stories a channel muted from an alert's button: no more alerts or updates of them there.
muted_stories = Table(
    "muted_stories",
    metadata,
    Column("destination", Text, primary_key=True),
    Column("story_key", String(40), primary_key=True),
    Column("muted_by", Text),
    Column("created_at", UTCDateTime(), nullable=False),
)

# "Not relevant" from an alert's button: one verdict per person, story and watch; shown as
# the watch's precision in ``watch list``.
feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("destination", Text, nullable=False),
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False),
    Column("story_key", String(40), nullable=False),
    Column("user", Text, nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("destination", "watch_id", "story_key", "user", name="uq_feedback_once"),
)

# Which workspaces/servers added a feed in chat. A feed with owners and source "user" is
# read for them only; the operator's feeds (source "config") are read for everyone.
feed_owners = Table(
    "feed_owners",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant", Text, primary_key=True),
    Column("added_by", Text),
    Column("created_at", UTCDateTime(), nullable=False),
    # Owned only as the Google News search of the workspace's watches: it goes with the
    # last of them. A feed the workspace added itself stays when its watches go.
    Column("watch_search", Boolean, nullable=False, default=False),
)
Index("ix_feed_owners_tenant", feed_owners.c.tenant)

destinations = Table(
    "destinations",
    metadata,
    Column("destination", Text, primary_key=True),
    Column("state", String(16), nullable=False, default="ok"),
    Column("last_error", Text),
    Column("failing_since", UTCDateTime()),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("retry_at", UTCDateTime()),
    Column("updated_at", UTCDateTime()),
)

articles = Table(
    "articles",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("title", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("content", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("published", UTCDateTime(), nullable=False),
    Column("published_known", Boolean, nullable=False),
    Column("first_seen_at", UTCDateTime(), nullable=False),
    Column("story_key", String(40), nullable=False),
    Column("image_url", Text),
    Column("guid", Text),
    # Why this article did not alert although it was new (first poll, too old...).
    Column("held_reason", Text),
    Column("updated_at", UTCDateTime()),  # when a materially changed headline was taken
    # The retitles counter (meta RETITLES_STAMP) when that headline was taken: a sender
    # notes the counter before it claims, and a message it posts of a story retitled
    # since is due an edit.
    Column("retitle_stamp", Integer),
    # The headline and summary the article was stored with, kept by its first retitle
    # (None: never retitled): a running story index knows the article by them, so the
    # index a restart rebuilds must too.
    Column("first_title", Text),
    Column("first_summary", Text),
)
Index("ix_articles_first_seen", articles.c.first_seen_at)
Index("ix_articles_story", articles.c.story_key)

seen_items = Table(
    "seen_items",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(24), primary_key=True),
    Column("seen_at", UTCDateTime(), nullable=False),
    # For raw keys: a fingerprint of the headline last seen, to notice a re-titled item.
    Column("note", String(16)),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("watch_id", Integer, ForeignKey("watches.id", ondelete="CASCADE"), nullable=False),
    Column("destination", Text, nullable=False),
    Column("story_key", String(40), nullable=False),
    Column("article_id", Integer, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    Column("matched", Text, nullable=False),  # JSON list of terms as written in the query
    Column("created_at", UTCDateTime(), nullable=False),
    # pending -> sent | dead; "maybe_sent" marks an attempt whose outcome is unknown.
    Column("state", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("maybe_sent", Boolean, nullable=False, default=False),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("sent_at", UTCDateTime()),
    Column("message_id", Text),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    # state "held": waits for a summary (why: bot.core.controls.Hold); "waiting": for its
    # story to reach the watch's outlet threshold; "dropped": it never did.
    Column("hold", String(16)),
    Column("held_at", UTCDateTime()),
    Column("digest", Text),  # set on a flushed summary's alerts: its heading
    # One alert per story, watch and destination: the core of "never twice".
    UniqueConstraint("watch_id", "destination", "story_key", name="uq_alert_story"),
)
Index("ix_alerts_outbox", alerts.c.state, alerts.c.destination, alerts.c.id)
Index("ix_alerts_article", alerts.c.article_id)
Index("ix_alerts_story", alerts.c.story_key, alerts.c.destination)
Index("ix_alerts_destination", alerts.c.destination, alerts.c.id)

# Every message a destination received, so a story that grows later edits its message
# instead of posting again: ``revision`` counts changes, ``edited_revision`` what the
# message shows; an edit waits for ``next_edit_at`` (one edit per message per gap).
# ``shown`` is what it last showed of each story (JSON of bot.core.living; NULL for a
# message posted before 0009, or by the CLI).
posts = Table(
    "posts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("destination", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revision", Integer, nullable=False, default=0),
    Column("edited_revision", Integer, nullable=False, default=0),
    Column("next_edit_at", UTCDateTime(), nullable=False),
    Column("edit_attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    Column("shown", Text),
    # What the message and its thread show once an unsure thread reply is there (JSON, as
    # ``shown``): set before the reply is sent, cleared once it is confirmed or certainly
    # not sent. While set, the next attempt resends that same reply, looked for first.
    Column("reply_pending", Text),
    UniqueConstraint("destination", "message_id", name="uq_post_message"),
)
Index("ix_posts_due", posts.c.destination, posts.c.next_edit_at)

# Operational notices (a feed failing / recovered, a channel that works again) go through
# their own small outbox, so one that meets a 5xx or a crash is still posted later.
notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("destination", Text, nullable=False),
    Column("text", Text, nullable=False),  # plain words: what a pre-0006 version posts
    Column("created_at", UTCDateTime(), nullable=False),
    Column("state", String(16), nullable=False, default="pending"),  # pending | sent | dead
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("last_error", Text),
    Column("lease_owner", String(64)),
    Column("lease_until", UTCDateTime()),
    # The notice as data (bot.core.notices, JSON); NULL for rows queued as text before 0006.
    Column("data", Text),
    # Set before each post and cleared once confirmed, or certainly not posted: while set,
    # the notice may be in the channel and the retry looks for it first.
    Column("maybe_sent", Boolean, nullable=False, default=False, server_default=false()),
)
Index("ix_notices_pending", notices.c.state, notices.c.next_attempt_at)

meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text),
)

# meta's key for a count of the transactions that retitled articles, by any instance.
RETITLES_STAMP = "retitles"
