"""Every sentence the bot says in a chat, in one place (to read, to review, to translate one day).

Card-level words (headline, body, button labels) come from the worker's result; everything around them
is written here. Functions take plain values, never database rows.
"""

from __future__ import annotations

from engine.emoji import NUMBER_EMOJI


def cid_str(campaign_id: int) -> str:
    return f"C{campaign_id}"


def duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


# -- answers shown at once (ephemeral where the platform allows) -------------------------------------------
UNKNOWN_COMMAND = "That command is not known. Try /campaign help."
BUSY = "The studio is busy for a moment and could not take that. Please try again in a few seconds."


def working_on_it(campaign_id: int, variants: int, position: int) -> str:
    where = "starting now" if position <= 1 else f"you are number {position} in the queue"
    return (
        f"Working on it: campaign {cid_str(campaign_id)}, {variants} variants ({where}). "
        "Follow along in its thread."
    )


def exporting(campaign_id: int, *, from_button: bool = False) -> str:
    if from_button:
        return f"Exporting {cid_str(campaign_id)} into its thread."
    return f"Exporting {cid_str(campaign_id)}: the zip will appear in its thread."


def cancelled_jobs(campaign_id: int, n: int) -> str:
    if n:
        return f"Cancelled {n} job(s) of {cid_str(campaign_id)}."
    return f"Nothing of {cid_str(campaign_id)} is running or queued."


def refining(card: str) -> str:
    return f"Refining {card}."


def refining_when_ready(card: str, number: int) -> str:
    return f"Refining {card} once round {number} is done."


def too_many_jobs(mine: int, limit: int) -> str:
    return (
        f"You already have {mine} rounds being made (the limit is {limit}). "
        "Wait for one to finish, or stop one with /campaign cancel C<number>."
    )


def studio_busy(depth: int) -> str:
    return f"The studio is busy: {depth} rounds are waiting. Please try again in a few minutes."


def no_such_campaign(campaign_id: int) -> str:
    return f"There is no campaign C{campaign_id} here. /campaign status lists yours."


def campaign_expired(campaign_id: int, days: float) -> str:
    age = f" (older than {days:g} days)" if days > 0 else ""
    return (
        f"Campaign {cid_str(campaign_id)} has expired{age}: its rounds and images were deleted. "
        "Start a new one with /campaign <what to advertise>."
    )


def owner_only(owner_name: str, what: str, campaign_id: int) -> str:
    return f"Only {owner_name or 'the owner'} can {what} on campaign {cid_str(campaign_id)}."


def only_owner_cancels(owner_name: str, campaign_id: int) -> str:
    return f"Only {owner_name} can cancel {cid_str(campaign_id)}."


def only_owner_chooses(owner_name: str, campaign_id: int) -> str:
    return (
        f"Only {owner_name} can choose variants on {cid_str(campaign_id)}. "
        "You can still reply in the thread with ideas."
    )


def only_owner_steers(owner_name: str, campaign_id: int) -> str:
    return f"Only {owner_name} can steer {cid_str(campaign_id)}."


def round_not_ready(campaign_id: int, number: int) -> str:
    return f"Round {number} of {cid_str(campaign_id)} is not ready yet."


MODERATED_BRIEF = (
    "That brief uses a word or claim this workspace does not allow, so no campaign was started. "
    "Please reword it and try again, for example: /campaign smart watch for runners --tone bold"
)
MODERATED_REPLY = (
    "That reply uses a word or claim this workspace does not allow, so it was not applied. "
    "Please reword it, for example: shorter, bolder, more like 2."
)


def withheld_variant(number: int, index: int) -> str:
    return (
        f"Round {number}, variant {index} was withheld: its copy used a word or claim this workspace "
        "does not allow. Choose another variant, or reply to make a new round."
    )


def round_in_flight(campaign_id: int) -> str:
    return (
        f"A round of {cid_str(campaign_id)} is already being made. Please wait for it to arrive, "
        "then choose again."
    )


VOTE_OPEN = "A team vote is open on this round: react with a number to vote."
FIRST_ROUND_PENDING = "The first round is still being made; reply again when it arrives."


def nothing_to_go_back_to(number: int) -> str:
    return f"Round {number} has no finished variants to go back to."


def no_rounds_yet(campaign_id: int) -> str:
    return f"{cid_str(campaign_id)} has no rounds yet."


def queued_again(campaign_id: int, number: int) -> str:
    return f"Round {number} of {cid_str(campaign_id)} is queued again."


def still_first_round(campaign_id: int) -> str:
    return f"Round 1 of {cid_str(campaign_id)} is still being made."


def resumed(campaign_id: int, number: int) -> str:
    return f"Resumed {cid_str(campaign_id)} at round {number} in its thread."


def nothing_to_export(campaign_id: int) -> str:
    return f"{cid_str(campaign_id)} has no finished round to export yet."


IMAGES_EXPIRED = "(Its images have expired and were deleted; the numbers still choose a variant.)"


def images_expired(campaign_id: int) -> str:
    return (
        f"The images of {cid_str(campaign_id)} have expired and were deleted, so there is nothing to export. "
        "React with a number or reply with changes to make a new round."
    )


# -- posts in the thread ---------------------------------------------------------------------------------
def campaign_root(
    campaign_id: int,
    owner_name: str,
    product: str,
    tone: str,
    size: str,
    variants: int,
    seed: int,
    vote_s: int | None,
) -> str:
    vote = f" · team vote {duration(vote_s)}" if vote_s else ""
    return (
        f'📣 Campaign {cid_str(campaign_id)} by {owner_name}: "{product}"\n'
        f"Tone {tone} · {size} · {variants} variants · seed {seed}{vote}"
    )


def campaign_title(campaign_id: int) -> str:
    return f"Campaign {cid_str(campaign_id)}"


def queued(number: int, *, again: bool = False, position: int | None = None) -> str:
    if position is not None:
        return f"⏳ Round {number} is queued (number {position})"
    return f"⏳ Round {number} is queued" + (" again" if again else "")


def running(number: int, stage: str, percent: int) -> str:
    return f"⚙️ Round {number}: {stage} ({percent}%)"


def round_echo(number: int, changes: str, what: str) -> str:
    echo = f"Got it: {changes}. " if changes else ""
    return f"{echo}Round {number}: {what}."


def refine_what(card: str | None, base_round: int) -> str:
    return f"refining {card}" if card else f"a new round from round {base_round}"


def back_to(number: int) -> str:
    return f"↩️ Back to round {number}: react with a number to refine a variant, or reply with changes."


def resumed_grid(number: int) -> str:
    return f"▶️ Resumed at round {number}: react with a number to refine."


def grid(number: int, variants: int, vote_s: int | None) -> str:
    vote = ""
    if vote_s:
        vote = (
            f" Team vote open for {duration(vote_s)}: everyone reacts with a number; "
            "the winner is refined (ties go to the lower number)."
        )
    return (
        f"Round {number}: {variants} variants. React {NUMBER_EMOJI[0]}-{NUMBER_EMOJI[variants - 1]} to refine one, "
        f'or reply in the thread with changes ("shorter", "bolder", "more like 2").{vote}'
    )


def grid_title(campaign_id: int, number: int) -> str:
    return f"{cid_str(campaign_id)} round {number}"


def variant_line(index: int, headline: str) -> str:
    return f"{index}. {headline}"


def no_thread(campaign_id: int) -> str:
    return (
        f"⚠️ Campaign {cid_str(campaign_id)} could not open its thread here: the bot may be missing a "
        "permission in this channel (on Discord: Create Public Threads and Send Messages in Threads). "
        "Ask an admin to grant it, then start the campaign again."
    )


def outcome(state: str, number: int, campaign_id: int, error: str | None) -> str:
    return {
        "failed": f"⚠️ Round {number} could not be made: {error}. Try /campaign resume {cid_str(campaign_id)}.",
        "cancelled": f"❌ Round {number} was cancelled.",
        "dropped": f"⌛ Round {number} waited too long in the queue and was dropped. "
        f"Try /campaign resume {cid_str(campaign_id)}.",
    }[state]


def final_status(state: str, number: int, seconds: float | None = None) -> str:
    text = {
        "done": f"✅ Round {number} is ready",
        "failed": f"⚠️ Round {number} failed",
        "cancelled": f"❌ Round {number} cancelled",
        "dropped": f"⌛ Round {number} dropped",
    }[state]
    return text + (f" ({seconds:.0f} s)" if seconds is not None else "")


def vote_closed_empty(number: int) -> str:
    return f"🗳️ Vote on round {number} closed with no votes. React with a number to choose."


def vote_closed(number: int, tally: dict[int, int], winner: int) -> str:
    parts = ", ".join(f"{k}: {tally[k]}" for k in sorted(tally))
    return f"🗳️ Vote on round {number} closed ({parts}). Variant {winner} wins; refining it."


def vote_winner_note(winner: int) -> str:
    return f"team vote winner {winner}"


def export_ready(campaign_id: int, rounds: int) -> str:
    return f"📦 Export of {cid_str(campaign_id)}: {rounds} round(s), every creative and its copy."


# -- views -----------------------------------------------------------------------------------------------
def queue_line(depth: int) -> str:
    return f"Queue: {depth} round(s) waiting or running."


def job_line(job_id: str, where: str) -> str:
    return f"• {job_id}: {where}"


def worker_line(alive: list[tuple[str, str]]) -> str:
    return "Worker: " + (
        ", ".join(f"{state} on {device}" for state, device in alive) if alive else "not running"
    )


# -- why a round failed: the reason part of ``outcome("failed", ...)`` ("could not be made: <reason>.") -------
def job_timed_out(seconds: float) -> str:
    return (
        f"it was still not finished after {duration(int(seconds))}, so it was stopped and the studio was "
        "restarted for the next rounds; fewer variants (--variants 2) make a quicker round"
    )


OUT_OF_MEMORY = (
    "the studio ran out of memory making it, even in smaller batches; fewer variants (--variants 2) "
    "need less memory"
)


def export_withheld(variants: list[int]) -> str:
    names = ", ".join(str(v) for v in variants)
    return (
        f"Variant{'s' if len(variants) > 1 else ''} {names} of this round used words this workspace does not "
        "allow, so their creatives are not in this export, nor is this round's copy sheet or contact sheet."
    )
