"""The engine's data model: shops, received webhooks, jobs, compliance requests. Features add their own
(`shopapp/features/<name>/models.py`) on the same `Base`, so one metadata holds every table.

The database is the source of truth. Every timestamp is stored as UTC and read back timezone-aware.
Shop access tokens are encrypted at rest (`shopapp.crypto`).
"""
from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shopapp import crypto
from shopapp.clock import format_timestamp, utcnow


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC, so SQLite and PostgreSQL behave alike."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use shopapp.models.utcnow()")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


def storable(text: str) -> str:
    """`text` as both databases can store it: NUL characters removed (PostgreSQL refuses them in text and
    varchar: "A string literal cannot contain NUL (0x00) characters"), lone surrogates (a JSON escape like
    "\\ud83d", which UTF-8 cannot encode) replaced by U+FFFD. Real Shopify data carries NULs pasted from
    other systems; without this a job would fail at its commit on PostgreSQL and succeed on SQLite."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


class StorableString(TypeDecorator):
    """VARCHAR(n) of text made `storable` on the way in: the type of every short text column."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return storable(value) if isinstance(value, str) else value


class StorableText(TypeDecorator):
    """TEXT made `storable` on the way in: the type of every long text column."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return storable(value) if isinstance(value, str) else value


class EncryptedText(TypeDecorator):
    """Text encrypted with the configured Fernet keys before it reaches the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else crypto.encrypt(value)

    def process_result_value(self, value, dialect):
        return None if value is None else crypto.decrypt(value)


# Deterministic constraint names so that alembic migrations match on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class ProjectionRow:
    """Columns every projection row has (mixed into a feature's model): its shop, and what the stale guard
    orders deliveries by (`shopapp.webhooks.freshness`): the applied payload's `updated_at`, the applied
    delivery's `X-Shopify-Triggered-At`, how many deliveries were applied, and when the row last changed."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_domain: Mapped[str] = mapped_column(StorableString(255))
    source_updated_at: Mapped[Optional[datetime]]   # the payload's updated_at
    triggered_at: Mapped[Optional[datetime]]        # X-Shopify-Triggered-At of the applied delivery
    applied_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobState(str, enum.Enum):
    """The states of a job. Values are the strings on the wire and in the database."""

    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED)


class WebhookStatus(str, enum.Enum):
    """What became of a received webhook."""

    RECEIVED = "received"      # committed, job queued
    PROCESSED = "processed"    # its job succeeded
    IGNORED = "ignored"        # no handler, stale, or shop uninstalled
    FAILED = "failed"          # its job failed for good
    REDACTED = "redacted"      # payload removed by a compliance request


class Shop(Base):
    """A shop that installed the app. Tokens are encrypted at rest."""

    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(StorableString(255), unique=True)
    installed: Mapped[bool] = mapped_column(Boolean, default=True)
    installed_at: Mapped[Optional[datetime]]
    uninstalled_at: Mapped[Optional[datetime]]
    scopes: Mapped[str] = mapped_column(StorableText, default="")
    access_token: Mapped[Optional[str]] = mapped_column(EncryptedText)
    access_token_expires_at: Mapped[Optional[datetime]]
    refresh_token: Mapped[Optional[str]] = mapped_column(EncryptedText)
    refresh_token_expires_at: Mapped[Optional[datetime]]
    # Set when Shopify refused our tokens (revoked, invalid_subject_token): the merchant must reopen the app.
    needs_reauth: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEvent(Base):
    """One webhook delivery as received, deduplicated on two keys, each by a unique constraint: Shopify's
    webhook id (one delivery, retried) and the topic with its event id (one event reaching the app through
    two subscriptions: two webhook ids, one event id). Rows without an event id never collide."""

    __tablename__ = "webhook_events"
    # event_id first: the index also serves a lookup by event id alone.
    __table_args__ = (Index("uq_webhook_events_event_id_topic", "event_id", "topic", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook_id: Mapped[str] = mapped_column(StorableString(255), unique=True)
    event_id: Mapped[Optional[str]] = mapped_column(StorableString(255))
    topic: Mapped[str] = mapped_column(StorableString(100))
    shop_domain: Mapped[str] = mapped_column(StorableString(255), index=True)
    api_version: Mapped[Optional[str]] = mapped_column(StorableString(20))  # optional header (null when absent)
    triggered_at: Mapped[Optional[datetime]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[Optional[dict[str, Any]]]
    status: Mapped[str] = mapped_column(StorableString(20), default=WebhookStatus.RECEIVED.value)
    # X-Request-Id of the HTTP request that delivered it (the web process's log lines carry the same).
    request_id: Mapped[Optional[str]] = mapped_column(StorableString(128))

    job: Mapped[Optional[Job]] = relationship(back_populates="webhook_event", uselist=False)


class Job(Base):
    """A unit of work (a webhook's handling or a merchant-started task) and its live status."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_shop_created", "shop_domain", "created_at"),
        Index("ix_jobs_state_updated", "state", "updated_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_domain: Mapped[str] = mapped_column(StorableString(255), index=True)
    kind: Mapped[str] = mapped_column(StorableString(50))            # "webhook", "sync_products", ...
    topic: Mapped[Optional[str]] = mapped_column(StorableString(100))
    webhook_id: Mapped[Optional[str]] = mapped_column(StorableString(255))
    webhook_event_id: Mapped[Optional[int]] = mapped_column(ForeignKey("webhook_events.id", ondelete="SET NULL"),
                                                            unique=True)
    state: Mapped[str] = mapped_column(StorableString(20), default=JobState.QUEUED.value)
    progress: Mapped[int] = mapped_column(Integer, default=0)   # percent, 0..100
    message: Mapped[str] = mapped_column(StorableText, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    error: Mapped[Optional[str]] = mapped_column(StorableText)
    params: Mapped[Optional[dict[str, Any]]]
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    # Claiming: a worker sets these with a conditional update; a stale heartbeat lets another take over.
    claimed_by: Mapped[Optional[str]] = mapped_column(StorableString(255))
    heartbeat_at: Mapped[Optional[datetime]]
    run_after: Mapped[Optional[datetime]]        # earliest time of the next attempt (back-off)
    enqueued_at: Mapped[Optional[datetime]]      # last time it was put on an RQ queue
    # Every change bumps `version`; `published_version` trails it until the change reached Redis.
    version: Mapped[int] = mapped_column(Integer, default=1)
    published_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[Optional[datetime]]           # when its first attempt started
    attempt_started_at: Mapped[Optional[datetime]]   # when its latest attempt started
    finished_at: Mapped[Optional[datetime]]
    # The request that created it (the delivery's, or POST /api/jobs'): the worker's lines for the job carry it.
    request_id: Mapped[Optional[str]] = mapped_column(StorableString(128))

    webhook_event: Mapped[Optional[WebhookEvent]] = relationship(back_populates="job")

    def to_dict(self) -> dict:
        """The job as the contract's JSON object (websocket and /api/jobs)."""
        return job_dict(id=self.id, kind=self.kind, topic=self.topic, webhook_id=self.webhook_id, state=self.state,
                        progress=self.progress, message=self.message, attempts=self.attempts, error=self.error,
                        created_at=self.created_at, updated_at=self.updated_at)


def job_dict(*, id: int, kind: str, topic: Optional[str], webhook_id: Optional[str], state: str, progress: int,
             message: str, attempts: int, error: Optional[str], created_at: datetime, updated_at: datetime) -> dict:
    """The contract's job object (ARCHITECTURE.md, websocket messages), for a row or for one not loaded."""
    return {"id": id, "kind": kind, "topic": topic, "webhook_id": webhook_id, "state": state, "progress": progress,
            "message": message, "attempts": attempts, "error": error, "created_at": format_timestamp(created_at),
            "updated_at": format_timestamp(updated_at)}


class JobAttempt(Base):
    """An attempt of a job that did not succeed: when it ran, how it ended and why (the page's detail view).

    Written in the same transaction as the job's change (retrying, failed, handed over), so a succeeded
    job's only attempt costs nothing here; the latest attempt is on the job row (`attempt_started_at`).
    Deleted with its job.
    """

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[Optional[datetime]]
    ended_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str] = mapped_column(StorableString(30))   # retrying, failed, cancelled, stalled
    error: Mapped[Optional[str]] = mapped_column(StorableText)

    def to_dict(self) -> dict:
        """The attempt as the detail view shows it (no payload, no customer data: the error's first line)."""
        return {"attempt": self.attempt, "started_at": format_timestamp(self.started_at),
                "ended_at": format_timestamp(self.ended_at), "outcome": self.outcome, "error": self.error}


class ComplianceRequest(Base):
    """A GDPR/CCPA request from Shopify (customers/data_request, customers/redact, shop/redact)."""

    __tablename__ = "compliance_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_domain: Mapped[str] = mapped_column(StorableString(255), index=True)
    topic: Mapped[str] = mapped_column(StorableString(100))
    webhook_id: Mapped[str] = mapped_column(StorableString(255), unique=True)
    customer_id: Mapped[Optional[int]] = mapped_column(BigInteger)
    orders_requested: Mapped[Optional[dict[str, Any]]]
    status: Mapped[str] = mapped_column(StorableString(20), default="received")  # received, completed
    # What was found or done, without customer data (counts and ids only).
    result: Mapped[Optional[dict[str, Any]]]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[Optional[datetime]]
