"""Round planning is pure: no database, no chat, no queue."""

from __future__ import annotations

from engine import planning
from engine.brief import refine_seed
from engine.commands import NewCampaign, parse_command
from engine.edits import Edits

CMD = parse_command("green tea for students --variants 3 --size story --tone calm --seed 11")
assert isinstance(CMD, NewCampaign)
FIRST = planning.first_spec(7, "alice", CMD, seed=11)
LINEAGE = {"round": 1, "variants": [{"index": 1}, {"index": 2}, {"index": 3}]}


def test_first_round_takes_the_command() -> None:
    assert FIRST.id == "C7-R1" and FIRST.round_number == 1 and FIRST.seed == 11
    assert (FIRST.variants, FIRST.size, FIRST.brief["tone"]) == (3, "story", "calm")
    assert FIRST.parent is None and not FIRST.fresh


def test_seed_from_the_command_or_the_clock() -> None:
    assert planning.campaign_seed(42, 123.0) == 42
    assert planning.campaign_seed(None, 1_000.5) == 500  # milliseconds, modulo 1,000,000
    assert 0 <= planning.campaign_seed(None, 1.7e9) < 1_000_000


def test_a_refine_round_keeps_the_parent_unless_edits_change_it() -> None:
    nxt = planning.next_spec(FIRST, LINEAGE, number=2, user="bob", choice=2, edits=None, note="")
    s = nxt.spec
    assert s.id == "C7-R2" and s.user == "bob" and s.parent == LINEAGE and s.parent_variant == 2
    assert (s.variants, s.size, s.brief, s.colour, s.cta) == (3, "story", FIRST.brief, None, None)
    assert s.seed == refine_seed(11, 2) and not s.fresh and s.instruction is None and nxt.changes == ""


def test_edits_are_applied_once_and_described() -> None:
    e = Edits(
        tone="bold", length="short", length_step=-1, colour="red", variants=5, size="square", cta="Sip now"
    )
    nxt = planning.next_spec(
        FIRST, LINEAGE, number=3, user="alice", choice=None, edits=e, note="bolder, shorter"
    )
    s = nxt.spec
    assert (s.brief["tone"], s.brief["length"], s.colour, s.variants, s.size, s.cta) == (
        "bold", "short", "red", 5, "square", "Sip now"
    )  # fmt: skip
    assert s.length_step == -1 and s.fresh and s.instruction == "bolder, shorter"
    assert "tone calm -> bold" in nxt.changes and "colour red" in nxt.changes and "5 variants" in nxt.changes


def test_retry_gets_a_new_job_id() -> None:
    again = planning.retry_spec(FIRST, 1234.9)
    assert again.id == "C7-R1-again1234" and again.brief == FIRST.brief and FIRST.id == "C7-R1"


def test_tally_ties_go_to_the_lower_number() -> None:
    assert planning.tally([]) == ({}, None)
    assert planning.tally([3, 1, 3, 1, 2]) == ({3: 2, 1: 2, 2: 1}, 1)
    assert planning.tally([2, 2, 1]) == ({2: 2, 1: 1}, 2)


def test_lineage_depths() -> None:
    assert planning.lineage_depths([(1, None), (2, 1), (3, 2), (4, 1)]) == {1: 0, 2: 1, 3: 2, 4: 1}
