"""The outbox: every message the engine owes a chat is a keyed row, written in the same transaction as
the state change that owes it, and sent once, in order per campaign, with back-off on failure.

A platform failure (network, rate limit, the platform's API, the database) is retried with back-off,
honouring ``retry_after``. Any other exception is a bug in an adapter or the engine: it is logged with
its traceback and the message is given up after :data:`BUG_ATTEMPTS` tries (``outbox.gave_up``).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.exc import DBAPIError

from engine.adapter import Button, ChatAdapter, OutMessage
from engine.artifacts import LocalArtifacts
from engine.errors import PermanentPlatformError, PlatformError
from engine.store.models import Campaign, MessageRef, Outbox, now
from engine.store.repo import Repo

logger = logging.getLogger(__name__)

# An adapter bug (a TypeError, a KeyError ...) is retried this many times, then the message is given up.
BUG_ATTEMPTS = 3
# Exceptions of the platform client libraries are platform failures even when an adapter lets them through.
_PLATFORM_MODULES = ("slack_sdk", "slack_bolt", "discord", "aiohttp")
# Posts whose message id points back at a campaign (reactions and buttons on them are understood).
_REFERENCED = ("status", "grid", "variant")


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
    """Sends what the outbox owes, in order per campaign; one failure holds back that campaign only."""

    def __init__(self, repo: Repo, adapters: dict[str, ChatAdapter], artifacts: LocalArtifacts):
        self.repo = repo
        self.adapters = adapters
        self.artifacts = artifacts
        self._backoff: dict[int, float] = {}  # outbox seq -> not before

    async def send_pending(self) -> bool:
        """One pass over the unsent rows; True if something was posted."""
        did = False
        blocked: set[int | None] = set()
        for row in await self.repo.outbox_pending():
            if row.campaign_id in blocked:
                continue
            if self._backoff.get(row.seq, 0) > now():
                blocked.add(row.campaign_id)
                continue
            adapter = self.adapters.get(row.platform)
            camp = await self.repo.campaign(row.campaign_id) if row.campaign_id else None
            if adapter is None or camp is None:
                continue
            if row.in_thread and camp.thread is None:
                blocked.add(row.campaign_id)
                continue
            try:
                did |= await self._deliver(adapter, camp, row)
            except Exception as exc:
                if not await self._failed(row, exc):
                    blocked.add(row.campaign_id)
        return did

    async def _deliver(self, adapter: ChatAdapter, camp: Campaign, row: Outbox) -> bool:
        sent = False
        if row.message_id is None:
            await self._send_one(adapter, camp, row)
            sent = True
        if row.reactions and not row.reactions_done and row.message_id:
            await adapter.add_reactions(camp.channel, camp.thread, row.message_id, list(row.reactions))
        await self.repo.reactions_done(row.seq)
        return sent

    async def _failed(self, row: Outbox, exc: Exception) -> bool:
        """Record a failed try and when to try again; True if the message was given up."""
        attempts = row.attempts + 1
        give_up = False
        if is_permanent_error(exc):
            logger.warning("posting %s failed for good, not retried: %s", row.key, exc)
            await self.repo.outbox_failed(row.seq, attempts, f"{type(exc).__name__}: {exc}", gave_up=True)
            return True
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
        self._backoff[row.seq] = now() + delay
        await self.repo.outbox_failed(row.seq, attempts, f"{type(exc).__name__}: {exc}", gave_up=give_up)
        return give_up

    async def _send_one(self, adapter: ChatAdapter, camp: Campaign, row: Outbox) -> None:
        msg = message_from_dict(row.message, self.artifacts)
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
