"""The engine: turns chat events into campaign state and jobs (fast ack path), and a delivery pump that
turns job progress and results into posts, each sent exactly once through the outbox.

Adapters call :meth:`Engine.handle` with an engine event and show the returned :class:`Reply` at once
(ephemeral where possible). Everything slow (posting, uploading, tallying votes) happens in
:meth:`Engine.pump`, which :meth:`Engine.run` calls in a loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from engine.adapter import Button, ChatAdapter, OutMessage
from engine.brief import Brief, refine_seed
from engine.commands import (
    NUMBER_EMOJI,
    Cancel,
    Export,
    Help,
    History,
    NewCampaign,
    Resume,
    Status,
    card_id,
    emoji_choice,
    help_text,
    is_cancel_emoji,
    is_choose_emoji,
    parse_command,
)
from engine.errors import PlatformError, UserError
from engine.events import ButtonEvent, CommandEvent, Event, ReactionEvent, Reply, ReplyEvent
from engine.jobqueue import SqlJobQueue
from engine.jobs import Job, JobSpec
from engine.migrate import upgrade_async
from engine.neutralize import neutralize
from engine.replies import BackTo, Edits, ExportIntent, HelpIntent, NotUnderstood, Refine, parse_reply
from engine.settings import Settings
from engine.store import (
    Campaign,
    Card,
    MessageRef,
    Outbox,
    Round,
    SeenEvent,
    Vote,
    Worker,
    WorkspaceSettings,
    database_url,
    make_engine,
    now,
    sessionmaker,
)

logger = logging.getLogger(__name__)

# An adapter bug (a TypeError, a KeyError ...) is retried this many times, then the message is given up.
BUG_ATTEMPTS = 3
# Exceptions of the platform client libraries are platform failures even when an adapter lets them through.
_PLATFORM_MODULES = ("slack_sdk", "slack_bolt", "discord", "aiohttp")


def is_platform_error(exc: BaseException) -> bool:
    """True for a failure outside the project (network, platform API, database): worth retrying."""
    if isinstance(exc, (PlatformError, OSError, TimeoutError, DBAPIError)):
        return True
    return any(type(exc).__module__.split(".")[0] == m for m in _PLATFORM_MODULES)


@dataclass
class _EditState:
    seq: int = -1
    at: float = 0.0
    failed_at: float = 0.0  # a failed edit is retried no sooner than 5 s later
    min_gap: float = 0.0  # the platform's min_edit_interval, known after the first edit


def cid_str(campaign_id: int) -> str:
    return f"C{campaign_id}"


def job_id_for(campaign_id: int, round_number: int) -> str:
    return f"C{campaign_id}-R{round_number}"


def _msg(d: dict[str, Any]) -> OutMessage:
    return OutMessage(
        text=d.get("text", ""),
        file=Path(d["file"]) if d.get("file") else None,
        title=d.get("title", ""),
        fields=[(a, b) for a, b in d.get("fields", [])],
        buttons=[Button(**b) for b in d.get("buttons", [])],
    )


def _msg_dict(m: OutMessage) -> dict[str, Any]:
    return {
        "text": m.text,
        "file": str(m.file) if m.file else None,
        "title": m.title,
        "fields": [list(f) for f in m.fields],
        "buttons": [{"label": b.label, "action": b.action, "value": b.value} for b in m.buttons],
    }


class Engine:
    def __init__(self, settings: Settings, adapters: list[ChatAdapter] | None = None):
        self.settings = settings
        self.url = database_url(settings.data_dir, settings.database_url)
        self.db = make_engine(self.url)
        self.sessions = sessionmaker(self.db)
        self.queue = SqlJobQueue(self.sessions)
        self.adapters: dict[str, ChatAdapter] = {a.platform: a for a in adapters or []}
        self.wake = asyncio.Event()
        self._edits: dict[str, _EditState] = {}
        self._outbox_backoff: dict[int, float] = {}
        self._last_ttl = 0.0

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        await upgrade_async(self.url)
        await self.recover()

    async def close(self) -> None:
        await self.db.dispose()

    def add_adapter(self, adapter: ChatAdapter) -> None:
        self.adapters[adapter.platform] = adapter
        self.wake.set()

    async def recover(self) -> None:
        """After a crash between writing a round and its job, enqueue what is missing."""
        async with self.sessions() as s:
            rounds = (await s.execute(select(Round).where(Round.state == "queued"))).scalars().all()
        for r in rounds:
            if await self.queue.get(r.job_id) is None:
                logger.warning("round %s had no job; enqueuing it", r.job_id)
                await self.queue.enqueue(
                    JobSpec.from_dict(r.spec["job"]), max_attempts=self.settings.job_max_attempts
                )

    # -- ack path -----------------------------------------------------------------------------------------
    async def handle(self, event: Event) -> Reply | None:
        """Handle one event quickly (database writes only). Returns what to show the user right away."""
        if event.event_id and not await self._first_time(f"{event.where.platform}:{event.event_id}"):
            logger.info("duplicate event %s ignored", event.event_id)
            return None
        try:
            if isinstance(event, CommandEvent):
                return await self._command(event)
            if isinstance(event, ReactionEvent):
                return await self._reaction(event)
            if isinstance(event, ReplyEvent):
                return await self._reply(event)
            if isinstance(event, ButtonEvent):
                return await self._button(event)
        except UserError as exc:
            return Reply(str(exc))
        finally:
            self.wake.set()
        return None

    async def _first_time(self, key: str) -> bool:
        try:
            async with self.sessions() as s, s.begin():
                s.add(SeenEvent(key=key[:160], seen_at=now()))
            return True
        except IntegrityError:
            return False

    async def _command(self, ev: CommandEvent) -> Reply:
        cmd = parse_command(ev.text)
        if isinstance(cmd, Help):
            return Reply(help_text(cmd.topic))
        if isinstance(cmd, Status):
            return Reply(await self.status_text(ev.user))
        if isinstance(cmd, NewCampaign):
            return await self._new_campaign(ev, cmd)
        if isinstance(cmd, History):
            camp = await self._campaign(cmd.campaign_id, ev.where.platform, ev.where.workspace)
            return Reply(await self.history_text(camp.id))
        if isinstance(cmd, Export):
            camp = await self._campaign(cmd.campaign_id, ev.where.platform, ev.where.workspace)
            await self._export(camp)
            return Reply(f"Exporting {cid_str(camp.id)}: the zip will appear in its thread.")
        if isinstance(cmd, Resume):
            camp = await self._campaign(cmd.campaign_id, ev.where.platform, ev.where.workspace)
            return Reply(await self._resume(camp, ev.user))
        if isinstance(cmd, Cancel):
            camp = await self._campaign(cmd.campaign_id, ev.where.platform, ev.where.workspace)
            await self._authorize(camp, ev.user, "cancel it")
            n = await self._cancel_campaign_jobs(camp)
            return Reply(
                f"Cancelled {n} job(s) of {cid_str(camp.id)}."
                if n
                else f"Nothing of {cid_str(camp.id)} is running or queued."
            )
        raise UserError("That command is not known. Try /campaign help.")

    async def _check_limits(self, user: str) -> None:
        mine = await self.queue.active_for_user(user)
        if mine >= self.settings.max_jobs_per_user:
            raise UserError(
                f"You already have {mine} rounds being made (the limit is {self.settings.max_jobs_per_user}). "
                "Wait for one to finish, or stop one with /campaign cancel C<number>."
            )
        depth = await self.queue.depth()
        if depth >= self.settings.queue_cap:
            raise UserError(
                f"The studio is busy: {depth} rounds are waiting. Please try again in a few minutes."
            )

    async def _new_campaign(self, ev: CommandEvent, cmd: NewCampaign) -> Reply:
        await self._check_limits(ev.user)
        seed = cmd.seed if cmd.seed is not None else int(time.time() * 1000) % 1_000_000
        async with self.sessions() as s, s.begin():
            camp = Campaign(
                platform=ev.where.platform,
                workspace=ev.where.workspace,
                channel=ev.where.channel,
                owner=ev.user,
                owner_name=neutralize(ev.user_name or ev.user)[:120],
                brief=cmd.brief.to_dict(),
                vote_seconds=cmd.vote_seconds,
                created_at=now(),
            )
            s.add(camp)
            await s.flush()
            spec = JobSpec(
                id=job_id_for(camp.id, 1),
                kind="round",
                campaign_id=camp.id,
                round_number=1,
                user=ev.user,
                brief=cmd.brief.to_dict(),
                variants=cmd.variants,
                size=cmd.size,
                seed=seed,
            )
            s.add(
                Round(
                    campaign_id=camp.id,
                    number=1,
                    spec={"job": spec.to_dict()},
                    job_id=spec.id,
                    created_at=now(),
                )
            )
            b = cmd.brief
            vote = f" · team vote {_duration(cmd.vote_seconds)}" if cmd.vote_seconds else ""
            root = OutMessage(
                text=(
                    f'📣 Campaign {cid_str(camp.id)} by {camp.owner_name}: "{b.product}"\n'
                    f"Tone {b.tone} · {cmd.size} · {cmd.variants} variants · seed {seed}{vote}"
                ),
                title=f"Campaign {cid_str(camp.id)}",
            )
            self._outbox(s, camp, f"{cid_str(camp.id)}:root", "root", root, in_thread=False)
            self._outbox(
                s,
                camp,
                f"{spec.id}:status",
                "status",
                OutMessage(text="⏳ Round 1 is queued"),
                round_number=1,
            )
        await self.queue.enqueue(spec, max_attempts=self.settings.job_max_attempts)
        pos = await self.queue.position(spec.id)
        where = "starting now" if pos <= 1 else f"you are number {pos} in the queue"
        logger.info(
            "campaign %s created by %s (job %s, position %d)", cid_str(camp.id), ev.user, spec.id, pos
        )
        return Reply(
            extra={"campaign": cid_str(camp.id)},
            text=f"Working on it: campaign {cid_str(camp.id)}, {cmd.variants} variants ({where}). "
            "Follow along in its thread.",
        )

    def _outbox(
        self,
        s: Any,
        camp: Campaign,
        key: str,
        kind: str,
        msg: OutMessage,
        *,
        round_number: int | None = None,
        variant_index: int | None = None,
        reactions: list[str] | None = None,
        in_thread: bool = True,
        user: str | None = None,
    ) -> None:
        s.add(
            Outbox(
                key=key[:120],
                campaign_id=camp.id,
                round_number=round_number,
                variant_index=variant_index,
                kind=kind,
                platform=camp.platform,
                channel=camp.channel,
                in_thread=in_thread,
                user=user,
                message=_msg_dict(msg),
                reactions=reactions or [],
                created_at=now(),
            )
        )

    async def _campaign(self, campaign_id: int, platform: str, workspace: str) -> Campaign:
        async with self.sessions() as s:
            camp = await s.get(Campaign, campaign_id)
        if camp is None or camp.platform != platform or camp.workspace != workspace:
            raise UserError(f"There is no campaign C{campaign_id} here. /campaign status lists yours.")
        return camp

    async def _may_choose(self, camp: Campaign, user: str) -> bool:
        if user == camp.owner:
            return True
        async with self.sessions() as s:
            ws = await s.get(WorkspaceSettings, (camp.platform, camp.workspace))
        rule = ws.who_can_choose if ws else self.settings.who_can_choose
        return rule == "anyone"

    async def _authorize(self, camp: Campaign, user: str, what: str) -> None:
        if not await self._may_choose(camp, user):
            raise UserError(
                f"Only {camp.owner_name or 'the owner'} can {what} on campaign {cid_str(camp.id)}."
            )

    # -- reactions, replies, buttons ----------------------------------------------------------------------
    async def _ref(self, platform: str, channel: str, message_id: str) -> MessageRef | None:
        async with self.sessions() as s:
            return await s.get(MessageRef, (platform, channel, message_id))

    async def _reaction(self, ev: ReactionEvent) -> Reply | None:
        ref = await self._ref(ev.where.platform, ev.where.channel, ev.message_id)
        if ref is None:
            return None
        async with self.sessions() as s:
            camp = await s.get(Campaign, ref.campaign_id)
        assert camp is not None
        if is_cancel_emoji(ev.emoji):
            if ref.kind != "status":
                return None
            if not await self._may_choose(camp, ev.user):
                await self._tell(camp, ev.user, f"Only {camp.owner_name} can cancel {cid_str(camp.id)}.")
                return None
            assert ref.round_number is not None
            await self.queue.cancel(job_id_for(camp.id, ref.round_number))
            return None
        choice: int | None = None
        if ref.kind == "grid":
            choice = emoji_choice(ev.emoji)
        elif ref.kind == "variant" and is_choose_emoji(ev.emoji):
            choice = ref.variant_index
        if choice is None or ref.round_number is None:
            return None
        rnd = await self._round(camp.id, ref.round_number)
        if rnd is None or rnd.result is None or not 1 <= choice <= len(rnd.result["round"]["variants"]):
            return None
        if rnd.vote_deadline is not None and not rnd.vote_closed:
            async with self.sessions() as s, s.begin():
                if await s.get(Vote, (camp.id, rnd.number, ev.user, choice)) is None:
                    s.add(
                        Vote(campaign_id=camp.id, round_number=rnd.number, user=ev.user, variant_index=choice)
                    )
            return None
        if not await self._may_choose(camp, ev.user):
            await self._tell(
                camp,
                ev.user,
                f"Only {camp.owner_name} can choose variants on {cid_str(camp.id)}. "
                "You can still reply in the thread with ideas.",
            )
            return None
        await self._start_round(camp, ev.user, base=rnd, choice=choice, edits=None, note="")
        return None

    async def _button(self, ev: ButtonEvent) -> Reply | None:
        from engine.commands import parse_card_id  # noqa: PLC0415

        c, r, v = parse_card_id(ev.value)
        camp = await self._campaign(c, ev.where.platform, ev.where.workspace)
        if ev.action == "export":
            await self._export(camp)
            return Reply(f"Exporting {cid_str(camp.id)} into its thread.")
        if ev.action != "refine":
            return None
        await self._authorize(camp, ev.user, "choose variants")
        rnd = await self._round(camp.id, r)
        if rnd is None or rnd.result is None:
            raise UserError(f"Round {r} of {cid_str(c)} is not ready yet.")
        if rnd.vote_deadline is not None and not rnd.vote_closed:
            raise UserError("A team vote is open on this round: react with a number to vote.")
        await self._start_round(camp, ev.user, base=rnd, choice=v, edits=None, note="")
        return Reply(f"Refining {card_id(c, r, v)}.")

    async def _reply(self, ev: ReplyEvent) -> Reply | None:
        if not ev.where.thread:
            return None
        async with self.sessions() as s:
            camp = (
                await s.execute(
                    select(Campaign).where(
                        Campaign.platform == ev.where.platform, Campaign.thread == ev.where.thread
                    )
                )
            ).scalar_one_or_none()
        if camp is None:
            return None
        base = await self._round(camp.id, camp.base_round)
        brief = Brief.from_dict(base.spec["job"]["brief"] if base else camp.brief)
        spec = base.spec["job"] if base else {}
        intent = parse_reply(
            ev.text,
            tone=brief.tone,
            length=brief.length,
            size=spec.get("size", "square"),
            variants=spec.get("variants", 4),
            max_round=await self._max_round(camp.id),
        )
        if isinstance(intent, NotUnderstood):
            await self._tell(camp, ev.user, intent.message)
            return None
        if isinstance(intent, HelpIntent):
            await self._note(camp, f"help:{ev.message_id or now()}", help_text("replies"))
            return None
        if isinstance(intent, ExportIntent):
            await self._export(camp)
            return None
        if not await self._may_choose(camp, ev.user):
            await self._tell(camp, ev.user, f"Only {camp.owner_name} can steer {cid_str(camp.id)}.")
            return None
        if isinstance(intent, BackTo):
            rnd = await self._round(camp.id, intent.round)
            if rnd is None or rnd.result is None:
                await self._tell(
                    camp, ev.user, f"Round {intent.round} has no finished variants to go back to."
                )
                return None
            async with self.sessions() as s, s.begin():
                await s.execute(update(Campaign).where(Campaign.id == camp.id).values(base_round=rnd.number))
                self._outbox(
                    s,
                    camp,
                    f"{rnd.job_id}:grid:back:{ev.message_id or now()}",
                    "grid",
                    OutMessage(
                        text=f"↩️ Back to round {rnd.number}: react with a number to refine a variant, "
                        "or reply with changes.",
                        file=Path(rnd.result["sheet"]),
                    ),
                    round_number=rnd.number,
                    reactions=NUMBER_EMOJI[: len(rnd.result["round"]["variants"])],
                )
            return None
        assert isinstance(intent, Refine)
        if intent.edits.back_to_round is not None:
            base = await self._round(camp.id, intent.edits.back_to_round)
        if base is None or base.result is None:
            await self._tell(
                camp, ev.user, "The first round is still being made; reply again when it arrives."
            )
            return None
        await self._start_round(
            camp, ev.user, base=base, choice=intent.like, edits=intent.edits, note=ev.text
        )
        return None

    async def _round(self, campaign_id: int, number: int) -> Round | None:
        async with self.sessions() as s:
            return (
                await s.execute(select(Round).where(Round.campaign_id == campaign_id, Round.number == number))
            ).scalar_one_or_none()

    async def _max_round(self, campaign_id: int) -> int:
        async with self.sessions() as s:
            return int(
                await s.scalar(select(func.max(Round.number)).where(Round.campaign_id == campaign_id)) or 0
            )

    async def _start_round(
        self, camp: Campaign, user: str, *, base: Round, choice: int | None, edits: Edits | None, note: str
    ) -> None:
        """Queue the next round: a refine round from ``choice`` of ``base``, or (no choice) a fresh round
        from the base round's brief with the edits applied."""
        await self._check_limits(user)
        assert base.result is not None
        parent_spec = JobSpec.from_dict(base.spec["job"])
        brief = Brief.from_dict(parent_spec.brief)
        variants, size = parent_spec.variants, parent_spec.size
        colour, strength, cta = parent_spec.colour, "subtle", None
        old_tone, old_length, old_size, old_variants = brief.tone, brief.length, size, variants
        if edits is not None:
            brief = edits.apply_to_brief(brief)
            variants = edits.variants or variants
            size = edits.size or size
            colour = edits.colour or colour
            strength = edits.strength or strength
            cta = edits.cta
        async with self.sessions() as s, s.begin():
            number = (
                int(await s.scalar(select(func.max(Round.number)).where(Round.campaign_id == camp.id)) or 0)
                + 1
            )
            spec = JobSpec(
                id=job_id_for(camp.id, number),
                kind="round",
                campaign_id=camp.id,
                round_number=number,
                user=user,
                brief=brief.to_dict(),
                variants=variants,
                size=size,
                seed=refine_seed(parent_spec.seed, number),
                parent=base.result["round"],
                parent_variant=choice,
                instruction=note or None,
                colour=colour,
                strength=strength,
                cta=cta,
                fresh=choice is None,
            )
            s.add(
                Round(
                    campaign_id=camp.id,
                    number=number,
                    parent_round=base.number,
                    parent_variant=choice,
                    instruction=note or None,
                    spec={"job": spec.to_dict()},
                    job_id=spec.id,
                    created_at=now(),
                )
            )
            what = (
                f"refining {card_id(camp.id, base.number, choice)}"
                if choice
                else f"a new round from round {base.number}"
            )
            changes = edits.describe(old_tone, old_length, old_size, old_variants) if edits else ""
            echo = f"Got it: {changes}. " if changes else ""
            self._outbox(
                s,
                camp,
                f"{spec.id}:echo",
                "note",
                OutMessage(text=f"{echo}Round {number}: {what}."),
                round_number=number,
            )
            self._outbox(
                s,
                camp,
                f"{spec.id}:status",
                "status",
                OutMessage(text=f"⏳ Round {number} is queued"),
                round_number=number,
            )
        await self.queue.enqueue(spec, max_attempts=self.settings.job_max_attempts)
        logger.info("campaign %s: round %d queued by %s (%s)", cid_str(camp.id), number, user, what)

    async def _tell(self, camp: Campaign, user: str, text: str) -> None:
        async with self.sessions() as s, s.begin():
            self._outbox(
                s,
                camp,
                f"{cid_str(camp.id)}:tell:{user}:{now():.6f}",
                "tell",
                OutMessage(text=text),
                user=user,
            )

    async def _note(self, camp: Campaign, key: str, text: str, file: Path | None = None) -> None:
        try:
            async with self.sessions() as s, s.begin():
                self._outbox(s, camp, f"{cid_str(camp.id)}:{key}", "note", OutMessage(text=text, file=file))
        except IntegrityError:
            pass

    async def _cancel_campaign_jobs(self, camp: Campaign) -> int:
        async with self.sessions() as s:
            rounds = (
                (
                    await s.execute(
                        select(Round).where(
                            Round.campaign_id == camp.id, Round.state.in_(("queued", "running"))
                        )
                    )
                )
                .scalars()
                .all()
            )
        n = 0
        for r in rounds:
            n += await self.queue.cancel(r.job_id)
        return n

    async def _resume(self, camp: Campaign, user: str) -> str:
        """Re-post the latest finished round so people can choose again; re-queue a round that never finished."""
        async with self.sessions() as s:
            rounds = (
                (await s.execute(select(Round).where(Round.campaign_id == camp.id).order_by(Round.number)))
                .scalars()
                .all()
            )
        if not rounds:
            raise UserError(f"{cid_str(camp.id)} has no rounds yet.")
        last = rounds[-1]
        if last.state in ("failed", "cancelled", "dropped"):
            await self._check_limits(user)
            spec = JobSpec.from_dict(last.spec["job"])
            spec.id = f"{job_id_for(camp.id, last.number)}-again{int(now())}"
            async with self.sessions() as s, s.begin():
                await s.execute(
                    update(Round)
                    .where(Round.id == last.id)
                    .values(job_id=spec.id, state="queued", spec={"job": spec.to_dict()})
                )
                self._outbox(
                    s,
                    camp,
                    f"{spec.id}:status",
                    "status",
                    OutMessage(text=f"⏳ Round {last.number} is queued again"),
                    round_number=last.number,
                )
            await self.queue.enqueue(spec, max_attempts=self.settings.job_max_attempts)
            return f"Round {last.number} of {cid_str(camp.id)} is queued again."
        done = [r for r in rounds if r.result is not None]
        if not done:
            return f"Round 1 of {cid_str(camp.id)} is still being made."
        r = done[-1]
        assert r.result is not None
        async with self.sessions() as s, s.begin():
            await s.execute(update(Campaign).where(Campaign.id == camp.id).values(base_round=r.number))
            self._outbox(
                s,
                camp,
                f"{r.job_id}:grid:resume:{now():.6f}",
                "grid",
                OutMessage(
                    text=f"▶️ Resumed at round {r.number}: react with a number to refine.",
                    file=Path(r.result["sheet"]),
                ),
                round_number=r.number,
                reactions=NUMBER_EMOJI[: len(r.result["round"]["variants"])],
            )
        return f"Resumed {cid_str(camp.id)} at round {r.number} in its thread."

    async def _export(self, camp: Campaign) -> Path:
        """Zip every finished round (creatives, contact sheets, copy) and post it into the thread."""
        async with self.sessions() as s:
            rounds = (
                (
                    await s.execute(
                        select(Round)
                        .where(Round.campaign_id == camp.id, Round.result.is_not(None))
                        .order_by(Round.number)
                    )
                )
                .scalars()
                .all()
            )
        if not rounds:
            raise UserError(f"{cid_str(camp.id)} has no finished round to export yet.")
        out = self.settings.data_dir / "exports" / f"{cid_str(camp.id)}-{len(rounds)}rounds.zip"
        out.parent.mkdir(parents=True, exist_ok=True)

        def _zip() -> None:
            tmp = out.with_suffix(".tmp")
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                for r in rounds:
                    assert r.result is not None
                    d = Path(r.result["dir"])
                    for f in sorted(d.iterdir()):
                        z.write(f, f"{cid_str(camp.id)}/round-{r.number}/{f.name}")
            tmp.replace(out)

        await asyncio.to_thread(_zip)
        await self._note(
            camp,
            f"export:{len(rounds)}",
            f"📦 Export of {cid_str(camp.id)}: {len(rounds)} round(s), every creative and its copy.",
            file=out,
        )
        return out

    # -- read-only views ----------------------------------------------------------------------------------
    async def status_text(self, user: str) -> str:
        async with self.sessions() as s:
            workers = (await s.execute(select(Worker))).scalars().all()
        lines = [f"Queue: {await self.queue.depth()} round(s) waiting or running."]
        for j in await self.queue.unhandled():
            if j.spec.user == user and j.state in ("queued", "running"):
                where = (
                    f"{j.stage} ({j.percent}%)"
                    if j.state == "running"
                    else f"number {await self.queue.position(j.id)} in the queue"
                )
                lines.append(f"• {j.id}: {where}")
        alive = [
            w
            for w in workers
            if w.state != "stopped" and now() - w.last_seen < 3 * self.settings.job_lease_seconds
        ]
        lines.append(
            "Worker: " + (", ".join(f"{w.state} on {w.device}" for w in alive) if alive else "not running")
        )
        return "\n".join(lines)

    async def history_text(self, campaign_id: int) -> str:
        async with self.sessions() as s:
            camp = await s.get(Campaign, campaign_id)
            rounds = (
                (
                    await s.execute(
                        select(Round).where(Round.campaign_id == campaign_id).order_by(Round.number)
                    )
                )
                .scalars()
                .all()
            )
            cards = (
                (
                    await s.execute(
                        select(Card)
                        .where(Card.campaign_id == campaign_id)
                        .order_by(Card.round_number, Card.index)
                    )
                )
                .scalars()
                .all()
            )
        assert camp is not None
        lines = [f'{cid_str(camp.id)} "{camp.brief["product"]}" by {camp.owner_name}']
        depth: dict[int, int] = {}
        for r in rounds:
            d = depth.get(r.parent_round, -1) + 1 if r.parent_round else 0
            depth[r.number] = d
            src = ""
            if r.parent_round:
                src = (
                    f" from {card_id(camp.id, r.parent_round, r.parent_variant)}"
                    if r.parent_variant
                    else f" after round {r.parent_round}"
                )
            how = f' "{r.instruction}"' if r.instruction else ""
            lines.append(
                f"{'  ' * d}{'└ ' if d else ''}Round {r.number}{src}{how}: {r.state}, "
                f"seed {r.spec['job']['seed']}"
            )
            for c in (c for c in cards if c.round_number == r.number):
                lines.append(
                    f'{"  " * (d + 1)}{c.id} "{c.data["copy"]["headline"]}" '
                    f"(image seed {c.data['visual']['seed']})"
                )
        return "\n".join(lines)

    # -- delivery pump ------------------------------------------------------------------------------------
    async def pump(self) -> bool:
        """One delivery pass: job progress and results -> outbox -> chat; votes; TTL. True if it did work."""
        did = False
        if now() - self._last_ttl > 10:
            self._last_ttl = now()
            for j in await self.queue.drop_older_than(self.settings.job_ttl_seconds):
                logger.warning("job %s dropped after waiting past the TTL", j.id)
            async with self.sessions() as s, s.begin():  # platforms retry events for minutes, not days
                await s.execute(delete(SeenEvent).where(SeenEvent.seen_at < now() - 86400))
        for job in await self.queue.unhandled():
            did |= await self._job(job)
        did |= await self._votes()
        did |= await self._send_outbox()
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

    async def _status_ref(self, job: Job) -> tuple[Campaign, Outbox] | None:
        async with self.sessions() as s:
            camp = await s.get(Campaign, job.spec.campaign_id)
            ob = (
                await s.execute(select(Outbox).where(Outbox.key == f"{job.id}:status"))
            ).scalar_one_or_none()
        if camp is None or ob is None or ob.message_id is None:
            return None
        return camp, ob

    async def _edit_status(self, job: Job, text: str, *, force: bool = False) -> bool:
        st = self._edits.setdefault(job.id, _EditState())
        if st.seq == job.progress_seq and not force:
            return False
        # The one throttle for status lines: the engine's own pace for progress edits, and never faster
        # than the platform allows (Slack: one chat.update per message per 1.5 s), even for the final edit,
        # which a later pass lands instead.
        pace = 0.0 if force else self.settings.status_edit_interval
        if now() - st.at < max(pace, st.min_gap):
            return False
        if now() - st.failed_at < 5.0:
            return False
        ref = await self._status_ref(job)
        if ref is None:
            return False
        camp, ob = ref
        adapter = self.adapters.get(camp.platform)
        if adapter is None:
            return False
        st.min_gap = adapter.min_edit_interval
        if now() - st.at < st.min_gap:
            return False
        try:
            await adapter.edit(camp.channel, camp.thread, ob.message_id or "", text)
        except Exception as exc:
            logger.warning("status edit for %s failed: %s", job.id, exc)
            st.failed_at = now()
            return False
        st.seq, st.at = job.progress_seq, now()
        return True

    async def _job(self, job: Job) -> bool:
        n = job.spec.round_number
        if job.state == "queued":
            pos = await self.queue.position(job.id)
            return await self._edit_status(job, f"⏳ Round {n} is queued (number {pos})")
        if job.state == "running":
            return await self._edit_status(job, f"⚙️ Round {n}: {job.stage} ({job.percent}%)")
        # finished: store the outcome once, then the outbox delivers it
        async with self.sessions() as s, s.begin():
            rnd = (await s.execute(select(Round).where(Round.job_id == job.id))).scalar_one_or_none()
            camp = await s.get(Campaign, job.spec.campaign_id)
            if rnd is None or camp is None:
                logger.warning("job %s has no round; ignoring", job.id)
            elif rnd.state in ("queued", "running"):
                rnd.state = job.state
                if job.state == "done":
                    self._store_result(s, camp, rnd, job)
                else:
                    reason = {
                        "failed": f"⚠️ Round {n} could not be made: {job.error}. "
                        f"Try /campaign resume {cid_str(camp.id)}.",
                        "cancelled": f"❌ Round {n} was cancelled.",
                        "dropped": f"⌛ Round {n} waited too long in the queue and was dropped. "
                        f"Try /campaign resume {cid_str(camp.id)}.",
                    }[job.state]
                    self._outbox(
                        s, camp, f"{job.id}:outcome", "note", OutMessage(text=reason), round_number=n
                    )
        final = {
            "done": f"✅ Round {n} is ready",
            "failed": f"⚠️ Round {n} failed",
            "cancelled": f"❌ Round {n} cancelled",
            "dropped": f"⌛ Round {n} dropped",
        }[job.state]
        if job.state == "done" and job.result:
            t = job.result["round"].get("timings", {})
            final += f" ({sum(t.values()):.0f} s)"
        await self._send_outbox()  # the status message must exist before the final edit
        if not await self._edit_status(job, final, force=True):
            # The status line is not posted yet, or the edit failed: the outcome is stored and its
            # posts are owed in the outbox; the final edit is tried again on the next pass.
            return False
        await self.queue.mark_handled(job.id)
        self._edits.pop(job.id, None)
        return True

    def _store_result(self, s: Any, camp: Campaign, rnd: Round, job: Job) -> None:
        assert job.result is not None
        res = job.result
        rnd.result = res
        rd = res["round"]
        n = rnd.number
        nv = len(rd["variants"])
        camp.base_round = n
        parent_card = (
            card_id(camp.id, rnd.parent_round, rnd.parent_variant)
            if rnd.parent_round and rnd.parent_variant
            else None
        )
        vote = ""
        if camp.vote_seconds:
            rnd.vote_deadline = now() + camp.vote_seconds
            vote = (
                f" Team vote open for {_duration(camp.vote_seconds)}: everyone reacts with a number; "
                "the winner is refined (ties go to the lower number)."
            )
        self._outbox(
            s,
            camp,
            f"{job.id}:grid",
            "grid",
            OutMessage(
                text=f"Round {n}: {nv} variants. React {NUMBER_EMOJI[0]}-{NUMBER_EMOJI[nv - 1]} to refine one, "
                f'or reply in the thread with changes ("shorter", "bolder", "more like 2").{vote}',
                file=Path(res["sheet"]),
                title=f"{cid_str(camp.id)} round {n}",
            ),
            round_number=n,
            reactions=NUMBER_EMOJI[:nv],
        )
        for v, img in zip(rd["variants"], res["images"], strict=True):
            k = v["index"]
            cid = card_id(camp.id, n, k)
            s.add(
                Card(
                    id=cid,
                    campaign_id=camp.id,
                    round_number=n,
                    index=k,
                    parent_card=parent_card,
                    data={
                        "copy": v["copy"],
                        "visual": v["visual"],
                        "models": rd.get("models", {}),
                        "palette_index": v.get("palette_index"),
                        "colour_hint": v.get("colour_hint"),
                        "size": rd["size"],
                        "seed": rd["seed"],
                    },
                    image_path=img,
                )
            )
            c = v["copy"]
            self._outbox(
                s,
                camp,
                f"{job.id}:v{k}",
                "variant",
                OutMessage(
                    text=f"{k}. {c['headline']}",
                    file=Path(img),
                    title=cid,
                    fields=[("Headline", c["headline"]), ("Body", c["body"]), ("Call to action", c["cta"])],
                    buttons=[Button(f"Refine {k}", "refine", cid), Button("Export", "export", cid)],
                ),
                round_number=n,
                variant_index=k,
            )

    async def _votes(self) -> bool:
        async with self.sessions() as s:
            due = (
                (
                    await s.execute(
                        select(Round).where(
                            Round.vote_deadline.is_not(None),
                            Round.vote_deadline <= now(),
                            Round.vote_closed.is_(False),
                        )
                    )
                )
                .scalars()
                .all()
            )
        did = False
        for rnd in due:
            async with self.sessions() as s, s.begin():
                got = await s.execute(
                    update(Round)
                    .where(Round.id == rnd.id, Round.vote_closed.is_(False))
                    .values(vote_closed=True)
                )
                if got.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                votes = (
                    (
                        await s.execute(
                            select(Vote).where(
                                Vote.campaign_id == rnd.campaign_id, Vote.round_number == rnd.number
                            )
                        )
                    )
                    .scalars()
                    .all()
                )
                camp = await s.get(Campaign, rnd.campaign_id)
            assert camp is not None and rnd.result is not None
            tally: dict[int, int] = {}
            for v in votes:
                tally[v.variant_index] = tally.get(v.variant_index, 0) + 1
            if not tally:
                await self._note(
                    camp,
                    f"R{rnd.number}:tally",
                    f"🗳️ Vote on round {rnd.number} closed with no votes. React with a number to choose.",
                )
                did = True
                continue
            winner = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            parts = ", ".join(f"{k}: {tally[k]}" for k in sorted(tally))
            await self._note(
                camp,
                f"R{rnd.number}:tally",
                f"🗳️ Vote on round {rnd.number} closed ({parts}). Variant {winner} wins; refining it.",
            )
            try:
                await self._start_round(
                    camp, camp.owner, base=rnd, choice=winner, edits=None, note=f"team vote winner {winner}"
                )
            except UserError as exc:
                await self._note(camp, f"R{rnd.number}:tally-busy", str(exc))
            did = True
        return did

    async def _send_outbox(self) -> bool:
        async with self.sessions() as s:
            rows = (
                (
                    await s.execute(
                        select(Outbox)
                        .where((Outbox.message_id.is_(None)) | (Outbox.reactions_done.is_(False)))
                        .where(Outbox.gave_up.is_(False))
                        .order_by(Outbox.seq)
                    )
                )
                .scalars()
                .all()
            )
        did = False
        blocked: set[int | None] = set()
        for row in rows:
            if row.campaign_id in blocked:
                continue
            if self._outbox_backoff.get(row.seq, 0) > now():
                blocked.add(row.campaign_id)
                continue
            adapter = self.adapters.get(row.platform)
            if adapter is None:
                continue
            async with self.sessions() as s:
                camp = await s.get(Campaign, row.campaign_id) if row.campaign_id else None
            if camp is None:
                continue
            if row.in_thread and camp.thread is None:
                blocked.add(row.campaign_id)
                continue
            try:
                if row.message_id is None:
                    await self._send_one(adapter, camp, row)
                    did = True
                if row.reactions and not row.reactions_done and row.message_id:
                    await adapter.add_reactions(
                        camp.channel, camp.thread, row.message_id, list(row.reactions)
                    )
                async with self.sessions() as s, s.begin():
                    await s.execute(update(Outbox).where(Outbox.seq == row.seq).values(reactions_done=True))
            except Exception as exc:
                attempts = row.attempts + 1
                give_up = False
                if is_platform_error(exc):
                    delay = min(60.0, 0.5 * 2**attempts)
                    if isinstance(exc, PlatformError) and exc.retry_after:
                        delay = max(delay, exc.retry_after)
                    logger.warning(
                        "posting %s failed (attempt %d, retry in %.0fs): %s", row.key, attempts, delay, exc
                    )
                else:  # a bug in an adapter or in the engine: say so loudly, and do not retry forever
                    delay = 5.0
                    give_up = attempts >= BUG_ATTEMPTS
                    logger.exception(
                        "posting %s failed with a programming error (%s, attempt %d of %d)%s",
                        row.key,
                        type(exc).__name__,
                        attempts,
                        BUG_ATTEMPTS,
                        "; giving up on this message" if give_up else "",
                    )
                self._outbox_backoff[row.seq] = now() + delay
                async with self.sessions() as s, s.begin():
                    await s.execute(
                        update(Outbox)
                        .where(Outbox.seq == row.seq)
                        .values(
                            attempts=attempts, error=f"{type(exc).__name__}: {exc}"[:500], gave_up=give_up
                        )
                    )
                if not give_up:
                    blocked.add(row.campaign_id)
        return did

    async def _send_one(self, adapter: ChatAdapter, camp: Campaign, row: Outbox) -> None:
        msg = _msg(row.message)
        thread = camp.thread if row.in_thread else None
        if row.kind == "root":
            mid, thread_id = await adapter.open_thread(camp.channel, msg)
            async with self.sessions() as s, s.begin():
                await s.execute(
                    update(Campaign)
                    .where(Campaign.id == camp.id)
                    .values(thread=thread_id, root_message_id=mid)
                )
                await s.execute(
                    update(Outbox).where(Outbox.seq == row.seq).values(message_id=mid, sent_at=now())
                )
                s.add(
                    MessageRef(
                        platform=camp.platform,
                        channel=camp.channel,
                        message_id=mid,
                        campaign_id=camp.id,
                        kind="root",
                    )
                )
            camp.thread = thread_id
            row.message_id = mid
            return
        if row.kind == "tell":
            await adapter.tell(camp.channel, thread, row.user or camp.owner, msg.text)
            mid = f"tell:{row.seq}"
        else:
            mid = await adapter.post(camp.channel, thread, msg)
        async with self.sessions() as s, s.begin():
            await s.execute(update(Outbox).where(Outbox.seq == row.seq).values(message_id=mid, sent_at=now()))
            if row.kind in ("status", "grid", "variant"):
                await s.merge(
                    MessageRef(
                        platform=camp.platform,
                        channel=camp.channel,
                        message_id=mid,
                        campaign_id=camp.id,
                        round_number=row.round_number,
                        variant_index=row.variant_index,
                        kind=row.kind,
                    )
                )
        row.message_id = mid


def _duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"
