"""Tables of the custom audience sync (migration 0002; the run history, migration 0005).

Members are identified by ``member_key``: a digest of their canonical hashed identifiers (see
``relay.audiences.members``); the canonical text itself is kept once per audience in
``audience_payloads``, so the acknowledged state per destination is a narrow table of keys.
No table holds a raw contact detail: only SHA-256 digests and device ids.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, Text
from sqlmodel import Field, SQLModel

KEY_LENGTH = 32  # hex characters of a member key (128 bits)
#: narrow tables that are only their primary key: on SQLite, one b-tree instead of a table plus an index
KEY_ONLY = {"sqlite_with_rowid": False}
IDENT_LENGTH = 300  # a 64-hex digest, or "madid:" and a device id
#: 64-bit ids on PostgreSQL; on SQLite an INTEGER PRIMARY KEY is the 64-bit rowid already
RUN_ID = BigInteger().with_variant(Integer, "sqlite")


class AudiencePayloadRow(SQLModel, table=True):
    """A member's canonical hashed identifiers, shared by the staging and state tables of its audience."""

    __tablename__ = "audience_payloads"

    audience: str = Field(primary_key=True, max_length=100)
    member_key: str = Field(primary_key=True, max_length=KEY_LENGTH)
    member: str = Field(sa_column=Column(Text, nullable=False))


class AudienceStagingRow(SQLModel, table=True):
    """The members the source holds now, written by a sync before it diffs.

    ``scope`` is ``*`` for sources that are the same for every destination, else the destination
    (an events source depends on each destination's consent).
    """

    __tablename__ = "audience_staging"
    __table_args__ = KEY_ONLY

    audience: str = Field(primary_key=True, max_length=100)
    scope: str = Field(primary_key=True, max_length=100)
    member_key: str = Field(primary_key=True, max_length=KEY_LENGTH)


class AudienceStateRow(SQLModel, table=True):
    """A member the platform acknowledged for (audience, destination): the diff engine's memory."""

    __tablename__ = "audience_state"
    __table_args__ = KEY_ONLY

    audience: str = Field(primary_key=True, max_length=100)
    destination: str = Field(primary_key=True, max_length=100)
    member_key: str = Field(primary_key=True, max_length=KEY_LENGTH)


class AudienceTargetRow(SQLModel, table=True):
    """One destination of an audience: the platform audience its state belongs to, and the progress of
    a full sync (a Meta replace session, or X's full re-add) so that a crash resumes it."""

    __tablename__ = "audience_targets"

    audience: str = Field(primary_key=True, max_length=100)
    destination: str = Field(primary_key=True, max_length=100)
    platform_audience_id: str = Field(max_length=255)
    mode: str | None = Field(default=None, max_length=10)  # replace | full while one is in progress
    session_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    batch_seq: int = 0
    resume_after: str = Field(default="", max_length=KEY_LENGTH)
    sent: int = 0
    fingerprint: str | None = Field(default=None, max_length=64)
    updated_at: float = 0.0


class RunLockColumns(SQLModel):
    """The columns of a run lock (see ``relay.storage.audiences.lock``), after the table's own key: the
    owner and its lease (one run at a time across processes), and the last run (summary: its JSON)."""

    owner: str | None = Field(default=None, max_length=100)
    lease_until: float | None = None
    status: str = Field(default="never", max_length=20)  # never | running | ok | partial | failed
    started_at: float | None = None
    finished_at: float | None = None
    summary: str | None = Field(default=None, sa_type=Text)
    error: str | None = Field(default=None, sa_type=Text)


class AudienceSyncRow(RunLockColumns, table=True):
    """One audience's run lock and its last run."""

    __tablename__ = "audience_syncs"

    audience: str = Field(primary_key=True, max_length=100)


class AudienceRunRow(SQLModel, table=True):
    """One finished run of one audience (the history the dashboard charts; the last runs are kept).

    The totals sum the destinations; ``destinations`` holds, per destination, its outcome and counts,
    the members it holds after the run (``size``) and the size its platform reports (``platform_size``,
    null when the platform gives none). ``error`` is masked like every recorded text."""

    __tablename__ = "audience_runs"
    __table_args__ = (Index("ix_audience_runs_audience", "audience", "id"),)

    id: int | None = Field(default=None, sa_column=Column(RUN_ID, primary_key=True, autoincrement=True))
    audience: str = Field(max_length=100)
    trigger: str = Field(max_length=20)  # schedule | cli | api
    status: str = Field(max_length=20)  # ok | partial | failed | interrupted
    started_at: float
    finished_at: float
    members: int | None = None  # in the source this run (null when the source could not be read)
    added: int = 0
    removed: int = 0
    failed: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    destinations: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class AudienceApiMemberRow(SQLModel, table=True):
    """A member pushed through ``POST /v1/audiences/{name}/members`` (source ``api``), hashed at the door."""

    __tablename__ = "audience_api_members"

    audience: str = Field(primary_key=True, max_length=100)
    member_key: str = Field(primary_key=True, max_length=KEY_LENGTH)
    member: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: float


class AudienceApiIdentRow(SQLModel, table=True):
    """The identifiers of an api member, to find it again by any of them (updates, removals, erasure)."""

    __tablename__ = "audience_api_idents"
    __table_args__ = (Index("ix_audience_api_idents_member", "audience", "member_key"), KEY_ONLY)

    audience: str = Field(primary_key=True, max_length=100)
    ident: str = Field(primary_key=True, max_length=IDENT_LENGTH)
    member_key: str = Field(primary_key=True, max_length=KEY_LENGTH)


class AudienceScratchRow(SQLModel, table=True):
    """Identifiers a sync sets aside while it runs (the people an events rule excludes)."""

    __tablename__ = "audience_scratch"
    __table_args__ = KEY_ONLY

    audience: str = Field(primary_key=True, max_length=100)
    scope: str = Field(primary_key=True, max_length=100)
    ident: str = Field(primary_key=True, max_length=IDENT_LENGTH)


class AudienceSuppressionRow(SQLModel, table=True):
    """A hashed identifier of a person who asked to be deleted: never synced to an audience again."""

    __tablename__ = "audience_suppressions"

    ident: str = Field(primary_key=True, max_length=IDENT_LENGTH)
    created_at: float


__all__ = [
    "IDENT_LENGTH",
    "KEY_LENGTH",
    "AudienceApiIdentRow",
    "AudienceApiMemberRow",
    "AudiencePayloadRow",
    "AudienceRunRow",
    "AudienceScratchRow",
    "AudienceStagingRow",
    "AudienceStateRow",
    "AudienceSuppressionRow",
    "AudienceSyncRow",
    "AudienceTargetRow",
    "RunLockColumns",
]
