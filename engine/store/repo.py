"""Every query the engine makes, in one place. Engine modules call a :class:`Repo` method; none opens a
session itself. A method that must decide something inside its transaction (the next round number, the
rows a finished job adds) takes a plain function that builds the rows, so the rules stay in the engine."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, case, delete, exists, false, func, literal, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from engine.errors import CampaignExpiredError
from engine.store.db import current_lock_wait, sessionmaker
from engine.store.models import (
    Campaign,
    Card,
    DeliveryLease,
    EditBudget,
    JobRow,
    MessageRef,
    Outbox,
    PendingChoice,
    Round,
    SeenEvent,
    Vote,
    WorkspaceSettings,
    now,
)

logger = logging.getLogger(__name__)

Row = Round | Outbox | Card | MessageRef
ROUND_CAS_TRIES = 8  # concurrent events on one campaign: each takes the next round number in turn
ACTIVE_ROUND_STATES = ("queued", "running")  # a round being made: it counts against the limits
EXPIRED_REF = "expired"  # a message of an expired campaign: a late reaction on it is told so
ADMISSION_LOCK = 0x63616D70  # PostgreSQL advisory lock key that serialises admissions ("camp")
OUTBOX_CLAIM_BATCH = 20  # rows one claim takes at most (one per campaign)


def _pending(o: Any) -> ColumnElement[bool]:  # Outbox or an alias of it
    """An outbox row still owed: its message or its reactions not done, and not given up."""
    owed: ColumnElement[bool] = ((o.message_id.is_(None)) | (o.reactions_done.is_(False))) & o.gave_up.is_(
        False
    )
    return owed


class ChoiceGone(Exception):  # noqa: N818 - a signal, not an error
    """The pending choice being settled was replaced, withdrawn or settled by another pass meanwhile."""


class DuplicateEvent(Exception):  # noqa: N818 - a signal, not an error
    """The event being handled was recorded by another delivery of it first: its effect exists once."""


@dataclass
class _Handling:
    """The chat event a task is handling: recorded as seen in the first write transaction it makes."""

    repo: Repo
    key: str
    recorded: bool = False


_HANDLING: contextvars.ContextVar[_Handling | None] = contextvars.ContextVar("handling", default=None)


@dataclass(frozen=True)
class Active:
    """Rounds being made (queued or running), counted inside an admission: the asker's and everyone's."""

    mine: int
    total: int
    campaign: int = 0  # rounds being made in the admission's campaign (counted when it names one)


@dataclass(frozen=True)
class Admission:
    """A new active round asked for by ``user``. ``check`` (the engine's rule) sees the active rounds
    counted while admissions are serialised and raises to refuse; then nothing is written."""

    user: str
    check: Callable[[Active], None]
    campaign_id: int | None = None  # count this campaign's rounds being made too (Active.campaign)


@dataclass(frozen=True)
class Choice:
    """A pending choice as read: ``version`` is what settling or dropping it compares against."""

    campaign_id: int
    round_number: int
    variant: int
    user: str
    due_at: float
    version: int

    @classmethod
    def of(cls, row: PendingChoice) -> Choice:
        return cls(row.campaign_id, row.round_number, row.variant_index, row.user, row.due_at, row.version)


@dataclass
class Expired:
    """What one retention pass removed (or, in a dry run, would remove): the campaigns it expired and the
    rows per table (``message_refs`` counts references reduced to "expired" markers)."""

    campaigns: list[int] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Holdings:
    """What file retention must know: campaigns with a round being made (never touched), expired
    campaigns, and when each (campaign, round) was made."""

    active: frozenset[int]
    expired: frozenset[int]
    rounds: dict[tuple[int, int], float]


@dataclass
class NewRows:
    """Rows one step adds in one transaction, and field changes of the campaign and round it is about."""

    add: list[Row] = field(default_factory=list)
    campaign: dict[str, Any] = field(default_factory=dict)
    round: dict[str, Any] = field(default_factory=dict)


async def _acquire(lock: asyncio.Lock, timeout: float) -> None:
    """``lock`` within ``timeout`` seconds (else ``TimeoutError``); a wait that times out or is cancelled never
    leaves the lock held, even when it was granted at that very moment."""
    task = asyncio.ensure_future(lock.acquire())
    try:
        await asyncio.wait_for(asyncio.shield(task), timeout)
    except BaseException:
        if not task.cancel() and not task.cancelled() and task.exception() is None:
            lock.release()  # granted as the wait ended: give it back
        raise


async def _count(s: AsyncSession, model: type[Any], where: ColumnElement[bool]) -> int:
    return int(await s.scalar(select(func.count()).select_from(model).where(where)) or 0)


async def _remove(s: AsyncSession, model: type[Any], where: ColumnElement[bool], dry_run: bool) -> int:
    """Delete the rows ``where`` selects (a dry run counts them); how many."""
    if dry_run:
        return await _count(s, model, where)
    got = await s.execute(delete(model).where(where).execution_options(synchronize_session=False))
    return int(got.rowcount or 0)  # type: ignore[attr-defined]


class Repo:
    def __init__(self, db: AsyncEngine):
        self.db = db
        self.sessions: async_sessionmaker[AsyncSession] = sessionmaker(db)
        # SQLite: admissions of this process queue here, in order, instead of in the database's busy
        # handler, which sleeps (up to 100 ms a try) between tries: 50 commands at once spent most of
        # their time asleep. Other processes still meet the database's own lock (the busy timeout).
        self._admissions: asyncio.Lock | None = None

    async def close(self) -> None:
        await self.db.dispose()

    # -- events -------------------------------------------------------------------------------------------
    async def seen(self, key: str) -> bool:
        """Whether an event key was recorded (platforms deliver events again): one primary-key read."""
        async with self.sessions() as s:
            return await s.get(SeenEvent, key[:160]) is not None

    @asynccontextmanager
    async def handling(self, key: str) -> AsyncIterator[None]:
        """Handle one chat event: the first write transaction made inside records ``key`` as seen with
        its effect (a crash or an error before the effect commits leaves the event unseen, so its
        redelivery is handled; a duplicate delivered at the same time raises :class:`DuplicateEvent`
        there, and only one effect commits). An event that wrote nothing is recorded on leaving."""
        mark = _Handling(self, key[:160]) if key else None
        token = _HANDLING.set(mark)
        try:
            yield
        finally:
            _HANDLING.reset(token)
        if mark is not None and not mark.recorded:
            try:
                async with self.sessions() as s, s.begin():
                    s.add(SeenEvent(key=mark.key, seen_at=now()))
            except DBAPIError as exc:  # recorded meanwhile, or the database is busy: the answer stands
                logger.info("event %s handled without a seen mark: %s", mark.key, type(exc).__name__)

    @asynccontextmanager
    async def _write(self, *, admission: bool = False) -> AsyncIterator[AsyncSession]:
        """A write transaction. With ``admission``, admissions are serialised first (PostgreSQL: an
        advisory transaction lock; SQLite: the write lock taken up front with BEGIN IMMEDIATE, which waits
        out the busy timeout). The event being handled, if any and not recorded yet, is recorded in it."""
        mark = _HANDLING.get()
        mine = mark is not None and mark.repo is self and not mark.recorded
        async with self._admission_turn(admission), self.sessions() as s, s.begin():
            if admission:
                if self.db.dialect.name == "sqlite":
                    await s.execute(text("BEGIN IMMEDIATE"))
                elif self.db.dialect.name == "postgresql":
                    await s.execute(select(func.pg_advisory_xact_lock(ADMISSION_LOCK)))
            if mine:
                assert mark is not None
                s.add(SeenEvent(key=mark.key, seen_at=now()))
                try:
                    await s.flush()
                except IntegrityError as exc:
                    raise DuplicateEvent(mark.key) from exc
            yield s
        if mine:
            assert mark is not None
            mark.recorded = True

    @asynccontextmanager
    async def _admission_turn(self, admission: bool) -> AsyncIterator[None]:
        """On SQLite, one admission of this process at a time (see ``__init__``), waited for no longer than
        the transaction may wait for the database's lock (``TimeoutError`` past it, as a busy database)."""
        if not admission or self.db.dialect.name != "sqlite":
            yield
            return
        if self._admissions is None:
            self._admissions = asyncio.Lock()
        await _acquire(self._admissions, current_lock_wait())
        try:
            yield
        finally:
            self._admissions.release()

    @staticmethod
    async def _admit(s: AsyncSession, admit: Admission) -> None:
        """Count the rounds being made, in the admission's transaction, and let the engine's rule decide."""
        # one query (it is on every command's path): all rounds being made, the user's, the campaign's
        in_campaign = (
            func.sum(case((Round.campaign_id == admit.campaign_id, 1), else_=0))
            if admit.campaign_id is not None
            else literal(0)
        )
        q = select(func.count(), func.sum(case((Round.user == admit.user, 1), else_=0)), in_campaign).where(
            Round.state.in_(ACTIVE_ROUND_STATES)
        )
        total, mine, campaign = (await s.execute(q)).one()
        admit.check(Active(mine=int(mine or 0), total=int(total or 0), campaign=int(campaign or 0)))

    async def forget_events(self, older_than: float, *, dry_run: bool = False) -> int:
        """Forget event ids recorded before ``older_than``; how many (would be) forgotten."""
        async with self.sessions() as s, s.begin():
            return await _remove(s, SeenEvent, SeenEvent.seen_at < older_than, dry_run)

    # -- retention ----------------------------------------------------------------------------------------
    async def expire_campaigns(
        self,
        before: float,
        job_prefix: Callable[[int], str],
        *,
        dry_run: bool = False,
        limit: int | None = None,
    ) -> Expired:
        """Expire the campaigns with no round made since ``before`` and none being made: delete their
        rounds, cards, votes, handled jobs (ids starting with ``job_prefix(campaign id)``) and posts sent or
        given up, reduce their message references to "expired" markers, empty their brief and mark them
        expired; at most ``limit`` campaigns, oldest first. Rows that reached an expired campaign later (a
        note telling someone it expired) go too.
        Serialised with admissions, so no round can be added to a campaign while it expires."""
        out = Expired()
        async with self._write(admission=True) as s:
            last = (
                select(Round.campaign_id, func.max(Round.created_at).label("at"))
                .group_by(Round.campaign_id)
                .subquery()
            )
            busy = select(Round.campaign_id).where(Round.state.in_(ACTIVE_ROUND_STATES))
            q = (
                select(Campaign.id)
                .outerjoin(last, last.c.campaign_id == Campaign.id)
                .where(Campaign.expired_at.is_(None), Campaign.created_at < before)
                .where(last.c.at.is_(None) | (last.c.at < before), Campaign.id.not_in(busy))
                .order_by(Campaign.id)
            )
            for cid in (await s.scalars(q)).all():
                unhandled = JobRow.handled.is_(False) & JobRow.id.startswith(job_prefix(cid), autoescape=True)
                if not await s.scalar(select(func.count()).select_from(JobRow).where(unhandled)):
                    out.campaigns.append(cid)
                if limit is not None and len(out.campaigns) >= limit:
                    break
            new = Campaign.id.in_(out.campaigns)
            gone = select(Campaign.id).where(or_(new, Campaign.expired_at.is_not(None)))
            done_jobs = [JobRow.id.startswith(job_prefix(c), autoescape=True) for c in out.campaigns]
            sent = Outbox.message_id.is_not(None) & Outbox.reactions_done.is_(True)
            where: dict[str, tuple[type[Any], ColumnElement[bool]]] = {
                "rounds": (Round, Round.campaign_id.in_(gone)),
                "cards": (Card, Card.campaign_id.in_(gone)),
                "votes": (Vote, Vote.campaign_id.in_(gone)),
                "jobs": (JobRow, JobRow.handled.is_(True) & or_(false(), *done_jobs)),
                "outbox": (
                    Outbox,
                    Outbox.campaign_id.in_(gone)
                    & (sent | Outbox.gave_up.is_(True) | (Outbox.created_at < before)),
                ),
            }
            for name, (model, clause) in where.items():
                out.rows[name] = await _remove(s, model, clause, dry_run)
            refs = MessageRef.campaign_id.in_(out.campaigns) & (MessageRef.kind != EXPIRED_REF)
            out.rows["message_refs"] = await _count(s, MessageRef, refs)
            if not dry_run:
                await s.execute(
                    update(MessageRef)
                    .where(refs)
                    .values(kind=EXPIRED_REF, round_number=None, variant_index=None)
                    .execution_options(synchronize_session=False)
                )
                await s.execute(
                    update(Campaign)
                    .where(new)
                    .values(expired_at=now(), brief={})
                    .execution_options(synchronize_session=False)
                )
        return out

    async def holdings(self) -> Holdings:
        async with self.sessions() as s:
            active = await s.scalars(select(Round.campaign_id).where(Round.state.in_(ACTIVE_ROUND_STATES)))
            expired = await s.scalars(select(Campaign.id).where(Campaign.expired_at.is_not(None)))
            made = await s.execute(select(Round.campaign_id, Round.number, Round.created_at))
            return Holdings(
                active=frozenset(active.all()),
                expired=frozenset(expired.all()),
                rounds={(c, n): at for c, n, at in made.all()},
            )

    # -- campaigns and settings ---------------------------------------------------------------------------
    async def campaign(self, campaign_id: int) -> Campaign | None:
        async with self.sessions() as s:
            return await s.get(Campaign, campaign_id)

    async def campaign_in_thread(self, platform: str, thread: str) -> Campaign | None:
        async with self.sessions() as s:
            q = select(Campaign).where(Campaign.platform == platform, Campaign.thread == thread)
            return (await s.execute(q)).scalar_one_or_none()

    async def create_campaign(
        self, camp: Campaign, plan: Callable[[Campaign], NewRows], admit: Admission | None = None
    ) -> Campaign:
        """Insert a campaign and what ``plan`` (given the campaign with its id) adds, in one transaction;
        with ``admit``, only if its check lets the new round in (counted and written atomically)."""
        async with self._write(admission=admit is not None) as s:
            if admit is not None:
                await self._admit(s, admit)
            s.add(camp)
            await s.flush()
            s.add_all(plan(camp).add)
        return camp

    async def set_base_round(self, campaign_id: int, number: int, rows: Iterable[Row] = ()) -> None:
        async with self._write() as s:
            await s.execute(update(Campaign).where(Campaign.id == campaign_id).values(base_round=number))
            s.add_all(list(rows))

    async def workspace_settings(self, platform: str, workspace: str) -> WorkspaceSettings | None:
        async with self.sessions() as s:
            return await s.get(WorkspaceSettings, (platform, workspace))

    async def save_workspace_data(self, platform: str, workspace: str, data: dict[str, Any]) -> None:
        """Merge ``data`` into a workspace's free-form settings (what an adapter keeps, e.g. a digest)."""
        async with self.sessions() as s, s.begin():
            ws = await s.get(WorkspaceSettings, (platform, workspace))
            if ws is None:
                s.add(
                    WorkspaceSettings(
                        platform=platform, workspace=workspace, who_can_choose="owner", data=data
                    )
                )
            else:
                ws.data = {**(ws.data or {}), **data}

    # -- rounds -------------------------------------------------------------------------------------------
    async def round(self, campaign_id: int, number: int) -> Round | None:
        async with self.sessions() as s:
            q = select(Round).where(Round.campaign_id == campaign_id, Round.number == number)
            return (await s.execute(q)).scalar_one_or_none()

    async def max_round(self, campaign_id: int) -> int:
        async with self.sessions() as s:
            return int(
                await s.scalar(select(func.max(Round.number)).where(Round.campaign_id == campaign_id)) or 0
            )

    async def rounds(self, campaign_id: int, *, finished_only: bool = False) -> Sequence[Round]:
        async with self.sessions() as s:
            q = select(Round).where(Round.campaign_id == campaign_id)
            if finished_only:
                q = q.where(Round.result.is_not(None))
            return (await s.execute(q.order_by(Round.number))).scalars().all()

    async def rounds_in(self, states: Iterable[str], campaign_id: int | None = None) -> Sequence[Round]:
        async with self.sessions() as s:
            q = select(Round).where(Round.state.in_(list(states)))
            if campaign_id is not None:
                q = q.where(Round.campaign_id == campaign_id)
            return (await s.execute(q)).scalars().all()

    async def add_round(
        self,
        campaign_id: int,
        plan: Callable[[int], NewRows],
        admit: Admission | None = None,
        *,
        take: Choice | None = None,
    ) -> int:
        """Add the campaign's next round: ``plan(number)`` builds its rows with the number taken inside the
        transaction (with ``admit``, after its check let the round in); :class:`CampaignExpiredError` if
        retention expired the campaign (nothing is written). Compare-and-set: when another
        event took that number first (a unique key refuses the insert, or SQLite refuses a write on a
        stale snapshot), the number is taken again and ``plan`` called again, so two replies at once
        make two rounds. With ``take``, the round settles that pending choice: it is deleted in the same
        transaction, and :class:`ChoiceGone` is raised (nothing written) when it changed meanwhile."""
        for attempt in range(ROUND_CAS_TRIES):
            try:
                async with self._write(admission=admit is not None) as s:
                    if take is not None:
                        await self._take_choice(s, take)
                    if admit is not None:
                        await self._admit(s, admit)
                    expired = select(Campaign.expired_at).where(Campaign.id == campaign_id)
                    if await s.scalar(expired) is not None:  # retention expired it since it was read
                        raise CampaignExpiredError(campaign_id)
                    q = select(func.max(Round.number)).where(Round.campaign_id == campaign_id)
                    number = int(await s.scalar(q) or 0) + 1
                    s.add_all(plan(number).add)
                return number
            except (IntegrityError, OperationalError) as exc:
                retryable = isinstance(exc, IntegrityError) or "locked" in str(exc).lower()
                if not retryable or attempt == ROUND_CAS_TRIES - 1:
                    raise
                await asyncio.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    async def round_started(self, job_id: str) -> None:
        """A worker took the round's job: the round is running (once; a finished round stays finished)."""
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(Round).where(Round.job_id == job_id, Round.state == "queued").values(state="running")
            )

    async def requeue_round(
        self,
        round_id: int,
        job_id: str,
        spec: dict[str, Any],
        rows: Iterable[Row],
        admit: Admission | None = None,
    ) -> None:
        async with self._write(admission=admit is not None) as s:
            values: dict[str, Any] = {"job_id": job_id, "state": "queued", "spec": spec}
            if admit is not None:
                await self._admit(s, admit)
                values["user"] = admit.user
            await s.execute(update(Round).where(Round.id == round_id).values(**values))
            s.add_all(list(rows))

    async def finish_round(
        self, job_id: str, campaign_id: int, outcome: Callable[[Campaign, Round], NewRows | None]
    ) -> bool:
        """Store a finished job's outcome once: ``outcome`` builds the rows and changes for a round that is
        still active and returns None otherwise. False if the job has no round (nothing stored). Posts
        stored already (cards posted as their variants were ready, :meth:`round_cards`) are not added
        again; the cards' records become the outcome's."""
        async with self.sessions() as s, s.begin():
            rnd = (await s.execute(select(Round).where(Round.job_id == job_id))).scalar_one_or_none()
            camp = await s.get(Campaign, campaign_id)
            if rnd is None or camp is None:
                return False
            rows = outcome(camp, rnd)
            if rows is not None:
                for k, v in rows.round.items():
                    setattr(rnd, k, v)
                for k, v in rows.campaign.items():
                    setattr(camp, k, v)
                await self._add_new(s, rows.add)
        return True

    async def round_cards(
        self, job_id: str, campaign_id: int, build: Callable[[Campaign, Round], NewRows]
    ) -> int:
        """Store cards of a round still being made (variants finished before the round): ``build`` makes
        their rows; posts stored already are not added again, card records are replaced. Nothing is stored
        when the round is finished already (its outcome holds every card). How many posts were added."""
        async with self.sessions() as s, s.begin():
            rnd = (await s.execute(select(Round).where(Round.job_id == job_id))).scalar_one_or_none()
            camp = await s.get(Campaign, campaign_id)
            if rnd is None or camp is None or rnd.state not in ACTIVE_ROUND_STATES:
                return 0
            return await self._add_new(s, build(camp, rnd).add)

    @staticmethod
    async def _add_new(s: AsyncSession, rows: Sequence[Row]) -> int:
        """Add ``rows`` but the posts whose key is stored already; a card replaces its stored record (the
        card id is its round's and index). How many posts were added."""
        keys = [r.key for r in rows if isinstance(r, Outbox)]
        have = set((await s.scalars(select(Outbox.key).where(Outbox.key.in_(keys)))).all()) if keys else set()
        added = 0
        for r in rows:
            if isinstance(r, Card):
                await s.merge(r)
            elif not isinstance(r, Outbox) or r.key not in have:
                s.add(r)
                added += isinstance(r, Outbox)
        return added

    async def card(self, card_id: str) -> Card | None:
        async with self.sessions() as s:
            return await s.get(Card, card_id)

    async def cards(self, campaign_id: int) -> Sequence[Card]:
        async with self.sessions() as s:
            q = select(Card).where(Card.campaign_id == campaign_id).order_by(Card.round_number, Card.index)
            return (await s.execute(q)).scalars().all()

    # -- votes --------------------------------------------------------------------------------------------
    async def add_vote(self, campaign_id: int, round_number: int, user: str, choice: int) -> None:
        async with self._write() as s:
            if await s.get(Vote, (campaign_id, round_number, user, choice)) is None:
                s.add(
                    Vote(campaign_id=campaign_id, round_number=round_number, user=user, variant_index=choice)
                )

    async def votes_due(self, at: float) -> Sequence[Round]:
        async with self.sessions() as s:
            q = select(Round).where(
                Round.vote_deadline.is_not(None), Round.vote_deadline <= at, Round.vote_closed.is_(False)
            )
            return (await s.execute(q)).scalars().all()

    async def close_vote(self, rnd: Round) -> list[Vote] | None:
        """Close a round's vote and return its votes; None if another pass closed it first."""
        async with self.sessions() as s, s.begin():
            got = await s.execute(
                update(Round).where(Round.id == rnd.id, Round.vote_closed.is_(False)).values(vote_closed=True)
            )
            if got.rowcount != 1:  # type: ignore[attr-defined]
                return None
            q = select(Vote).where(Vote.campaign_id == rnd.campaign_id, Vote.round_number == rnd.number)
            return list((await s.execute(q)).scalars().all())

    # -- pending choices (reaction debounce) ---------------------------------------------------------------
    async def choose(
        self, campaign_id: int, round_number: int, variant: int, user: str, *, wait: float, cap: float
    ) -> Choice:
        """Record ``user``'s choice as the campaign's pending one: due ``wait`` seconds from now, but no
        later than ``cap`` seconds after the first choice of the storm. Serialised like admissions, so a
        storm of reactions at once leaves one row holding the latest."""
        async with self._write(admission=True) as s:
            t = now()
            row = await s.get(PendingChoice, campaign_id)
            if row is None:
                row = PendingChoice(campaign_id=campaign_id, first_at=t, version=0)
                s.add(row)
            row.round_number, row.variant_index, row.user = round_number, variant, user
            row.due_at = min(t + wait, row.first_at + cap)
            row.version += 1
            await s.flush()
            return Choice.of(row)

    async def withdraw_choice(self, campaign_id: int, round_number: int, variant: int, user: str) -> bool:
        """An unreact: the campaign's pending choice goes if it is this one. True if one was withdrawn."""
        async with self._write() as s:
            got = await s.execute(
                delete(PendingChoice).where(
                    PendingChoice.campaign_id == campaign_id,
                    PendingChoice.round_number == round_number,
                    PendingChoice.variant_index == variant,
                    PendingChoice.user == user,
                )
            )
            return bool(got.rowcount)  # type: ignore[attr-defined]

    async def pending_choice(self, campaign_id: int) -> Choice | None:
        async with self.sessions() as s:
            row = await s.get(PendingChoice, campaign_id)
            return Choice.of(row) if row else None

    async def choices_due(self, at: float, campaign_id: int | None = None) -> list[Choice]:
        async with self.sessions() as s:
            q = select(PendingChoice).where(PendingChoice.due_at <= at)
            if campaign_id is not None:
                q = q.where(PendingChoice.campaign_id == campaign_id)
            return [Choice.of(r) for r in (await s.execute(q.order_by(PendingChoice.due_at))).scalars()]

    async def drop_choice(self, choice: Choice) -> bool:
        """Forget a pending choice that cannot start a round (refused); False if it changed meanwhile."""
        try:
            async with self.sessions() as s, s.begin():
                await self._take_choice(s, choice)
            return True
        except ChoiceGone:
            return False

    @staticmethod
    async def _take_choice(s: AsyncSession, choice: Choice) -> None:
        got = await s.execute(
            delete(PendingChoice).where(
                PendingChoice.campaign_id == choice.campaign_id, PendingChoice.version == choice.version
            )
        )
        if got.rowcount != 1:  # type: ignore[attr-defined]
            raise ChoiceGone(choice.campaign_id)

    # -- outbox and message references --------------------------------------------------------------------
    async def add(self, rows: Iterable[Row], *, ignore_duplicate: bool = False) -> bool:
        """Insert rows in one transaction. With ``ignore_duplicate``, a key seen before is not an error
        (False is returned and nothing is added)."""
        try:
            async with self._write() as s:
                s.add_all(list(rows))
            return True
        except IntegrityError:
            if ignore_duplicate:
                return False
            raise

    async def message_ref(self, platform: str, channel: str, message_id: str) -> MessageRef | None:
        async with self.sessions() as s:
            return await s.get(MessageRef, (platform, channel, message_id))

    async def outbox_row(self, key: str) -> Outbox | None:
        async with self.sessions() as s:
            return (await s.execute(select(Outbox).where(Outbox.key == key))).scalar_one_or_none()

    async def outbox_pending(self) -> Sequence[Outbox]:
        """Messages not sent yet (or whose reactions are not added yet), oldest first; given-up ones aside."""
        async with self.sessions() as s:
            q = select(Outbox).where(_pending(Outbox)).order_by(Outbox.seq)
            return (await s.execute(q)).scalars().all()

    @asynccontextmanager
    async def _claiming(self) -> AsyncIterator[AsyncSession]:
        """A transaction that takes claims: on SQLite the write lock first (BEGIN IMMEDIATE), so that a
        read followed by a compare-and-set never meets a snapshot another process has written past."""
        async with self.sessions() as s, s.begin():
            if self.db.dialect.name == "sqlite":
                await s.execute(text("BEGIN IMMEDIATE"))
            yield s

    async def outbox_claim(
        self, owner: str, platforms: Collection[str], lease: float, limit: int = OUTBOX_CLAIM_BATCH
    ) -> list[Outbox]:
        """Claim the rows ``owner`` may send now, oldest first: for each campaign only its oldest pending
        row (so no row is sent while an earlier one of its campaign is unsent, or held by another sender),
        one not claimed or backed off until later, on a platform in ``platforms``. Each row is taken with a
        compare-and-set on ``claimed_until``; on PostgreSQL the candidates are locked with SKIP LOCKED, so
        concurrent claimers never wait for each other nor take one row twice."""
        at = now()
        earlier = aliased(Outbox)
        head = ~exists().where(
            earlier.campaign_id == Outbox.campaign_id, earlier.seq < Outbox.seq, _pending(earlier)
        )
        q = (
            select(Outbox)
            .where(_pending(Outbox), Outbox.claimed_until < at, Outbox.platform.in_(list(platforms)), head)
            .order_by(Outbox.seq)
            .limit(limit)
        )
        if self.db.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True, of=Outbox)
        got: list[Outbox] = []
        async with self._claiming() as s:
            for row in (await s.execute(q)).scalars().all():
                res = await s.execute(
                    update(Outbox)
                    .where(Outbox.seq == row.seq, Outbox.claimed_until < at)
                    .values(claimed_by=owner, claimed_until=at + lease)
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    row.claimed_by, row.claimed_until = owner, at + lease
                    got.append(row)
        return got

    async def outbox_sending(self, seq: int, owner: str, lease: float) -> bool:
        """The attempt marker, written (and the claim renewed) before the platform is called; False when
        ``owner`` no longer holds the row (its lease ran out and another sender took it)."""
        async with self.sessions() as s, s.begin():
            res = await s.execute(
                update(Outbox)
                .where(Outbox.seq == seq, Outbox.claimed_by == owner)
                .values(sending_at=now(), claimed_until=now() + lease)
            )
            return bool(res.rowcount == 1)  # type: ignore[attr-defined]

    async def outbox_steps(self, seq: int, steps: dict[str, str]) -> None:
        """Remember the steps of a multi-call post done so far (see :class:`engine.adapter.Checkpoints`)."""
        async with self.sessions() as s, s.begin():
            await s.execute(update(Outbox).where(Outbox.seq == seq).values(steps=steps))

    async def outbox_release(self, seq: int, owner: str, *, until: float = 0.0) -> None:
        """Give a claim back: others may take the row from ``until`` on."""
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(Outbox)
                .where(Outbox.seq == seq, Outbox.claimed_by == owner)
                .values(claimed_by=None, claimed_until=until)
            )

    async def outbox_sent(self, seq: int, message_id: str, ref: MessageRef | None = None) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(Outbox).where(Outbox.seq == seq).values(message_id=message_id, sent_at=now())
            )
            if ref is not None:
                await s.merge(ref)

    async def thread_opened(
        self, seq: int, campaign_id: int, message_id: str, thread: str, ref: MessageRef
    ) -> None:
        """The campaign's root post is up: remember its thread, and the post as sent, in one transaction."""
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(Campaign)
                .where(Campaign.id == campaign_id)
                .values(thread=thread, root_message_id=message_id)
            )
            await s.execute(
                update(Outbox).where(Outbox.seq == seq).values(message_id=message_id, sent_at=now())
            )
            s.add(ref)

    async def reactions_done(self, seq: int) -> None:
        """The row is delivered (message and reactions): done, and its claim given back."""
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(Outbox)
                .where(Outbox.seq == seq)
                .values(reactions_done=True, claimed_by=None, claimed_until=0.0)
            )

    async def outbox_failed(
        self, seq: int, attempts: int, error: str, *, gave_up: bool, retry_at: float = 0.0
    ) -> None:
        """A failed try: its error, and the claim given back, with nobody to try again before ``retry_at``."""
        async with self.sessions() as s, s.begin():
            await s.execute(
                update(Outbox)
                .where(Outbox.seq == seq)
                .values(
                    attempts=attempts,
                    error=error[:500],
                    gave_up=gave_up,
                    claimed_by=None,
                    claimed_until=retry_at,
                )
            )

    async def outbox_give_up_campaign(self, campaign_id: int, error: str) -> int:
        """Give up every unsent row of a campaign (its thread could not be opened); how many there were."""
        async with self.sessions() as s, s.begin():
            res = await s.execute(
                update(Outbox)
                .where(Outbox.campaign_id == campaign_id, _pending(Outbox), Outbox.message_id.is_(None))
                .values(gave_up=True, error=error[:500], claimed_by=None, claimed_until=0.0)
            )
            return int(res.rowcount or 0)  # type: ignore[attr-defined]

    # -- operations ---------------------------------------------------------------------------------------
    async def outbox_counts(self) -> tuple[int, int]:
        """(posts owed: stored and not sent, not given up; posts given up), for the metrics."""
        async with self.sessions() as s:
            owed = await s.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.message_id.is_(None), Outbox.gave_up.is_(False))
            )
            dead = await s.scalar(select(func.count()).select_from(Outbox).where(Outbox.gave_up.is_(True)))
        return int(owed or 0), int(dead or 0)

    # -- several replicas: who follows a job, and the shared budget of status edits -----------------------
    async def hold_job(self, job_id: str, owner: str, lease_s: float) -> bool:
        """Take or renew the lease on following ``job_id``; False while another engine holds it."""
        t = now()
        async with self.sessions() as s, s.begin():
            res = await s.execute(
                update(DeliveryLease)
                .where(
                    DeliveryLease.job_id == job_id,
                    (DeliveryLease.owner == owner) | (DeliveryLease.until < t),
                )
                .values(owner=owner, until=t + lease_s)
            )
            if res.rowcount == 1:  # type: ignore[attr-defined]
                return True
            if await s.get(DeliveryLease, job_id) is not None:
                return False
        try:
            async with self.sessions() as s, s.begin():
                s.add(DeliveryLease(job_id=job_id, owner=owner, until=t + lease_s))
        except IntegrityError:  # another engine took it first
            return False
        return True

    async def drop_job_lease(self, job_id: str) -> None:
        async with self.sessions() as s, s.begin():
            await s.execute(delete(DeliveryLease).where(DeliveryLease.job_id == job_id))

    async def take_edit(self, scope: str, per_minute: int, *, force: bool = False) -> bool:
        """Count one status edit in ``scope`` now; False (nothing counted) when half of the current window's
        share of ``per_minute`` is used already, unless ``force``: a final status line goes while the whole budget
        lasts (half of it is kept for final lines, so a burst of progress never holds one back)."""
        # Ten-second windows of a sixth of the budget each, so that any sixty seconds (a platform's sliding
        # minute) hold at most 7/6 of it (a fixed minute window would allow twice the budget across its edge).
        minute = int(now() // 10)
        per_minute = max(1, per_minute // 6)
        for _ in range(2):
            async with self.sessions() as s, s.begin():
                res = await s.execute(
                    update(EditBudget)
                    .where(EditBudget.scope == scope, EditBudget.minute < minute)
                    .values(minute=minute, used=1)
                )
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    return True
                q = update(EditBudget).where(EditBudget.scope == scope, EditBudget.minute == minute)
                q = q.where(EditBudget.used < (per_minute if force else max(1, per_minute // 2)))
                res = await s.execute(q.values(used=EditBudget.used + 1))
                if res.rowcount == 1:  # type: ignore[attr-defined]
                    return True
                if await s.get(EditBudget, scope) is not None:
                    return False
            try:
                async with self.sessions() as s, s.begin():
                    s.add(EditBudget(scope=scope, minute=minute, used=1))
                return True
            except IntegrityError:  # another engine made the row first: count against it
                continue
        return False
