"""Round planning, pure: (campaign state, command or edits) -> a fully resolved :class:`JobSpec`.

No database and no chat here; :mod:`engine.rounds` stores what these functions decide. The worker gets
every parameter resolved (tone, length, colour, strength, button text), so nothing a person typed is
parsed twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.brief import Brief, refine_seed
from engine.commands import NewCampaign
from engine.edits import Edits
from engine.jobs import JobSpec


def job_id_prefix(campaign_id: int) -> str:
    """How every job id of a campaign starts (its rounds' jobs, and their retries)."""
    return f"C{campaign_id}-R"


def job_id_for(campaign_id: int, round_number: int) -> str:
    return f"{job_id_prefix(campaign_id)}{round_number}"


def campaign_seed(cmd_seed: int | None, now_s: float) -> int:
    """The seed a new campaign uses: the one asked for, else one drawn from the clock."""
    return cmd_seed if cmd_seed is not None else int(now_s * 1000) % 1_000_000


def first_spec(campaign_id: int, user: str, cmd: NewCampaign, seed: int) -> JobSpec:
    return JobSpec(
        id=job_id_for(campaign_id, 1),
        kind="round",
        campaign_id=campaign_id,
        round_number=1,
        user=user,
        brief=cmd.brief.to_dict(),
        variants=cmd.variants,
        size=cmd.size,
        seed=seed,
    )


@dataclass
class NextRound:
    spec: JobSpec
    changes: str  # what the edits change, for the echo ("tone playful -> bold, shorter"); "" if nothing


def next_spec(
    parent: JobSpec,
    parent_round: dict[str, object],
    *,
    number: int,
    user: str,
    choice: int | None,
    edits: Edits | None,
    note: str,
) -> NextRound:
    """The next round after ``parent`` (the spec of the round it builds on; ``parent_round`` is that
    round's lineage record): a refine round from variant ``choice``, or with no choice a fresh round from
    the parent's brief. ``edits`` (a parsed reply) change brief, size, variants, colour, strength, CTA."""
    brief = Brief.from_dict(parent.brief)
    variants, size = parent.variants, parent.size
    colour, strength, cta, length_step = parent.colour, "subtle", None, 0
    changes = ""
    if edits is not None:
        changes = edits.describe(brief.tone, brief.length, size, variants)
        brief = edits.apply_to_brief(brief)
        variants = edits.variants or variants
        size = edits.size or size
        colour = edits.colour or colour
        strength = edits.strength or strength
        cta = edits.cta
        length_step = edits.length_step
    spec = JobSpec(
        id=job_id_for(parent.campaign_id, number),
        kind="round",
        campaign_id=parent.campaign_id,
        round_number=number,
        user=user,
        brief=brief.to_dict(),
        variants=variants,
        size=size,
        seed=refine_seed(parent.seed, number),
        parent=dict(parent_round),
        parent_variant=choice,
        instruction=note or None,
        colour=colour,
        strength=strength,
        cta=cta,
        length_step=length_step,
        fresh=choice is None,
    )
    return NextRound(spec, changes)


def retry_spec(spec: JobSpec, at: float) -> JobSpec:
    """A failed, cancelled or dropped round queued again under a new job id (the old one is finished)."""
    again = JobSpec.from_dict(spec.to_dict())
    again.id = f"{job_id_for(spec.campaign_id, spec.round_number)}-again{int(at)}"
    return again


def tally(votes: Iterable[int]) -> tuple[dict[int, int], int | None]:
    """Votes per variant and the winner (most votes; a tie goes to the lower number)."""
    counts: dict[int, int] = {}
    for v in votes:
        counts[v] = counts.get(v, 0) + 1
    if not counts:
        return counts, None
    return counts, sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]


def lineage_depths(rounds: Iterable[tuple[int, int | None]]) -> dict[int, int]:
    """How deep each round sits in its campaign's tree: (number, parent round) pairs in number order."""
    depth: dict[int, int] = {}
    for number, parent in rounds:
        depth[number] = depth.get(parent, -1) + 1 if parent else 0
    return depth
