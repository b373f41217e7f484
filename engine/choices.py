"""Reaction and Refine-button choices, debounced: a choice does not start a round at once. It is recorded
as the campaign's pending choice (durably, in the store) with a short deadline; a later choice replaces it
and an unreact withdraws it; when the deadline passes the latest choice starts one refinement. So a storm
of reactions (30 people in a second, an owner toggling a number 20 times) makes one round, and an engine
restart before the deadline still makes it (the delivery loop settles what is due).

One choice in flight per campaign: while a round of the campaign is being made, a further reaction or
button is told to wait (the store checks it again, atomically, when the choice is settled). Thread replies
are not choices: each reply still makes its round, in order.

Cards are posted as their variants are ready, so a card can be chosen while the rest of its round is being
made: that choice is recorded like any other (a vote, in a campaign with a team vote), and waits until its
round is done; then it settles as usual (unless another round of the campaign is being made by then).
"""

from __future__ import annotations

import logging

from engine import messages as say
from engine.errors import UserError
from engine.jobs import JobState
from engine.rounds import Rounds
from engine.settings import Settings
from engine.store.models import Campaign, Round, now
from engine.store.repo import Choice, ChoiceGone, Repo

logger = logging.getLogger(__name__)

CAP_FACTOR = 2.0  # a choice settles at most this many debounce periods after the storm's first one


class Choices:
    def __init__(self, settings: Settings, repo: Repo, rounds: Rounds):
        self.settings = settings
        self.repo = repo
        self.rounds = rounds

    async def in_flight(self, camp: Campaign, *, besides: int | None = None) -> int | None:
        """The number of a round of ``camp`` being made (queued or running), if any; with ``besides``, a
        round other than that one (the round of a card chosen before its round was done)."""
        active = await self.repo.rounds_in([JobState.QUEUED, JobState.RUNNING], camp.id)
        return min((r.number for r in active if r.number != besides), default=None)

    async def refuse_if_busy(self, camp: Campaign, user: str, *, besides: int | None = None) -> bool:
        """Tell ``user`` (once per round being made) to wait if a round of ``camp`` is being made (one
        other than ``besides``)."""
        number = await self.in_flight(camp, besides=besides)
        if number is None:
            return False
        await self.rounds.tell(camp, user, say.round_in_flight(camp.id), once=f"busy:R{number}")
        return True

    async def choose(self, camp: Campaign, user: str, base: Round, variant: int) -> None:
        """Record ``user``'s choice of ``variant`` of ``base`` as the campaign's pending choice; with no
        debounce (0 s) it is settled at once."""
        wait = self.settings.reaction_debounce_seconds
        choice = await self.repo.choose(camp.id, base.number, variant, user, wait=wait, cap=wait * CAP_FACTOR)
        logger.info(
            "campaign %s: %s chose variant %d of round %d (settles in %.1f s)",
            say.cid_str(camp.id),
            user,
            variant,
            base.number,
            max(0.0, choice.due_at - now()),
        )
        if choice.due_at <= now():
            await self.settle_due(camp.id)

    async def withdraw(self, camp: Campaign, user: str, base: Round, variant: int) -> None:
        """An unreact before the deadline: the pending choice goes if it is this one."""
        if await self.repo.withdraw_choice(camp.id, base.number, variant, user):
            logger.info("campaign %s: %s withdrew their choice", say.cid_str(camp.id), user)

    async def settle_due(self, campaign_id: int | None = None) -> bool:
        """Start one refinement from each pending choice past its deadline (of one campaign, or all).
        Several engines may settle at once: the choice is deleted in the round's own transaction, so one
        of them starts it. True if a choice was settled or refused."""
        did = False
        for choice in await self.repo.choices_due(now(), campaign_id):
            did |= await self._settle(choice)
        return did

    async def _settle(self, choice: Choice) -> bool:
        camp = await self.repo.campaign(choice.campaign_id)
        base = await self.repo.round(choice.campaign_id, choice.round_number)
        if base is not None and base.result is None and JobState(base.state).active:
            return False  # a card chosen before its round was done: settled once the round is
        if camp is None or base is None or base.result is None:
            await self.repo.drop_choice(choice)
            return False
        try:
            await self.rounds.start(
                camp, choice.user, base=base, choice=choice.variant, edits=None, note="", take=choice
            )
        except ChoiceGone:  # replaced, withdrawn or settled by another engine meanwhile
            return False
        except UserError as exc:  # a round of the campaign is being made, or the limits refuse it
            if await self.repo.drop_choice(choice):
                number = await self.in_flight(camp)
                once = f"busy:R{number}" if number is not None else f"refused:{choice.due_at:.6f}"
                await self.rounds.tell(camp, choice.user, str(exc), once=once)
            return True
        return True
