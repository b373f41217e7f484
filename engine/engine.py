"""The engine's ack path: a chat event in, campaign state and jobs written, a short :class:`Reply` out,
within the platforms' 3 s. Everything slow (posting, uploading, tallying votes) is the delivery loop's
(:mod:`engine.delivery`), which :meth:`Engine.run` drives.

The engine is built by the composition root (``bot.app``) from a repository, a queue producer and an
artifact store; it never builds its own database or names a queue implementation.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError

from engine import messages as say
from engine import metrics, views
from engine.adapter import ChatAdapter
from engine.artifacts import LocalArtifacts
from engine.brief import Brief
from engine.choices import Choices
from engine.commands import Cancel, Export, Help, History, NewCampaign, Resume, Status, parse_command
from engine.delivery import Delivery
from engine.emoji import emoji_choice, is_cancel_emoji, is_choose_emoji
from engine.errors import CampaignExpiredError, UserError
from engine.events import ButtonEvent, CommandEvent, Event, ReactionEvent, Reply, ReplyEvent
from engine.export import export_campaign
from engine.help import help_text
from engine.ids import card_id, parse_card_id
from engine.jobs import JobState, RoundResult, VariantResult
from engine.moderation import ModerationList
from engine.outbox import OutboxSender, Posts
from engine.planning import job_id_for
from engine.priority import AckFirst
from engine.queue import JobProducer
from engine.replies import BackTo, ExportIntent, HelpIntent, NotUnderstood, Refine, ReplyIntent, parse_reply
from engine.retention import PruneReport, Retention
from engine.rounds import Rounds
from engine.settings import Settings
from engine.store.db import lock_wait
from engine.store.models import Campaign, MessageRef, Round, now
from engine.store.repo import DuplicateEvent, Repo

logger = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        settings: Settings,
        repo: Repo,
        queue: JobProducer,
        artifacts: LocalArtifacts,
        adapters: list[ChatAdapter] | None = None,
        moderation: ModerationList | None = None,
    ):
        self.settings = settings
        # the operator's list (settings) unless one is passed in; a brand kit may pass its own later
        self.moderation = moderation or ModerationList.from_settings(
            settings.moderation_words, settings.moderation_file
        )
        self.repo = repo
        self.queue = queue
        self.artifacts = artifacts
        self.adapters: dict[str, ChatAdapter] = {a.platform: a for a in adapters or []}
        self.rounds = Rounds(settings, repo, queue, Posts(artifacts))
        self.outbox = OutboxSender(
            repo, self.adapters, artifacts, lease_seconds=settings.outbox_lease_seconds
        )
        self.choices = Choices(settings, repo, self.rounds)
        self.retention = Retention(settings, repo, artifacts)
        self.delivery = Delivery(
            settings,
            repo,
            queue,
            self.adapters,
            self.rounds,
            self.outbox,
            self.choices.settle_due,
            self.retention,
        )
        self.delivery.moderation = self.moderation
        # events are answered before posts are sent (engine.priority)
        self.ack_first = AckFirst()
        self.delivery.turn = self.outbox.turn = self.ack_first.turn

    # -- lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        await self.rounds.recover()

    async def close(self) -> None:
        await self.queue.close()
        await self.repo.close()

    def add_adapter(self, adapter: ChatAdapter) -> None:
        self.adapters[adapter.platform] = adapter
        self.delivery.wake.set()

    async def pump(self) -> bool:
        return await self.delivery.pump()

    async def run(self, stop: asyncio.Event, *, interval: float = 0.5) -> None:
        await self.delivery.run(stop, interval=interval)

    async def prune(self, *, dry_run: bool = False) -> PruneReport:
        """Delete what the retention settings allow (``campaignbot prune``; the delivery loop does it too)."""
        return await self.retention.prune(dry_run=dry_run)

    # -- what adapters may keep per workspace (e.g. Discord's slash-command digest) -----------------------
    async def workspace_data(self, platform: str, workspace: str) -> dict[str, Any]:
        ws = await self.repo.workspace_settings(platform, workspace)
        return dict(ws.data or {}) if ws else {}

    async def save_workspace_data(self, platform: str, workspace: str, **data: Any) -> None:
        await self.repo.save_workspace_data(platform, workspace, data)

    # -- read-only views ----------------------------------------------------------------------------------
    async def status_text(self, user: str) -> str:
        return await views.status_text(self.queue, user, self.settings.job_lease_seconds)

    async def history_text(self, campaign_id: int) -> str:
        return await views.history_text(self.repo, campaign_id)

    # -- ack path -----------------------------------------------------------------------------------------
    async def handle(self, event: Event) -> Reply | None:
        """Handle one event quickly (database writes only). Returns what to show the user right away.

        The event is recorded as seen in the same transaction as its effect (:meth:`Repo.handling`): an
        error before the effect commits leaves it unseen, so the platform's redelivery is handled, and two
        deliveries at once make one effect. A duplicate costs one primary-key read (a slash command, never
        redelivered by the platforms, skips it: a second delivery would still make one effect)."""
        key = f"{event.where.platform}:{event.event_id}" if event.event_id else ""
        kind = type(event).__name__.removesuffix("Event").lower()
        try:
            with self.ack_first.answering(), lock_wait(self.settings.ack_lock_wait_seconds):
                reply, duplicate = await self._handle(event, key)
            metrics.EVENTS.labels(kind, "duplicate" if duplicate else "ok").inc()
            return reply
        except (DBAPIError, ConnectionError, TimeoutError, SQLAlchemyTimeoutError) as exc:
            # The database is locked or away: answer now (the platform waits 3 s at most). Nothing of the
            # event committed with its seen mark, so the platform's redelivery, or the person trying
            # again, is handled.
            logger.warning("event %s not handled, the database is busy: %s", event.event_id or "-", exc)
            metrics.EVENTS.labels(kind, "busy").inc()
            return Reply(say.BUSY)
        finally:
            self.delivery.wake.set()

    async def _handle(self, event: Event, key: str) -> tuple[Reply | None, bool]:
        """The reply, and whether the event was a duplicate (then there is no reply)."""
        try:
            # Slash commands are never delivered twice (Slack and Discord do not retry them), so they skip
            # the read; the seen mark written with their effect still makes a double delivery one effect.
            if key and not isinstance(event, CommandEvent) and await self.repo.seen(key):
                logger.info("duplicate event %s ignored", event.event_id)
                return None, True
            async with self.repo.handling(key):
                try:
                    return await self._dispatch(event), False
                except UserError as exc:  # an answer: the event is handled (and recorded)
                    return Reply(str(exc)), False
                except CampaignExpiredError as exc:  # expired between reading it and adding a round
                    return Reply(say.campaign_expired(exc.campaign_id, self.settings.retention_days)), False
        except DuplicateEvent:
            logger.info("duplicate event %s ignored (delivered twice at once)", event.event_id)
            return None, True

    async def _dispatch(self, event: Event) -> Reply | None:
        if isinstance(event, CommandEvent):
            return await self._command(event)
        if isinstance(event, ReactionEvent):
            return await self._reaction(event)
        if isinstance(event, ReplyEvent):
            return await self._reply(event)
        if isinstance(event, ButtonEvent):
            return await self._button(event)
        return None

    async def _command(self, ev: CommandEvent) -> Reply:
        cmd = parse_command(ev.text)
        if isinstance(cmd, Help):
            return Reply(help_text(cmd.topic))
        if isinstance(cmd, Status):
            return Reply(await self.status_text(ev.user))
        if isinstance(cmd, NewCampaign):
            self._moderate(ev.text, f"brief from {ev.user}", say.MODERATED_BRIEF)
            return await self._new_campaign(ev, cmd)
        if not isinstance(cmd, (History, Export, Resume, Cancel)):
            raise UserError(say.UNKNOWN_COMMAND)
        camp = await self._campaign(cmd.campaign_id, ev.where.platform, ev.where.workspace)
        if isinstance(cmd, History):
            return Reply(await self.history_text(camp.id))
        if isinstance(cmd, Export):
            await self._export(camp)
            return Reply(say.exporting(camp.id))
        if isinstance(cmd, Resume):
            return Reply(await self.rounds.resume(camp, ev.user))
        await self._authorize(camp, ev.user, "cancel it")
        return Reply(say.cancelled_jobs(camp.id, await self.rounds.cancel_all(camp)))

    async def _new_campaign(self, ev: CommandEvent, cmd: NewCampaign) -> Reply:
        w = ev.where
        camp, spec, pos = await self.rounds.new_campaign(
            w.platform, w.workspace, w.channel, ev.user, ev.user_name or ev.user, cmd
        )
        logger.info(
            "campaign %s created by %s (job %s, position %d)", say.cid_str(camp.id), ev.user, spec.id, pos
        )
        return Reply(
            extra={"campaign": say.cid_str(camp.id)}, text=say.working_on_it(camp.id, cmd.variants, pos)
        )

    async def _export(self, camp: Campaign) -> Path:
        return await export_campaign(self.repo, self.rounds, self.artifacts, camp, self.moderation)

    async def _campaign(self, campaign_id: int, platform: str, workspace: str) -> Campaign:
        camp = await self.repo.campaign(campaign_id)
        if camp is None or camp.platform != platform or camp.workspace != workspace:
            raise UserError(say.no_such_campaign(campaign_id))
        if camp.expired_at is not None:
            raise UserError(self._expired(camp))
        return camp

    def _expired(self, camp: Campaign) -> str:
        return say.campaign_expired(camp.id, self.settings.retention_days)

    async def _may_choose(self, camp: Campaign, user: str) -> bool:
        if user == camp.owner:
            return True
        ws = await self.repo.workspace_settings(camp.platform, camp.workspace)
        rule = ws.who_can_choose if ws else self.settings.who_can_choose
        return rule == "anyone"

    async def _authorize(self, camp: Campaign, user: str, what: str) -> None:
        if not await self._may_choose(camp, user):
            raise UserError(say.owner_only(camp.owner_name, what, camp.id))

    # -- reactions, buttons, replies ----------------------------------------------------------------------
    async def _reaction(self, ev: ReactionEvent) -> Reply | None:
        ref = await self.repo.message_ref(ev.where.platform, ev.where.channel, ev.message_id)
        if ref is None:
            return None
        camp = await self.repo.campaign(ref.campaign_id)
        assert camp is not None
        if camp.expired_at is not None:
            meant = is_cancel_emoji(ev.emoji) or is_choose_emoji(ev.emoji) or emoji_choice(ev.emoji)
            if meant:  # a choice or a cancel on an expired campaign's message: say why nothing happens
                await self.rounds.tell(camp, ev.user, self._expired(camp))
            return None
        if ref.round_number is None:
            return None
        if is_cancel_emoji(ev.emoji):
            if ref.kind == "status" and not ev.removed:
                await self._cancel_by_reaction(camp, ev.user, ref.round_number)
            return None
        chosen = await self._chosen_variant(camp, ref, ev.emoji)
        if chosen is None:
            return None
        rnd, choice, v = chosen
        early = rnd.result is None  # a card posted before the rest of its round is done
        if not ev.removed and self.moderation.matches(v.headline, v.body, v.cta) is not None:
            await self.rounds.tell(camp, ev.user, say.withheld_variant(rnd.number, choice))
            return None
        if ev.removed:  # taken back before its deadline: the pending choice goes (a vote stays)
            await self.choices.withdraw(camp, ev.user, rnd, choice)
            return None
        if (rnd.vote_deadline is not None and not rnd.vote_closed) or (early and camp.vote_seconds):
            await self.repo.add_vote(
                camp.id, rnd.number, ev.user, choice
            )  # early: the vote opens with the round
            return None
        if not await self._may_choose(camp, ev.user):
            await self.rounds.tell(camp, ev.user, say.only_owner_chooses(camp.owner_name, camp.id))
            return None
        if not await self.choices.refuse_if_busy(camp, ev.user, besides=rnd.number if early else None):
            await self.choices.choose(camp, ev.user, rnd, choice)  # early: settles once the round is done
        return None

    async def _chosen_variant(
        self, camp: Campaign, ref: MessageRef, emoji: str
    ) -> tuple[Round, int, VariantResult] | None:
        """The round, variant number and variant a reaction on ``ref`` picks, if it picks one: a number on
        the contact sheet, or the choose emoji on a variant's card (a finished round's, or a card posted
        while the rest of its round is being made)."""
        choice: int | None = None
        if ref.kind == "grid":
            choice = emoji_choice(emoji)
        elif ref.kind == "variant" and is_choose_emoji(emoji):
            choice = ref.variant_index
        if choice is None or ref.round_number is None:
            return None
        rnd = await self.repo.round(camp.id, ref.round_number)
        if rnd is None:
            return None
        if rnd.result is None:
            early = await self._early_card(camp, rnd, choice) if ref.kind == "variant" else None
            return (rnd, choice, early) if early is not None else None
        variants = RoundResult.from_dict(rnd.result).variants
        if not 1 <= choice <= len(variants):
            return None
        return rnd, choice, next((v for v in variants if v.index == choice), variants[choice - 1])

    async def _early_card(self, camp: Campaign, rnd: Round, choice: int) -> VariantResult | None:
        """Variant ``choice`` of a round still being made, if its card was posted already (as it was ready)."""
        if not JobState(rnd.state).active:
            return None
        card = await self.repo.card(card_id(camp.id, rnd.number, choice))
        if card is None:
            return None
        copy = card.data["copy"]
        return VariantResult(
            choice,
            copy["headline"],
            copy["body"],
            copy["cta"],
            card.image_path,
            visual=card.data.get("visual", {}),
            palette_index=card.data.get("palette_index"),
            colour_hint=card.data.get("colour_hint"),
        )

    async def _cancel_by_reaction(self, camp: Campaign, user: str, round_number: int) -> None:
        if not await self._may_choose(camp, user):
            await self.rounds.tell(camp, user, say.only_owner_cancels(camp.owner_name, camp.id))
            return
        await self.queue.cancel(job_id_for(camp.id, round_number))

    async def _button(self, ev: ButtonEvent) -> Reply | None:
        c, r, v = parse_card_id(ev.value)
        camp = await self._campaign(c, ev.where.platform, ev.where.workspace)
        if ev.action == "export":
            await self._export(camp)
            return Reply(say.exporting(camp.id, from_button=True))
        if ev.action != "refine":
            return None
        await self._authorize(camp, ev.user, "choose variants")
        rnd = await self.repo.round(camp.id, r)
        # a card posted while the rest of its round is being made: the choice settles once it is done
        early = rnd is not None and rnd.result is None and await self._early_card(camp, rnd, v) is not None
        if rnd is None or (rnd.result is None and not early):
            raise UserError(say.round_not_ready(c, r))
        if (rnd.vote_deadline is not None and not rnd.vote_closed) or (early and camp.vote_seconds):
            raise UserError(say.VOTE_OPEN)
        if await self.choices.in_flight(camp, besides=r if early else None) is not None:
            raise UserError(say.round_in_flight(camp.id))
        await self.choices.choose(camp, ev.user, rnd, v)
        return Reply(
            say.refining_when_ready(card_id(c, r, v), r) if early else say.refining(card_id(c, r, v))
        )

    async def _reply(self, ev: ReplyEvent) -> Reply | None:
        if not ev.where.thread:
            return None
        camp = await self.repo.campaign_in_thread(ev.where.platform, ev.where.thread)
        if camp is None:
            return None
        if camp.expired_at is not None:
            await self.rounds.tell(camp, ev.user, self._expired(camp))
            return None
        try:
            self._moderate(ev.text, f"reply from {ev.user} in {say.cid_str(camp.id)}", say.MODERATED_REPLY)
        except UserError as exc:
            await self.rounds.tell(camp, ev.user, str(exc))
            return None
        base = await self.repo.round(camp.id, camp.base_round)
        intent = await self._parse(ev.text, camp, base)
        if isinstance(intent, NotUnderstood):
            await self.rounds.tell(camp, ev.user, intent.message)
        elif isinstance(intent, HelpIntent):
            await self.rounds.note(camp, f"help:{ev.message_id or now()}", help_text("replies"))
        elif isinstance(intent, ExportIntent):
            await self._export(camp)
        elif not await self._may_choose(camp, ev.user):
            await self.rounds.tell(camp, ev.user, say.only_owner_steers(camp.owner_name, camp.id))
        elif isinstance(intent, BackTo):
            await self._back_to(camp, ev, intent.round)
        else:
            assert isinstance(intent, Refine)
            if intent.edits.back_to_round is not None:
                base = await self.repo.round(camp.id, intent.edits.back_to_round)
            if base is None or base.result is None:
                await self.rounds.tell(camp, ev.user, say.FIRST_ROUND_PENDING)
                return None
            await self.rounds.start(
                camp, ev.user, base=base, choice=intent.like, edits=intent.edits, note=ev.text
            )
        return None

    def _moderate(self, text: str, what: str, refusal: str) -> None:
        """Refuse ``text`` when it holds an entry of the moderation list: the operator's log names the
        entry, the person gets ``refusal``, which never repeats the word."""
        hit = self.moderation.match(text)
        if hit is not None:
            logger.info("%s refused by the moderation list (entry %r)", what, hit)
            raise UserError(refusal)

    async def _parse(self, text: str, camp: Campaign, base: Round | None) -> ReplyIntent:
        """The one place a reply is read: against the round it would build on."""
        brief = Brief.from_dict(base.spec["job"]["brief"] if base else camp.brief)
        spec = base.spec["job"] if base else {}
        return parse_reply(
            text,
            tone=brief.tone,
            length=brief.length,
            size=spec.get("size", "square"),
            variants=spec.get("variants", 4),
            max_round=await self.repo.max_round(camp.id),
        )

    async def _back_to(self, camp: Campaign, ev: ReplyEvent, number: int) -> None:
        rnd = await self.repo.round(camp.id, number)
        if rnd is None or rnd.result is None:
            await self.rounds.tell(camp, ev.user, say.nothing_to_go_back_to(number))
            return
        await self.rounds.show_grid(
            camp, rnd, f"{rnd.job_id}:grid:back:{ev.message_id or now()}", say.back_to(rnd.number)
        )
