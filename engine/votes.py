"""Team votes: when a round's vote closes, tally it and refine the winner (ties go to the lower number)."""

from __future__ import annotations

from engine import messages as say
from engine.errors import UserError
from engine.planning import tally
from engine.rounds import Rounds
from engine.store.models import now
from engine.store.repo import Repo


async def close_due_votes(repo: Repo, rounds: Rounds) -> bool:
    """Close every vote past its deadline (once, even with several engines); True if one was closed."""
    did = False
    for rnd in await repo.votes_due(now()):
        votes = await repo.close_vote(rnd)
        if votes is None:  # another pass closed it
            continue
        camp = await repo.campaign(rnd.campaign_id)
        assert camp is not None and rnd.result is not None
        did = True
        counts, winner = tally(v.variant_index for v in votes)
        if winner is None:
            await rounds.note(camp, f"R{rnd.number}:tally", say.vote_closed_empty(rnd.number))
            continue
        await rounds.note(camp, f"R{rnd.number}:tally", say.vote_closed(rnd.number, counts, winner))
        try:
            await rounds.start(
                camp, camp.owner, base=rnd, choice=winner, edits=None, note=say.vote_winner_note(winner)
            )
        except UserError as exc:
            await rounds.note(camp, f"R{rnd.number}:tally-busy", str(exc))
    return did
