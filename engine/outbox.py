"""The outbox: every message the engine owes a chat is a keyed row, written in the same transaction as
the state change that owes it, and sent once, in order per campaign, with back-off on failure.

Exactly once, with several engine processes on one database and across crashes:

- a sender *claims* a row before it sends it (a lease: ``claimed_by``/``claimed_until``; on PostgreSQL
  taken with ``SKIP LOCKED``); only the oldest owed row of a campaign can be claimed, so a campaign's
  posts keep their order whoever sends them; a lease that runs out (a dead engine) lets another take it;
- it writes the *attempt marker* (``sending_at``) before it calls the platform; a row found unsent with
  the marker set may be on the platform already (a crash after the call, a lost response), so it is
  *reconciled* first: the adapter looks the post up by its key (:class:`engine.adapter.Reconciles`) and,
  found, it is recorded as sent; only a post not found is sent again;
- a post of several platform calls keeps the calls done in the row (:class:`engine.adapter.Checkpoints`):
  a retry does not upload a file again or post a second root message.

A platform failure (network, rate limit, the platform's API, the database) is retried with back-off,
honouring ``retry_after``. Any other exception is a bug in an adapter or the engine: it is logged with
its traceback and the message is given up after :data:`BUG_ATTEMPTS` tries (``outbox.gave_up``).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import DBAPIError

from engine import messages as say
from engine import metrics
from engine.adapter import Button, ChatAdapter, Checkpoints, OutMessage, Reconciles
from engine.artifacts import LocalArtifacts
from engine.errors import PermanentPlatformError, PlatformError
from engine.jobs import is_relative_name
from engine.priority import no_wait
from engine.store.models import Campaign, MessageRef, Outbox, now
from engine.store.repo import Repo

logger = logging.getLogger(__name__)

# An adapter bug (a TypeError, a KeyError ...) is retried this many times, then the message is given up.
BUG_ATTEMPTS = 3
# Exceptions of the platform client libraries are platform failures even when an adapter lets them through.
_PLATFORM_MODULES = ("slack_sdk", "slack_bolt", "discord", "aiohttp")
# Posts whose message id points back at a campaign (reactions and buttons on them are understood).
_REFERENCED = ("status", "grid", "variant")
# Claims one pass makes at most (each claim takes the next owed row of up to OUTBOX_CLAIM_BATCH campaigns).
MAX_CLAIMS_PER_PASS = 200
NOT_READY_S = 1.0  # a row that cannot go yet (its thread is not open) is looked at again after this


def is_platform_error(exc: BaseException) -> bool:
    """True for a failure outside the project (network, platform API, database): worth retrying."""
    if isinstance(exc, (PlatformError, OSError, TimeoutError, DBAPIError)):
        return True
    return any(type(exc).__module__.split(".")[0] == m for m in _PLATFORM_MODULES)


def is_permanent_error(exc: BaseException) -> bool:
    """True for a failure no retry can mend: the platform said so, or a file to upload is gone."""
    return isinstance(exc, (PermanentPlatformError, FileNotFoundError))


def message_to_dict(m: OutMessage, artifacts: LocalArtifacts) -> dict[str, Any]:
    """An outbox message as stored: its file by artifact name (never a host path when under the store)."""
    file: str | None = None
    if m.file is not None:
        try:
            file = artifacts.name(m.file)
        except ValueError:
            file = str(m.file)
    return {
        "text": m.text,
        "file": file,
        "title": m.title,
        "fields": [list(f) for f in m.fields],
        "buttons": [{"label": b.label, "action": b.action, "value": b.value} for b in m.buttons],
    }


def message_from_dict(d: dict[str, Any], artifacts: LocalArtifacts) -> OutMessage:
    return OutMessage(
        text=d.get("text", ""),
        file=artifacts.path(d["file"]) if d.get("file") else None,
        title=d.get("title", ""),
        fields=[(a, b) for a, b in d.get("fields", [])],
        buttons=[Button(**b) for b in d.get("buttons", [])],
    )


class Posts:
    """Builds outbox rows for a campaign (nothing is sent here)."""

    def __init__(self, artifacts: LocalArtifacts):
        self.artifacts = artifacts

    def row(
        self,
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
    ) -> Outbox:
        return Outbox(
            key=key[:120],
            campaign_id=camp.id,
            round_number=round_number,
            variant_index=variant_index,
            kind=kind,
            platform=camp.platform,
            channel=camp.channel,
            in_thread=in_thread,
            user=user,
            message=message_to_dict(msg, self.artifacts),
            reactions=reactions or [],
            created_at=now(),
        )


class OutboxSender:
    """Sends what the outbox owes, in order per campaign; one failure holds back that campaign only.

    Any number of senders (engine processes) may share one database: each row is claimed before it is sent
    (``lease_seconds``, renewed by the attempt marker), see the module's docstring."""

    def __init__(
        self,
        repo: Repo,
        adapters: dict[str, ChatAdapter],
        artifacts: LocalArtifacts,
        *,
        lease_seconds: float = 60.0,
        name: str | None = None,
    ):
        self.repo = repo
        self.adapters = adapters
        self.artifacts = artifacts
        self.lease_seconds = lease_seconds
        self.turn: Callable[[], Awaitable[None]] = (
            no_wait  # waits for events being answered (engine.priority)
        )
        self.name = (name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}")[:64]

    async def send_pending(self) -> bool:
        """Send what can go now (claiming each row first); True if something was posted."""
        did = False
        for _ in range(MAX_CLAIMS_PER_PASS):
            await self.turn()
            rows = await self.repo.outbox_claim(self.name, list(self.adapters), self.lease_seconds)
            if not rows:
                break
            for row in rows:
                await self.turn()
                did |= await self._claimed(row)
        return did

    async def _claimed(self, row: Outbox) -> bool:
        """Deliver one claimed row, or give it back; True if a message was posted."""
        adapter = self.adapters[row.platform]
        camp = await self.repo.campaign(row.campaign_id) if row.campaign_id is not None else None
        if camp is None:
            await self._give_up(row, "its campaign is gone")
            return False
        if row.in_thread and camp.thread is None:
            root = await self.repo.outbox_row(f"{say.cid_str(camp.id)}:root")
            if root is None or root.gave_up:
                await self._give_up(row, "the campaign's thread was never opened")
            else:
                await self.repo.outbox_release(row.seq, self.name, until=now() + NOT_READY_S)
            return False
        try:
            return await self._deliver(adapter, camp, row)
        except Exception as exc:
            if await self._failed(row, exc) and row.kind == "root":
                await self._no_thread(camp)
            return False

    async def _no_thread(self, camp: Campaign) -> None:
        """The campaign's root post was refused for good: what it owes in its thread cannot be posted
        (given up with the reason), and its owner hears why, in the channel."""
        n = await self.repo.outbox_give_up_campaign(camp.id, "the campaign's thread was never opened")
        logger.warning("campaign %s has no thread: %d message(s) for it given up", camp.id, n)
        note = Posts(self.artifacts).row(
            camp,
            f"{say.cid_str(camp.id)}:no-thread",
            "tell",
            OutMessage(text=say.no_thread(camp.id)),
            in_thread=False,
            user=camp.owner,
        )
        await self.repo.add([note], ignore_duplicate=True)

    async def _give_up(self, row: Outbox, reason: str) -> None:
        logger.warning("posting %s given up: %s", row.key, reason)
        await self.repo.outbox_failed(row.seq, row.attempts, reason, gave_up=True)

    async def _deliver(self, adapter: ChatAdapter, camp: Campaign, row: Outbox) -> bool:
        sent = False
        if row.message_id is None:
            if row.sending_at is not None and await self._reconciled(adapter, camp, row):
                pass  # it was on the platform already: recorded as sent, not posted again
            elif not await self.repo.outbox_sending(row.seq, self.name, self.lease_seconds):
                logger.warning("outbox %s: the claim ran out before sending; left to its new holder", row.key)
                return False
            else:
                await self._send_one(adapter, camp, row)
                sent = True
        if row.reactions and not row.reactions_done and row.message_id:
            await adapter.add_reactions(camp.channel, camp.thread, row.message_id, list(row.reactions))
        await self.repo.reactions_done(row.seq)
        return sent

    async def _reconciled(self, adapter: ChatAdapter, camp: Campaign, row: Outbox) -> bool:
        """A row with an attempt marker but no message id: True if the adapter found the post (now recorded
        as sent). A root message found is remembered as the root step, and its thread opened from it."""
        if row.kind == "tell" or not isinstance(adapter, Reconciles):
            logger.info("outbox %s: an earlier attempt may have been posted; sending again", row.key)
            return False
        thread = camp.thread if row.in_thread else None
        mid = await adapter.find_sent(camp.channel, thread, row.key, since=row.sending_at)
        if mid is None:
            logger.info("outbox %s: an earlier attempt is not on the platform; sending again", row.key)
            return False
        logger.info(
            "outbox %s: found on the platform after an unfinished attempt (%s); not re-sent", row.key, mid
        )
        if row.kind == "root":
            row.steps = {**(row.steps or {}), "root": mid}
            await self.repo.outbox_steps(row.seq, row.steps)
            return False  # open_thread goes on from the root message (its checkpoint)
        await self._record_sent(camp, row, mid)
        return True

    async def _failed(self, row: Outbox, exc: Exception) -> bool:
        """Record a failed try and when to try again; True if the message was given up."""
        attempts = row.attempts + 1
        give_up = False
        if is_permanent_error(exc):
            metrics.DELIVERY_ERRORS.labels("permanent").inc()
            logger.warning("posting %s failed for good, not retried: %s", row.key, exc)
            await self.repo.outbox_failed(row.seq, attempts, f"{type(exc).__name__}: {exc}", gave_up=True)
            return True
        if is_platform_error(exc):
            metrics.DELIVERY_ERRORS.labels("transient").inc()
            delay = min(60.0, 0.5 * 2**attempts)
            if isinstance(exc, PlatformError) and exc.retry_after:
                delay = max(delay, exc.retry_after)
            logger.warning(
                "posting %s failed (attempt %d, retry in %.0fs): %s", row.key, attempts, delay, exc
            )
        else:  # a bug in an adapter or in the engine: say so loudly, and do not retry forever
            metrics.DELIVERY_ERRORS.labels("bug").inc()
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
        await self.repo.outbox_failed(
            row.seq, attempts, f"{type(exc).__name__}: {exc}", gave_up=give_up, retry_at=now() + delay
        )
        return give_up

    def _message(self, row: Outbox) -> OutMessage:
        """The row's message, carrying its key and the row's durable checkpoints."""
        msg = message_from_dict(row.message, self.artifacts)

        async def save(steps: dict[str, str]) -> None:
            row.steps = steps
            await self.repo.outbox_steps(row.seq, steps)

        msg.key = row.key
        msg.checkpoints = Checkpoints(row.steps or {}, save)
        return msg

    async def _send_one(self, adapter: ChatAdapter, camp: Campaign, row: Outbox) -> None:
        file = row.message.get("file")
        if file and is_relative_name(file):  # a copy here first when the store is not this host's disk
            await self.artifacts.fetch(file)
        msg = self._message(row)
        thread = camp.thread if row.in_thread else None
        if row.kind == "root":
            mid, thread_id = await adapter.open_thread(camp.channel, msg)
            root = MessageRef(
                platform=camp.platform, channel=camp.channel, message_id=mid, campaign_id=camp.id, kind="root"
            )
            await self.repo.thread_opened(row.seq, camp.id, mid, thread_id, root)
            camp.thread = thread_id
            row.message_id = mid
            return
        if row.kind == "tell":
            await adapter.tell(camp.channel, thread, row.user or camp.owner, msg.text)
            mid = f"tell:{row.seq}"
        else:
            mid = await adapter.post(camp.channel, thread, msg)
        await self._record_sent(camp, row, mid)

    async def _record_sent(self, camp: Campaign, row: Outbox, mid: str) -> None:
        ref = None
        if row.kind in _REFERENCED:
            ref = MessageRef(
                platform=camp.platform,
                channel=camp.channel,
                message_id=mid,
                campaign_id=camp.id,
                round_number=row.round_number,
                variant_index=row.variant_index,
                kind=row.kind,
            )
        await self.repo.outbox_sent(row.seq, mid, ref)
        row.message_id = mid
