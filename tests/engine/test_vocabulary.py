"""One vocabulary, read once: every tone, size and strength word the reply parser accepts reaches the
worker as a resolved job parameter (through :mod:`engine.planning`), and every tone it can reach changes
what the worker makes (the palette here; the copy model's input in tests/inference/test_copywriter.py; colours in
tests/inference/test_compose.py). No torch."""

from __future__ import annotations

import pytest

from engine import planning
from engine.brief import SIZES, TONES, Brief
from engine.commands import parse_command
from engine.jobs import JobSpec
from engine.replies import Refine, parse_reply
from engine.vocabulary import _LESS_TONE, _LESS_WORDS, _SIZE_WORDS, _TONE_BY_NOUN, _TONE_WORDS

BASE = planning.first_spec(1, "alice", parse_command("smart watch for runners --tone friendly"), seed=5)  # type: ignore[arg-type]


def _next(text: str, parent: JobSpec = BASE) -> JobSpec:
    brief = Brief.from_dict(parent.brief)
    intent = parse_reply(
        text, tone=brief.tone, length=brief.length, size=parent.size, variants=parent.variants
    )
    assert isinstance(intent, Refine), (text, intent)
    lineage = {"round": 1, "variants": [{"index": i} for i in range(1, 5)]}
    return planning.next_spec(
        parent, lineage, number=2, user="alice", choice=1, edits=intent.edits, note=text
    ).spec


def test_every_tone_word_reaches_the_job_as_its_tone() -> None:
    heard = set()
    cases = [(w, t) for w, t in _TONE_WORDS.items()]
    cases += [(f"{w} tone", t) for w, t in _TONE_BY_NOUN.items()]
    cases += [(f"less {w}", _LESS_TONE[t]) for w, t in _TONE_WORDS.items() if w not in _LESS_WORDS]
    cases += [(f"less {w}", t) for w, t in _LESS_WORDS.items()]
    for text, tone in cases:
        got = _next(text).brief["tone"]
        assert got == tone, (text, got, tone)
        heard.add(got)
    assert heard == set(TONES)


def test_every_tone_changes_what_the_worker_draws() -> None:
    from engine.inference.compose import palette_for  # Pillow only

    palettes = {tone: palette_for(tone, 0) for tone in TONES}
    assert len({repr(p) for p in palettes.values()}) == len(TONES)


@pytest.mark.parametrize("word", sorted(_SIZE_WORDS))
def test_every_size_word_reaches_the_job(word: str) -> None:
    size = _next(word if word in SIZES or ":" in word else f"make it {word}").size
    assert size == _SIZE_WORDS[word]


def test_strength_and_length_words() -> None:
    assert _next("totally different").strength == "strong"
    assert _next("subtle tweak").strength == "subtle"
    spec = _next("shorter")
    assert (spec.brief["length"], spec.length_step) == ("short", -1)
    spec = _next("much longer")
    assert (spec.brief["length"], spec.length_step) == ("long", 2)
    assert _next("make it long").length_step == 0
    # the parent's colour is kept unless a reply changes it
    blue = _next("bluer")
    assert blue.colour == "blue" and _next("shorter", blue).colour == "blue"
