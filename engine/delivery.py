"""The delivery loop: job progress becomes status edits, each variant a running job has finished becomes
its card at once, a finished job's result becomes the rest of its cards and its contact sheet (stored once,
then sent by the outbox), votes are closed, debounced choices settled, old queued jobs dropped.

Cards as they are ready: a variant the worker hands back before its round is done (:attr:`Job.partial`) is
stored as its card and post with the key the finished round would give it (``{job}:v{K}``), through the same
moderation; the finished round then adds only what is not posted yet (the other cards, the sheet). Only
the engine that follows the job (:meth:`Delivery._hold`) stores them. A job taken again after its worker
died makes the round again from the same seed: posts already there are not posted again (their keys), so
if a variant came out differently the post on the platform stands, while the engine's records (the card,
the round's result, the image file) are the finished round's."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from engine import messages as say
from engine.adapter import Button, ChatAdapter, OutMessage
from engine.emoji import NUMBER_EMOJI
from engine.ids import card_id
from engine.jobs import Job, JobState, RoundResult, VariantResult
from engine.moderation import ModerationList
from engine.outbox import OutboxSender, Posts, is_permanent_error
from engine.priority import no_wait
from engine.queue import JobProducer
from engine.retention import EVENT_MEMORY_S, Retention
from engine.rounds import Rounds
from engine.settings import Settings
from engine.store.models import Campaign, Card, Round, now
from engine.store.repo import NewRows, Repo, Row
from engine.votes import close_due_votes

logger = logging.getLogger(__name__)

EDIT_RETRY_S = 5.0  # a failed status edit is retried no sooner than this
HOUSEKEEPING_S = 10.0  # TTL drops and forgetting old event ids, at most this often
PRUNE_BATCH = 100  # campaigns expired per delivery pass at most (a first pass over years of them)


@dataclass
class _EditState:
    seq: int = -1
    at: float = 0.0
    failed_at: float = 0.0
    min_gap: float = 0.0  # the platform's min_edit_interval, known after the first edit
    started: bool = False  # the round row says "running"
    cards: set[int] = field(default_factory=set)  # variants stored as cards while the round was being made


def _withheld(v: VariantResult, moderation: ModerationList | None) -> bool:
    """A variant whose copy holds an entry of the moderation list is not posted (its image carries the copy)."""
    return moderation is not None and moderation.matches(v.headline, v.body, v.cta) is not None


def variant_rows(
    posts: Posts,
    camp: Campaign,
    rnd: Round,
    job_id: str,
    v: VariantResult,
    *,
    card: dict[str, Any],
    withheld: bool,
) -> list[Row]:
    """One variant's card and post (keyed ``{job}:v{K}``, whether posted as it was ready or with the round),
    or the note that stands in for a withheld one. ``card``: the card record's models, size and seed."""
    n = rnd.number
    if withheld:
        note = OutMessage(text=say.withheld_variant(n, v.index))
        return [posts.row(camp, f"{job_id}:v{v.index}", "note", note, round_number=n)]
    parent_card = (
        card_id(camp.id, rnd.parent_round, rnd.parent_variant)
        if rnd.parent_round and rnd.parent_variant
        else None
    )
    cid = card_id(camp.id, n, v.index)
    data = {
        "copy": {"headline": v.headline, "body": v.body, "cta": v.cta},
        "visual": v.visual,
        "models": card.get("models", {}),
        "palette_index": v.palette_index,
        "colour_hint": v.colour_hint,
        "size": card.get("size"),
        "seed": card.get("seed"),
    }
    msg = OutMessage(
        text=say.variant_line(v.index, v.headline),
        file=posts.artifacts.path(v.image),
        title=cid,
        fields=[("Headline", v.headline), ("Body", v.body), ("Call to action", v.cta)],
        buttons=[Button(f"Refine {v.index}", "refine", cid), Button("Export", "export", cid)],
    )
    return [
        Card(
            id=cid,
            campaign_id=camp.id,
            round_number=n,
            index=v.index,
            parent_card=parent_card,
            data=data,
            image_path=v.image,
        ),
        posts.row(camp, f"{job_id}:v{v.index}", "variant", msg, round_number=n, variant_index=v.index),
    ]


def partial_rows(
    posts: Posts,
    camp: Campaign,
    rnd: Round,
    job: Job,
    variants: list[VariantResult],
    moderation: ModerationList | None = None,
) -> NewRows:
    """What variants finished before their round is done add: each one's card and post now, exactly as
    :func:`result_rows` makes them (same keys, same moderation), so the finished round adds only the rest.
    The card record gets the round's models when the round is done."""
    withheld = sorted(v.index for v in variants if _withheld(v, moderation))
    if withheld:
        logger.warning("round %s: variants %s withheld by the moderation list", job.id, withheld)
    card = {"size": job.spec.size, "seed": job.spec.seed}
    rows = NewRows()
    for v in variants:
        rows.add += variant_rows(posts, camp, rnd, job.id, v, card=card, withheld=v.index in withheld)
    return rows


def result_rows(
    posts: Posts,
    camp: Campaign,
    rnd: Round,
    job_id: str,
    res: RoundResult,
    moderation: ModerationList | None = None,
) -> NewRows:
    """What a finished round adds: a card and a post per variant, then the contact sheet post; the round
    becomes the campaign's base and opens its team vote when the campaign has one. A variant whose copy
    holds an entry of the moderation list is withheld: no card, no post (its image carries the copy), a
    note in its place, and the contact sheet (which shows every variant) goes out as text only. Cards
    posted already, as their variants were ready (:func:`partial_rows`), have these keys: the store adds
    only the posts not there yet (:meth:`Repo.finish_round`), and the card records become the result's."""
    n, nv = rnd.number, len(res.variants)
    withheld = {v.index for v in res.variants if _withheld(v, moderation)}
    if withheld:
        logger.warning("round %s: variants %s withheld by the moderation list", job_id, sorted(withheld))
    rows = NewRows(campaign={"base_round": n}, round={"state": JobState.DONE.value, "result": res.to_dict()})
    if camp.vote_seconds:
        rows.round["vote_deadline"] = now() + camp.vote_seconds
    card = {"models": res.models, "size": res.size, "seed": res.seed}
    for v in res.variants:
        rows.add += variant_rows(posts, camp, rnd, job_id, v, card=card, withheld=v.index in withheld)
    sheet = OutMessage(
        text=say.grid(n, nv, camp.vote_seconds),
        file=None if withheld else posts.artifacts.path(res.sheet),
        title=say.grid_title(camp.id, n),
    )
    rows.add.append(
        posts.row(camp, f"{job_id}:grid", "grid", sheet, round_number=n, reactions=NUMBER_EMOJI[:nv])
    )
    return rows


class Delivery:
    def __init__(
        self,
        settings: Settings,
        repo: Repo,
        queue: JobProducer,
        adapters: dict[str, ChatAdapter],
        rounds: Rounds,
        outbox: OutboxSender,
        settle_choices: Callable[[], Awaitable[bool]] | None = None,
        retention: Retention | None = None,
    ):
        self.settings = settings
        self.repo = repo
        self.queue = queue
        self.adapters = adapters
        self.rounds = rounds
        self.outbox = outbox
        self.settle_choices = settle_choices  # debounced reaction/button choices past their deadline
        self.moderation: ModerationList | None = None  # generated copy holding an entry is not posted
        self.retention = retention
        self.posts = rounds.posts
        self.wake = asyncio.Event()
        self.turn: Callable[[], Awaitable[None]] = (
            no_wait  # waits for events being answered (engine.priority)
        )
        self._edits: dict[str, _EditState] = {}
        self._held: dict[str, float] = {}  # job id -> until when this engine holds its lease
        # campaign id -> its platform (it never changes), kept for the campaigns of unhandled jobs
        self._platforms: dict[int, str] = {}
        self._last_housekeeping = 0.0
        self._last_prune = 0.0

    async def pump(self) -> bool:
        """One delivery pass: job progress and results -> outbox -> chat; votes; TTL. True if it did work."""
        did = False
        if now() - self._last_housekeeping > HOUSEKEEPING_S:
            self._last_housekeeping = now()
            for j in await self.queue.drop_older_than(self.settings.job_ttl_seconds):
                logger.warning("job %s dropped after waiting past the TTL", j.id)
            await self.repo.forget_events(now() - EVENT_MEMORY_S)
            await self.rounds.recover()  # a round whose job was never enqueued (a queue error) gets it
        if self.retention and now() - self._last_prune >= self.settings.prune_interval_seconds:
            self._last_prune = now()  # a failing pass is logged by run() and tried again next interval
            report = await self.retention.prune(limit=PRUNE_BATCH)
            if len(report.campaigns) >= PRUNE_BATCH:
                self._last_prune = 0.0  # more are due: the next pass goes on
        await self.turn()
        jobs = await self.queue.unhandled()
        for job in jobs:
            await self.turn()
            did |= await self._job(job)
        live = {j.spec.campaign_id for j in jobs}
        self._platforms = {c: p for c, p in self._platforms.items() if c in live}
        did |= await close_due_votes(self.repo, self.rounds)
        if self.settle_choices is not None:
            did |= await self.settle_choices()
        did |= await self.outbox.send_pending()
        return did

    async def run(self, stop: asyncio.Event, *, interval: float = 0.5) -> None:
        while not stop.is_set():
            try:
                busy = await self.pump()
            except Exception:
                logger.exception("delivery pass failed; retrying")
                busy = False
            if busy:
                continue
            self.wake.clear()
            try:
                await asyncio.wait_for(self.wake.wait(), interval)
            except TimeoutError:
                pass

    async def _hold(self, job: Job) -> bool:
        """Whether this engine follows ``job`` (several replicas on one database: one at a time, leased;
        the lease is renewed once half of it has gone)."""
        lease = self.settings.outbox_lease_seconds
        if self._held.get(job.id, 0.0) - now() > lease / 2:
            return True
        if await self.repo.hold_job(job.id, self.outbox.name, lease):
            self._held[job.id] = now() + lease
            return True
        self._held.pop(job.id, None)
        self._edits.pop(job.id, None)  # another engine follows it: its status line is theirs
        return False

    async def _serves(self, job: Job) -> bool:
        """Whether this engine has the adapter of the job's campaign. A replica without it (a Slack-only
        replica and a Discord campaign) must not take the job's lease: it could neither edit the status line
        nor finish the job, and would hold it from the replicas that can."""
        cid = job.spec.campaign_id
        platform = self._platforms.get(cid)
        if platform is None:
            camp = await self.repo.campaign(cid)
            if camp is None:
                return True  # nothing to post to: followed as before (the outcome finds no round)
            platform = self._platforms[cid] = camp.platform
        return platform in self.adapters

    async def _job(self, job: Job) -> bool:
        if not await self._serves(job) or not await self._hold(job):
            return False
        n = job.spec.round_number
        if job.state == JobState.QUEUED:
            pos = await self.queue.position(job.id)
            return await self._edit_status(job, say.queued(n, position=pos))
        if job.state == JobState.RUNNING:
            st = self._edits.setdefault(job.id, _EditState())
            if not st.started:
                await self.repo.round_started(job.id)
                st.started = True
            posted = await self._early_cards(job, st)
            return await self._edit_status(job, say.running(n, job.stage, job.percent)) or posted
        # finished: store the outcome once, then the outbox delivers it
        if not await self.repo.finish_round(
            job.id, job.spec.campaign_id, lambda c, r: self._outcome(c, r, job)
        ):
            logger.warning("job %s has no round; ignoring", job.id)
        seconds = job.result.seconds if job.state == JobState.DONE and job.result else None
        await self.outbox.send_pending()  # the status message must exist before the final edit
        if not await self._edit_status(job, say.final_status(job.state, n, seconds), force=True):
            # The status line is not posted yet, or the edit failed: the outcome is stored and its
            # posts are owed in the outbox; the final edit is tried again on the next pass.
            return False
        await self.queue.mark_handled(job.id)
        await self.repo.drop_job_lease(job.id)
        self._edits.pop(job.id, None)
        self._held.pop(job.id, None)
        return True

    async def _early_cards(self, job: Job, st: _EditState) -> bool:
        """Store the cards of the variants a running job has finished and this engine has not stored yet;
        the outbox posts them in this pass. True if there were any."""
        new = [v for v in job.partial if v.index not in st.cards]
        if not new:
            return False
        await self.repo.round_cards(
            job.id,
            job.spec.campaign_id,
            lambda c, r: partial_rows(self.posts, c, r, job, new, self.moderation),
        )
        st.cards.update(v.index for v in new)
        return True

    def _outcome(self, camp: Campaign, rnd: Round, job: Job) -> NewRows | None:
        if not JobState(rnd.state).active:
            return None  # stored by an earlier pass
        if job.state == JobState.DONE and job.result is not None:
            return result_rows(self.posts, camp, rnd, job.id, job.result, self.moderation)
        text = say.outcome(job.state, rnd.number, camp.id, job.error)
        note = self.posts.row(
            camp, f"{job.id}:outcome", "note", OutMessage(text=text), round_number=rnd.number
        )
        return NewRows(add=[note], round={"state": job.state.value})

    async def _edit_status(self, job: Job, text: str, *, force: bool = False) -> bool:
        st = self._edits.setdefault(job.id, _EditState())
        if st.seq == job.progress_seq and not force:
            return False
        # The one throttle for status lines: the engine's own pace for progress edits, and never faster
        # than the platform allows (Slack: one chat.update per message per 1.5 s), even for the final edit,
        # which a later pass lands instead.
        pace = 0.0 if force else self.settings.status_edit_interval
        if now() - st.at < max(pace, st.min_gap) or now() - st.failed_at < EDIT_RETRY_S:
            return False
        camp = await self.repo.campaign(job.spec.campaign_id)
        status = await self.repo.outbox_row(f"{job.id}:status")
        if status is not None and status.gave_up and status.message_id is None:
            return True  # the status line was given up (a dead letter, logged): there is nothing to edit
        if camp is None or status is None or status.message_id is None:
            return False
        adapter = self.adapters.get(camp.platform)
        if adapter is None:
            return False
        st.min_gap = adapter.min_edit_interval
        if now() - st.at < st.min_gap:
            return False
        budget = getattr(adapter, "edits_per_minute", None)  # a platform-wide limit of the workspace
        if budget and not await self.repo.take_edit(f"{camp.platform}:{camp.workspace}", budget, force=force):
            return False  # progress can wait: the latest text lands when the budget allows
        try:
            await adapter.edit(camp.channel, camp.thread, status.message_id, text)
        except Exception as exc:
            if is_permanent_error(exc):  # e.g. the status message was deleted: nothing left to edit
                logger.warning("status line of %s cannot be edited any more: %s", job.id, exc)
                st.seq, st.at = job.progress_seq, now()
                return True
            logger.warning("status edit for %s failed: %s", job.id, exc)
            st.failed_at = now()
            return False
        st.seq, st.at = job.progress_seq, now()
        return True
