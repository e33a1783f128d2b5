"""The relay's tables. Times are Unix seconds (floats) so the schema is the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

#: 64-bit ids on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the 64-bit rowid already
BigId = BigInteger().with_variant(Integer, "sqlite")


def _pk() -> Any:
    return Field(default=None, sa_column=Column(BigId, primary_key=True, autoincrement=True))


def _fk(target: str) -> Any:
    return Field(sa_column=Column(BigId, ForeignKey(target), nullable=False))


class EventRow(SQLModel, table=True):
    """One received event; contact details are already hashed, IP/UA kept until retention."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_events_dedup_key"),)

    id: int | None = _pk()
    event_id: str = Field(max_length=255, index=True)
    event_name: str = Field(max_length=255)
    #: event_name + "\x1f" + event_id while the 48 h dedup window lasts, then NULL
    dedup_key: str | None = Field(default=None, max_length=600)
    event_time: int
    received_at: float = Field(index=True)
    action_source: str = Field(max_length=40)
    source: str = Field(max_length=20)  # gif | collect | events
    event_source_url: str | None = Field(default=None, sa_column=Column(Text))
    referrer_url: str | None = Field(default=None, sa_column=Column(Text))
    opt_out: bool = False
    hashed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ids: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    ip: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, sa_column=Column(Text))
    custom: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: raw consent signals and decoded facts (PII-free), region and country, for audit
    consent: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    pii_purged: bool = False


class DeliveryRow(SQLModel, table=True):
    """One (event, connector): the outbox row the worker claims."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "connector", "status", "next_attempt_at"),
        Index("ix_deliveries_event", "event_pk"),
    )

    id: int | None = _pk()
    event_pk: int = _fk("events.id")
    connector: str = Field(max_length=100)
    status: str = Field(max_length=20)  # pending | in_flight | delivered | dead | skipped
    attempts: int = 0
    next_attempt_at: float = 0.0
    lease_until: float | None = None
    worker_id: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    consent_decision: str = Field(max_length=10)  # allow | limited | deny
    consent_reason: str = Field(default="", sa_column=Column(Text, nullable=False))
    consent_mode: str | None = Field(default=None, max_length=10)
    ldu_country: int | None = None
    ldu_state: int | None = None
    created_at: float
    updated_at: float
    delivered_at: float | None = None


class AttemptRow(SQLModel, table=True):
    """One try at delivering one delivery: the platform's answer, PII and secrets masked."""

    __tablename__ = "delivery_attempts"
    __table_args__ = (Index("ix_attempts_delivery", "delivery_id"),)

    id: int | None = _pk()
    delivery_id: int = _fk("deliveries.id")
    at: float
    outcome: str = Field(max_length=20)  # delivered | retryable | permanent | skipped | paused
    status_code: int | None = None
    response: str | None = Field(default=None, sa_column=Column(Text))
    latency_ms: float | None = None
    #: the request that carried the event (method, URL, body), masked like the response (0004)
    request: str | None = Field(default=None, sa_column=Column(Text))


class ConnectorStateRow(SQLModel, table=True):
    """A configured connector's state: paused after an auth error until resumed or reconfigured."""

    __tablename__ = "connector_states"

    name: str = Field(primary_key=True, max_length=100)
    state: str = Field(default="active", max_length=10)
    reason: str | None = Field(default=None, sa_column=Column(Text))
    config_hash: str | None = Field(default=None, max_length=64)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    last_error_at: float | None = None
    last_success_at: float | None = None


class SecretRow(SQLModel, table=True):
    """Generated credentials, stored as SHA-256 digests only."""

    __tablename__ = "relay_secrets"

    name: str = Field(primary_key=True, max_length=100)
    digest: str = Field(max_length=64)
    created_at: float


class AdminSessionRow(SQLModel, table=True):
    """A dashboard session: the SHA-256 digest of its random cookie value, never the value itself."""

    __tablename__ = "admin_sessions"
    __table_args__ = (Index("ix_admin_sessions_expires", "expires_at"),)

    digest: str = Field(primary_key=True, max_length=64)
    #: digest of the admin token it was opened with: rotating the token ends its sessions
    token_digest: str = Field(max_length=64)
    created_at: float
    last_seen_at: float
    expires_at: float


class HeartbeatRow(SQLModel, table=True):
    """One row per writer name, rewritten by ``/readyz`` to prove storage takes (durable) writes."""

    __tablename__ = "relay_heartbeats"

    name: str = Field(primary_key=True, max_length=100)
    at: float


class ReconcileRunRow(SQLModel, table=True):
    """One order reconciliation (migration 0008): its counts, and the orders that did not match."""

    __tablename__ = "reconcile_runs"
    __table_args__ = (Index("ix_reconcile_runs_started", "started_at"),)

    id: int | None = _pk()
    started_at: float
    finished_at: float
    trigger: str = Field(max_length=20)  # cli | schedule
    source: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(max_length=20)  # matched | differences | error
    orders: int = 0
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    #: the orders that did not match, at most ``relay.reconcile.MAX_STORED`` of them
    items: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    error: str | None = Field(default=None, sa_column=Column(Text))
