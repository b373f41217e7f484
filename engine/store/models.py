"""Campaign state in one SQLAlchemy 2 (async) schema: SQLite file by default, PostgreSQL by URL.

Tables: campaigns, rounds, variants (cards), jobs (the embedded queue), outbox (every post, keyed for
exactly-once delivery), message_refs (platform message -> campaign/round/variant), votes, seen_events,
workspace_settings, workers (health), artifacts (creatives' bytes, with CAMPAIGNBOT_ARTIFACT_STORE=database),
delivery_leases (which replica follows a job), edit_budgets (status edits per workspace and minute),
pending_choices (a reaction or button choice waiting out its debounce). The schema is created and upgraded by Alembic (engine/store/migrations).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def now() -> float:
    return time.time()


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(20))
    workspace: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    thread: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    root_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    owner: Mapped[str] = mapped_column(String(64))
    owner_name: Mapped[str] = mapped_column(String(120), default="")
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    vote_seconds: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_round: Mapped[int] = mapped_column(
        Integer, default=1
    )  # the round replies refine from ("back to round N")
    created_at: Mapped[float] = mapped_column(Float, default=now)
    # set when retention pruned the campaign: the row stays (its id is never reused; a late reaction, reply
    # or button is told the campaign expired), its brief is emptied and everything else is deleted
    expired_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class Round(Base):
    __tablename__ = "rounds"
    # admission counts active rounds per user and in total (engine.store.repo.Repo._admit)
    __table_args__ = (
        UniqueConstraint("campaign_id", "number"),
        Index("ix_rounds_state_user", "state", "user"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    parent_round: Mapped[int | None] = mapped_column(Integer, nullable=True)
    parent_variant: Mapped[int | None] = mapped_column(Integer, nullable=True)
    instruction: Mapped[str | None] = mapped_column(Text, nullable=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # brief, size, seed, variants, colour hint...
    job_id: Mapped[str] = mapped_column(String(64))
    # who asked for the round: their limit of rounds being made counts it while it is queued or running
    user: Mapped[str] = mapped_column(String(64), default="", server_default="")
    state: Mapped[str] = mapped_column(
        String(16), default="queued"
    )  # queued running done failed cancelled dropped
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # studio Round.to_dict()
    vote_deadline: Mapped[float | None] = mapped_column(Float, nullable=True)
    vote_closed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class Card(Base):
    """One variant of one round: the creative card ``C12-R2-V3``."""

    __tablename__ = "variants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # card id
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    round_number: Mapped[int] = mapped_column(Integer)
    index: Mapped[int] = mapped_column(Integer)
    parent_card: Mapped[str | None] = mapped_column(String(40), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)  # copy, visual (seed, latent), models, palette
    image_path: Mapped[str] = mapped_column(Text)


class JobRow(Base):
    """The embedded durable queue. A job is written before the command is acknowledged."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # caller-supplied: idempotent enqueue
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    user: Mapped[str] = mapped_column(String(64), default="", index=True)
    state: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_until: Mapped[float] = mapped_column(Float, default=0.0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    stage: Mapped[str] = mapped_column(String(80), default="queued")
    percent: Mapped[int] = mapped_column(Integer, default=0)
    progress_seq: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now, index=True)
    updated_at: Mapped[float] = mapped_column(Float, default=now)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    handled: Mapped[bool] = mapped_column(Boolean, default=False)  # engine has stored the outcome
    # the variants finished before the round is done (engine.jobs.VariantResult dicts, in report order)
    partial: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)


class Outbox(Base):
    """Every message the engine owes a chat, keyed by (job/campaign, step): sent once, in order."""

    __tablename__ = "outbox"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    round_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    variant_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # root status grid variant note tally export tell
    platform: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(64))
    in_thread: Mapped[bool] = mapped_column(Boolean, default=True)
    user: Mapped[str | None] = mapped_column(String(64), nullable=True)  # for "tell" (ephemeral) notes
    message: Mapped[dict[str, Any]] = mapped_column(JSON)  # OutMessage fields
    reactions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reactions_done: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # set when an adapter bug (not a platform failure) kept failing: no more tries, see the log
    gave_up: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sent_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[float] = mapped_column(Float, default=now)
    # The claim (engine.outbox.OutboxSender): the sender that holds the row and until when. Nobody may take
    # the row before ``claimed_until``: a held claim, or the back-off after a failed try (claimed_by None).
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))
    # The attempt marker, written before the platform is called: a row found unsent with it set may have
    # been posted (a crash, a lost response), so it is reconciled with the platform before it is sent again.
    sending_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Steps of a post made of several calls already done (an upload's file id, the root message of a
    # Discord thread), so that a retry does not repeat them.
    steps: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class MessageRef(Base):
    __tablename__ = "message_refs"
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, index=True)
    round_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    variant_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))


class Vote(Base):
    __tablename__ = "votes"
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    user: Mapped[str] = mapped_column(String(64), primary_key=True)
    variant_index: Mapped[int] = mapped_column(Integer, primary_key=True)


class PendingChoice(Base):
    """The latest reaction or Refine-button choice on a campaign, waiting out its short debounce: when
    ``due_at`` passes it starts one refinement (engine.choices). One row per campaign: a later choice
    replaces it (``version`` + 1, the compare-and-set token), an unreact deletes it."""

    __tablename__ = "pending_choices"
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    round_number: Mapped[int] = mapped_column(Integer)
    variant_index: Mapped[int] = mapped_column(Integer)
    user: Mapped[str] = mapped_column(String(64))
    first_at: Mapped[float] = mapped_column(Float)
    due_at: Mapped[float] = mapped_column(Float, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class SeenEvent(Base):
    __tablename__ = "seen_events"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    seen_at: Mapped[float] = mapped_column(Float, default=now)


class WorkspaceSettings(Base):
    __tablename__ = "workspace_settings"
    platform: Mapped[str] = mapped_column(String(20), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    who_can_choose: Mapped[str] = mapped_column(String(16), default="owner")  # owner | anyone
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Worker(Base):
    __tablename__ = "workers"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    device: Mapped[str] = mapped_column(String(32), default="")
    models: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="starting")  # starting ready busy stopped
    last_seen: Mapped[float] = mapped_column(Float, default=now)


class Artifact(Base):
    """A file of the artifact store when it is the database (``CAMPAIGNBOT_ARTIFACT_STORE=database``): a
    creative, a contact sheet, a round's copy.json, an export, by its artifact name."""

    __tablename__ = "artifacts"
    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[float] = mapped_column(Float, default=now)


class DeliveryLease(Base):
    """Which engine (bot replica) follows a job: edits its status line and stores its outcome. Leased, so
    several replicas on one database do not each edit every status line; a dead replica's lease runs out."""

    __tablename__ = "delivery_leases"
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    until: Mapped[float] = mapped_column(Float)


class EditBudget(Base):
    """Status edits made in the current minute per workspace, shared by every replica: a platform that
    limits edits per workspace (Slack: chat.update, about 50 a minute) is never asked for more."""

    __tablename__ = "edit_budgets"
    scope: Mapped[str] = mapped_column(String(120), primary_key=True)  # platform:workspace
    minute: Mapped[int] = mapped_column(Integer)  # the ten-second window (seconds since the epoch // 10)
    used: Mapped[int] = mapped_column(Integer)
