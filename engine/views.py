"""Read-only views: ``/campaign status`` (the queue, your rounds, the worker) and ``/campaign history``
(a campaign's tree of rounds and cards)."""

from __future__ import annotations

from engine import messages as say
from engine.ids import card_id
from engine.jobs import JobState
from engine.planning import lineage_depths
from engine.queue import JobProducer
from engine.store.models import now
from engine.store.repo import Repo


async def status_text(queue: JobProducer, user: str, lease_s: float) -> str:
    lines = [say.queue_line(await queue.depth())]
    for j in await queue.unhandled():
        if j.spec.user == user and j.state.active:
            if j.state == JobState.RUNNING:
                where = f"{j.stage} ({j.percent}%)"
            else:
                where = f"number {await queue.position(j.id)} in the queue"
            lines.append(say.job_line(j.id, where))
    alive = [
        (w.state, w.device)
        for w in await queue.workers()
        if w.state != "stopped" and now() - w.last_seen < 3 * lease_s
    ]
    lines.append(say.worker_line(alive))
    return "\n".join(lines)


async def history_text(repo: Repo, campaign_id: int) -> str:
    camp = await repo.campaign(campaign_id)
    assert camp is not None
    rounds = await repo.rounds(campaign_id)
    cards = await repo.cards(campaign_id)
    lines = [f'{say.cid_str(camp.id)} "{camp.brief["product"]}" by {camp.owner_name}']
    depth = lineage_depths((r.number, r.parent_round) for r in rounds)
    for r in rounds:
        d = depth[r.number]
        src = ""
        if r.parent_round:
            src = (
                f" from {card_id(camp.id, r.parent_round, r.parent_variant)}"
                if r.parent_variant
                else f" after round {r.parent_round}"
            )
        how = f' "{r.instruction}"' if r.instruction else ""
        lines.append(
            f"{'  ' * d}{'└ ' if d else ''}Round {r.number}{src}{how}: {r.state}, seed {r.spec['job']['seed']}"
        )
        for c in (c for c in cards if c.round_number == r.number):
            lines.append(
                f'{"  " * (d + 1)}{c.id} "{c.data["copy"]["headline"]}" (image seed {c.data["visual"]["seed"]})'
            )
    return "\n".join(lines)
