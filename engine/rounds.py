"""Starting rounds: limits, the round row and its job written together, the echo and status posts, the
enqueue. Also resume, cancel, recovery after a crash, and the small notes the engine posts."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from engine import messages as say
from engine import planning
from engine.adapter import OutMessage
from engine.commands import NewCampaign
from engine.edits import Edits
from engine.emoji import NUMBER_EMOJI
from engine.errors import UserError
from engine.ids import card_id
from engine.jobs import JobSpec, JobState, RoundResult
from engine.neutralize import neutralize
from engine.outbox import Posts
from engine.queue import JobProducer
from engine.settings import Settings
from engine.store.models import Campaign, Round, now
from engine.store.repo import Active, Admission, Choice, NewRows, Repo, Row

logger = logging.getLogger(__name__)

RETRYABLE = (JobState.FAILED, JobState.CANCELLED, JobState.DROPPED)


class Rounds:
    def __init__(self, settings: Settings, repo: Repo, queue: JobProducer, posts: Posts):
        self.settings = settings
        self.repo = repo
        self.queue = queue
        self.posts = posts

    def check_limits(self, active: Active, campaign_id: int | None = None) -> None:
        """The limits on rounds being made: ``active`` is counted by the store inside the transaction that
        would write the new round, with admissions serialised, so concurrent commands cannot overshoot.
        With ``campaign_id`` (a reaction or button choice), one round of that campaign at a time."""
        if campaign_id is not None and active.campaign:
            raise UserError(say.round_in_flight(campaign_id))
        if active.mine >= self.settings.max_jobs_per_user:
            raise UserError(say.too_many_jobs(active.mine, self.settings.max_jobs_per_user))
        if active.total >= self.settings.queue_cap:
            raise UserError(say.studio_busy(active.total))

    def admission(
        self, user: str, seen: list[Active] | None = None, *, alone_in: int | None = None
    ) -> Admission:
        """Admit a round for ``user`` under the limits; what the admission counted goes into ``seen``.
        With ``alone_in`` (a campaign id), only while no other round of that campaign is being made."""

        def check(active: Active) -> None:
            self.check_limits(active, alone_in)
            if seen is not None:
                seen.append(active)

        return Admission(user, check, alone_in)

    async def _enqueue(self, spec: JobSpec) -> None:
        await self.queue.enqueue(spec, max_attempts=self.settings.job_max_attempts)

    def _job_rows(self, spec: JobSpec, written: dict[str, list[Row]]) -> list[Row]:
        """The job of ``spec`` as a row of the round's own transaction, when the queue lives in the store's
        database (the embedded queue); otherwise none, and the caller enqueues after writing. Noted in
        ``written`` by job id (a fresh row each time: a retried transaction gets its own)."""
        row = self.queue.job_row(spec, self.repo.sessions, max_attempts=self.settings.job_max_attempts)
        written[spec.id] = [row] if row is not None else []
        return written[spec.id]

    async def _enqueue_written(self, spec: JobSpec) -> None:
        """Enqueue the job of a round that is written already. The round row is the durable promise: when
        the queue fails now, the round stays queued and :meth:`recover` (the delivery loop's
        housekeeping) enqueues it, so the command's answer stands and a retry would make it twice."""
        try:
            await self._enqueue(spec)
        except Exception:
            logger.warning("job %s not enqueued yet; recovery enqueues it", spec.id, exc_info=True)

    async def recover(self) -> None:
        """After a crash (or a queue error) between writing a round and its job, enqueue what is missing:
        a round being made without its job would never finish and would count against its user's limit.
        Run at start and by the delivery loop's housekeeping; enqueue is idempotent (the job id)."""
        for r in await self.repo.rounds_in([JobState.QUEUED, JobState.RUNNING]):
            if await self.queue.get(r.job_id) is None:
                logger.warning("round %s had no job; enqueuing it", r.job_id)
                await self._enqueue(JobSpec.from_dict(r.spec["job"]))

    async def new_campaign(
        self, platform: str, workspace: str, channel: str, user: str, user_name: str, cmd: NewCampaign
    ) -> tuple[Campaign, JobSpec, int]:
        """Write the campaign, its first round and first posts if the limits admit it; returns them and the
        queue position the admission counted (1 = starting now), true even when many arrive at once."""
        seed = planning.campaign_seed(cmd.seed, time.time())
        camp = Campaign(
            platform=platform,
            workspace=workspace,
            channel=channel,
            owner=user,
            owner_name=neutralize(user_name or user)[:120],
            brief=cmd.brief.to_dict(),
            vote_seconds=cmd.vote_seconds,
            created_at=now(),
        )
        made: list[JobSpec] = []

        def plan(c: Campaign) -> NewRows:
            spec = planning.first_spec(c.id, user, cmd, seed)
            made.append(spec)
            b = cmd.brief
            root = OutMessage(
                text=say.campaign_root(
                    c.id, c.owner_name, b.product, b.tone, cmd.size, cmd.variants, seed, cmd.vote_seconds
                ),
                title=say.campaign_title(c.id),
            )
            return NewRows(
                add=[
                    Round(
                        campaign_id=c.id,
                        number=1,
                        user=user,
                        spec={"job": spec.to_dict()},
                        job_id=spec.id,
                        created_at=now(),
                    ),
                    self.posts.row(c, f"{say.cid_str(c.id)}:root", "root", root, in_thread=False),
                    self.posts.row(
                        c, f"{spec.id}:status", "status", OutMessage(text=say.queued(1)), round_number=1
                    ),
                    *self._job_rows(spec, jobs),
                ]
            )

        counted: list[Active] = []
        jobs: dict[str, list[Row]] = {}  # the job rows written with the round, by job id
        camp = await self.repo.create_campaign(camp, plan, self.admission(user, counted))
        if not jobs[made[-1].id]:
            await self._enqueue_written(made[-1])
        return camp, made[-1], counted[-1].total + 1

    async def start(
        self,
        camp: Campaign,
        user: str,
        *,
        base: Round,
        choice: int | None,
        edits: Edits | None,
        note: str,
        take: Choice | None = None,
    ) -> int:
        """Queue the next round: a refine round from ``choice`` of ``base``, or (no choice) a fresh round
        from the base round's brief with the edits applied, if the limits admit it. Returns its number.
        With ``take`` (a settled reaction or button choice) it is written with that choice deleted, and
        only while no other round of the campaign is being made (one choice in flight per campaign)."""
        assert base.result is not None
        parent = JobSpec.from_dict(base.spec["job"])
        lineage = RoundResult.from_dict(base.result).round
        made: list[planning.NextRound] = []
        what = say.refine_what(card_id(camp.id, base.number, choice) if choice else None, base.number)

        def plan(number: int) -> NewRows:
            nxt = planning.next_spec(
                parent, lineage, number=number, user=user, choice=choice, edits=edits, note=note
            )
            made.append(nxt)
            spec = nxt.spec
            return NewRows(
                add=[
                    Round(
                        campaign_id=camp.id,
                        number=number,
                        parent_round=base.number,
                        parent_variant=choice,
                        instruction=note or None,
                        user=user,
                        spec={"job": spec.to_dict()},
                        job_id=spec.id,
                        created_at=now(),
                    ),
                    self.posts.row(
                        camp,
                        f"{spec.id}:echo",
                        "note",
                        OutMessage(text=say.round_echo(number, nxt.changes, what)),
                        round_number=number,
                    ),
                    self.posts.row(
                        camp,
                        f"{spec.id}:status",
                        "status",
                        OutMessage(text=say.queued(number)),
                        round_number=number,
                    ),
                    *self._job_rows(spec, jobs),
                ]
            )

        jobs: dict[str, list[Row]] = {}  # the job rows written with the round, by job id
        admit = self.admission(user, alone_in=camp.id if take is not None else None)
        number = await self.repo.add_round(camp.id, plan, admit, take=take)
        if not jobs[made[-1].spec.id]:
            await self._enqueue_written(made[-1].spec)
        logger.info("campaign %s: round %d queued by %s (%s)", say.cid_str(camp.id), number, user, what)
        return number

    async def show_grid(self, camp: Campaign, rnd: Round, key: str, text: str) -> None:
        """Make ``rnd`` the round replies build on, and post its contact sheet again to choose from."""
        assert rnd.result is not None
        res = RoundResult.from_dict(rnd.result)
        sheet: Path | None = self.posts.artifacts.path(res.sheet)
        if sheet is not None and not sheet.is_file():  # deleted by image retention: choosing still works
            sheet, text = None, f"{text} {say.IMAGES_EXPIRED}"
        row = self.posts.row(
            camp,
            key,
            "grid",
            OutMessage(text=text, file=sheet),
            round_number=rnd.number,
            reactions=NUMBER_EMOJI[: len(res.variants)],
        )
        await self.repo.set_base_round(camp.id, rnd.number, [row])

    async def resume(self, camp: Campaign, user: str) -> str:
        """Re-post the latest finished round so people can choose again; re-queue a round that never finished."""
        rounds = await self.repo.rounds(camp.id)
        if not rounds:
            raise UserError(say.no_rounds_yet(camp.id))
        last = rounds[-1]
        if last.state in RETRYABLE:
            spec = planning.retry_spec(JobSpec.from_dict(last.spec["job"]), now())
            status = self.posts.row(
                camp,
                f"{spec.id}:status",
                "status",
                OutMessage(text=say.queued(last.number, again=True)),
                round_number=last.number,
            )
            await self.repo.requeue_round(
                last.id, spec.id, {"job": spec.to_dict()}, [status], self.admission(user)
            )
            await self._enqueue_written(spec)
            return say.queued_again(camp.id, last.number)
        done = [r for r in rounds if r.result is not None]
        if not done:
            return say.still_first_round(camp.id)
        r = done[-1]
        await self.show_grid(camp, r, f"{r.job_id}:grid:resume:{now():.6f}", say.resumed_grid(r.number))
        return say.resumed(camp.id, r.number)

    async def cancel_all(self, camp: Campaign) -> int:
        n = 0
        for r in await self.repo.rounds_in([JobState.QUEUED, JobState.RUNNING], camp.id):
            n += await self.queue.cancel(r.job_id)
        return n

    async def tell(self, camp: Campaign, user: str, text: str, *, once: str = "") -> None:
        """A note for one person (ephemeral where the platform allows); with ``once``, told once per key
        (a storm of refused reactions tells each person once, not once a reaction)."""
        key = f"{say.cid_str(camp.id)}:tell:{user}:{once or f'{now():.6f}'}"
        row = self.posts.row(camp, key, "tell", OutMessage(text=text), user=user)
        await self.repo.add([row], ignore_duplicate=bool(once))

    async def note(self, camp: Campaign, key: str, text: str, file: Path | None = None) -> None:
        """A note in the thread, once per key."""
        row = self.posts.row(camp, f"{say.cid_str(camp.id)}:{key}", "note", OutMessage(text=text, file=file))
        await self.repo.add([row], ignore_duplicate=True)
