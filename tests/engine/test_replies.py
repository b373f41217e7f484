"""Thread replies -> intents: every pattern, the echo, bounds, and property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.brief import CTA_MAX, Brief
from engine.errors import UserError
from engine.replies import (
    COLOURS,
    BackTo,
    Current,
    Edits,
    ExportIntent,
    HelpIntent,
    NotUnderstood,
    Refine,
    parse_reply,
)

CUR = Current(tone="playful", length="medium", size="square", variants=4, round=3)


def edits(text: str, current: Current = CUR) -> Edits:
    intent = parse_reply(text, current=current)
    assert isinstance(intent, Refine), intent
    assert intent.like == intent.edits.like
    return intent.edits


def error(text: str, current: Current = CUR) -> str:
    with pytest.raises(UserError) as exc:
        parse_reply(text, current=current)
    return str(exc.value)


# --- single instructions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tone"),
    [("bolder", "bold"), ("more playful", "playful"), ("Premium!", "premium"), ("tone: calm", "calm"),
     ("more formal", "professional"), ("add more urgency", "urgent"), ("warmer tone", "friendly"),
     ("less playful", "professional"), ("too formal", "friendly"), ("not so salesy", "calm"),
     ("LUXURIOUS", "premium"), ("funnier please", "playful")],
)  # fmt: skip
def test_tone(text: str, tone: str) -> None:
    assert edits(text).tone == tone


@pytest.mark.parametrize(
    ("text", "current", "length"),
    [("shorter", "medium", "short"), ("shorter", "long", "medium"), ("shorter", "short", "short"),
     ("longer", "medium", "long"), ("too long", "long", "medium"), ("too short", "short", "medium"),
     ("much shorter", "long", "short"), ("less text", "medium", "short"), ("more detail", "short", "medium"),
     ("make it short", "long", "short"), ("concise", "medium", "short"), ("not so long", "medium", "short")],
)  # fmt: skip
def test_length_is_relative(text: str, current: str, length: str) -> None:
    assert edits(text, Current(length=current)).length == length


@pytest.mark.parametrize(
    ("text", "colour"),
    [("bluer", "blue"), ("warmer", "warm"), ("darker", "dark"), ("red", "red"), ("go green", "green"),
     ("pastel", "pastel"), ("warmer colours", "warm"), ("cool palette", "cool"), ("black and white", "mono"),
     ("use a darker palette", "dark"), ("bolder colors", "vibrant"), ("too dark", "light"), ("golden", "gold"),
     ("softer colours", "muted")],
)  # fmt: skip
def test_colour(text: str, colour: str) -> None:
    e = edits(text)
    assert e.colour == colour and colour in COLOURS


@pytest.mark.parametrize(
    ("text", "keywords"),
    [("mention GPS", ("GPS",)), ("use 'battery life'", ("battery life",)), ('use "Battery Life"', ("Battery Life",)),
     ("add keyword heart rate", ("heart rate",)), ("keywords: GPS, waterproof", ("GPS", "waterproof")),
     ("mention GPS and heart rate", ("GPS", "heart rate")), ("highlight free returns", ("free returns",)),
     ("say 'made in Italy'", ("made in Italy",)), ("Mention GPS. Mention GPS", ("GPS",))],
)  # fmt: skip
def test_add_keywords(text: str, keywords: tuple[str, ...]) -> None:
    assert edits(text).add_keywords == keywords


@pytest.mark.parametrize(
    ("text", "avoid"),
    [("avoid cheap", ("cheap",)), ("don't say free", ("free",)), ("dont use 'deal'", ("deal",)),
     ("no 'deal'", ("deal",)), ("never mention Price", ("price",)), ("avoid cheap, free and deal", ("cheap", "free", "deal")),
     ("avoid cheap or free", ("cheap", "free")), ("remove 'limited time'", ("limited time",)),
     ("don\u2019t say \u201ccheap\u201d", ("cheap",)), ("no more exclamation marks", ("exclamation marks",)),
     ("avoid cheap, thanks!", ("cheap",))],
)  # fmt: skip
def test_avoid(text: str, avoid: tuple[str, ...]) -> None:
    assert edits(text).avoid == avoid


@pytest.mark.parametrize(
    ("text", "cta"),
    [("cta: Shop now", "Shop now"), ('button "Try it free"', "Try it free"), ("CTA = Get yours", "Get yours"),
     ("change the button to 'Buy today'", "Buy today"), ("call to action: Join us", "Join us"),
     ("cta Start now", "Start now"), ("button text should say Learn more", "Learn more")],
)  # fmt: skip
def test_cta(text: str, cta: str) -> None:
    assert edits(text).cta == cta


def test_cta_then_more_edits() -> None:
    e = edits("cta: Shop now and make it bluer, 6 variants")
    assert (e.cta, e.colour, e.variants) == ("Shop now", "blue", 6)
    assert edits("cta: Shop and save").cta == "Shop and save"


@pytest.mark.parametrize(
    ("text", "n"),
    [("6 variants", 6), ("give me 2", 2), ("three versions", 3), ("only 2", 2), ("variants: 5", 5),
     ("8 options please", 8), ("more variants", 6), ("fewer options", 2)],
)  # fmt: skip
def test_variants(text: str, n: int) -> None:
    assert edits(text).variants == n


@pytest.mark.parametrize(
    ("text", "size"),
    [("landscape", "landscape"), ("make it a story", "story"), ("vertical please", "story"), ("square", "square"),
     ("wide banner", "landscape"), ("9:16", "story")],
)  # fmt: skip
def test_size(text: str, size: str) -> None:
    assert edits(text).size == size


@pytest.mark.parametrize(
    ("text", "strength"),
    [("different", "strong"), ("wilder", "strong"), ("surprise me", "strong"), ("something new", "strong"),
     ("subtle", "subtle"), ("just small changes", "subtle")],
)  # fmt: skip
def test_strength(text: str, strength: str) -> None:
    assert edits(text).strength == strength


@pytest.mark.parametrize(
    ("text", "like"),
    [("more like 2", 2), ("like 3", 3), ("#2", 2), ("2", 2), ("more like #4", 4), ("go with 1", 1),
     ("more like the second one", 2), ("use variant 3", 3), ("i like 4", 4), ("more like the last one", 4),
     ("option 2", 2), ("more like two", 2)],
)  # fmt: skip
def test_like(text: str, like: int) -> None:
    assert edits(text).like == like


def test_back_to_round() -> None:
    assert parse_reply("back to round 1", current=CUR) == BackTo(1)
    assert parse_reply("go back to round 2", current=CUR) == BackTo(2)
    assert parse_reply("Back to the first round", current=CUR) == BackTo(1)
    assert parse_reply("back to the start", current=CUR) == BackTo(1)
    assert parse_reply("undo", current=CUR) == BackTo(2)
    assert parse_reply("round 2 again", current=CUR) == BackTo(2)


def test_back_to_round_with_edits_is_a_refine() -> None:
    intent = parse_reply("back to round 1, more like 3, shorter", current=CUR)
    assert isinstance(intent, Refine)
    assert (intent.edits.back_to_round, intent.like, intent.edits.length) == (1, 3, "short")


def test_card_id_in_reply() -> None:
    e = edits("more like C12-R1-V3")
    assert (e.back_to_round, e.like) == (1, 3)
    e = edits("more like C12-R3-V2")  # the current round: no round change
    assert (e.back_to_round, e.like) == (None, 2)


def test_fresh_round_words() -> None:
    for text in ["again", "another one please", "more", "regenerate", "try again", "next round please"]:
        assert edits(text).is_empty(), text


# --- several at once --------------------------------------------------------------------------------


def test_many_edits_in_one_reply() -> None:
    e = edits("shorter and bolder, bluer, 6 variants")
    assert (e.length, e.tone, e.colour, e.variants) == ("short", "bold", "blue", 6)


def test_mixed_reply() -> None:
    e = edits('More like 2 but landscape; mention "GPS" & avoid cheap. Wilder!')
    assert (e.like, e.size, e.add_keywords, e.avoid, e.strength) == (
        2,
        "landscape",
        ("GPS",),
        ("cheap",),
        "strong",
    )


def test_ignored_clauses_are_reported() -> None:
    intent = parse_reply("shorter, and the dog should wave", current=CUR)
    assert isinstance(intent, Refine) and intent.ignored == ("the dog should wave",)


# --- other intents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["help", "?", "Help!", "what can I say?", "how does this work", "help me please"]
)
def test_help(text: str) -> None:
    assert isinstance(parse_reply(text, current=CUR), HelpIntent)


@pytest.mark.parametrize(
    ("text", "variant"),
    [("export", None), ("Export!", None), ("download the images please", None), ("export 2", 2),
     ("can you export #3", 3), ("zip", None)],
)  # fmt: skip
def test_export(text: str, variant: int | None) -> None:
    assert parse_reply(text, current=CUR) == ExportIntent(variant)


@pytest.mark.parametrize(
    "text",
    [
        "lol nice",
        "what do you think?",
        "cool",
        "go team",
        "",
        "   ",
        "👍",
        "make the button bigger",
        "thanks!",
    ],
)
def test_not_understood(text: str) -> None:
    intent = parse_reply(text, current=CUR)
    assert isinstance(intent, NotUnderstood)
    assert "shorter" in intent.message and "more like 2" in intent.message


def test_too_long_reply() -> None:
    assert isinstance(parse_reply("shorter " * 200, current=CUR), NotUnderstood)


# --- bounds and safety ------------------------------------------------------------------------------


def test_out_of_range_numbers_are_user_errors() -> None:
    assert error("more like 12") == 'Pick a card from 1 to 4, e.g. "more like 2".'
    assert error("more like 0").startswith("Pick a card from 1 to 4")
    assert error("20 variants") == 'You can ask for 1-8 variants, e.g. "6 variants".'
    assert "pick round 1-3" in error("back to round 9")
    assert "round 1" in error("undo", Current(round=1))
    assert "export" in error("export 9")


def test_like_in_an_earlier_round_allows_up_to_eight() -> None:
    e = edits("back to round 1, more like 7")
    assert (e.back_to_round, e.like) == (1, 7)


def test_text_values_are_capped() -> None:
    assert "keep it to 24" in error("cta: " + "x" * (CTA_MAX + 1))
    assert "keep it to 10" in error("cta: 立即购买立即购买立即购买", Current(language="zh"))
    assert "under 40" in error("mention " + "word " * 12)


def test_text_values_are_neutralised() -> None:
    e = edits("mention <!channel> and @everyone, cta: <@U123> now, avoid '@here'")
    for value in (*e.add_keywords, *e.avoid, e.cta or ""):
        assert "<" not in value and "@" not in value


# --- echo, serialisation, brief merge ---------------------------------------------------------------


def test_describe_only_changes() -> None:
    e = edits("shorter and bolder")
    assert e.describe("playful", "medium", "square", 4) == "tone playful -> bold, shorter"
    assert e.echo("playful", "medium", "square", 4) == "Got it: tone playful -> bold, shorter"
    unchanged = Edits(tone="bold", variants=4, size="square")
    assert unchanged.describe("bold", "medium", "square", 4) == ""
    assert unchanged.echo("bold", "medium", "square", 4) == "Got it: same brief, fresh wording"
    e = edits('bluer, mention "GPS", avoid cheap, cta: Go, landscape, 6 variants, wilder, more like 2')
    assert e.describe("playful", "medium", "square", 4) == (
        'based on #2, colour blue, mention "GPS", avoid "cheap", button "Go", '
        "size square -> landscape, 6 variants, bigger changes"
    )
    assert Edits(length="short").describe("friendly", "short") == "length stays short"
    assert Edits(length="short").describe("friendly", "long") == "shorter (short)"


def test_flat_keyword_state() -> None:
    """The engine may pass the campaign state as keywords instead of a Current."""
    intent = parse_reply(
        "more like 6, shorter", tone="bold", length="long", size="story", variants=6, max_round=2
    )
    assert isinstance(intent, Refine) and (intent.like, intent.edits.length) == (6, "medium")
    assert parse_reply("back to round 2", variants=4, max_round=2) == BackTo(2)
    with pytest.raises(UserError):
        parse_reply("back to round 3", max_round=2)
    with pytest.raises(UserError):
        parse_reply("more like 5", current=CUR, variants=4)


def test_edits_round_trip() -> None:
    e = edits("shorter, mention GPS, avoid cheap, more like 2")
    assert Edits.from_dict(e.to_dict()) == e


def test_apply_to_brief() -> None:
    brief = Brief.create("smart watch", tone="playful", keywords="GPS, cheap fun", avoid="free")
    e = Edits(tone="bold", length="short", add_keywords=("free",), avoid=("cheap fun",))
    out = e.apply_to_brief(brief)
    assert (out.tone, out.length, out.product) == ("bold", "short", "smart watch")
    assert out.keywords == ("GPS", "free") and out.avoid == ("cheap fun",)


# --- properties -------------------------------------------------------------------------------------

_WORDS = st.sampled_from(
    ["shorter", "longer", "bolder", "bluer", "warmer", "less", "too", "more", "like", "more like", "back to round",
     "round", "variants", "give me", "mention", "use", "avoid", "don't say", "no", "cta:", "button", "export",
     "help", "?", "#", "C1-R2-V3", "C12-R9-V9", "undo", "landscape", "story", "wilder", "and", ",", ";", ".", "\n",
     '"', "'", "\u201c", "\u2019", "0", "2", "8", "9", "12", "999999", "9" * 40, "two", "second", "last", "<!here>",
     "@everyone", "\x00", "\x01", "\x011\x01", "\u200b", "立即购买", "black and white", "too long"]
)  # fmt: skip
_CURRENT = st.builds(
    Current,
    tone=st.sampled_from(["playful", "bold", "friendly"]),
    length=st.sampled_from(["short", "medium", "long", "weird"]),
    variants=st.integers(1, 8),
    round=st.integers(1, 5),
    language=st.sampled_from(["en", "zh"]),
)


def _check(text: str, current: Current) -> None:
    try:
        intent = parse_reply(text, current=current)
    except UserError as err:
        assert str(err)
        return
    assert isinstance(intent, Refine | BackTo | ExportIntent | HelpIntent | NotUnderstood)
    if isinstance(intent, Refine):
        e = intent.edits
        assert e.like is None or 1 <= e.like <= 8
        assert e.variants is None or 1 <= e.variants <= 8
        assert e.back_to_round is None or 1 <= e.back_to_round <= current.round
        for value in (*e.add_keywords, *e.avoid, e.cta or ""):
            assert "\x01" not in value and "<" not in value and len(value) <= 40
        assert e.echo(current.tone, current.length, current.size, current.variants).startswith("Got it: ")


@given(st.text(max_size=200), _CURRENT)
@pytest.mark.property
def test_arbitrary_text_never_crashes(text: str, current: Current) -> None:
    _check(text, current)


@given(st.lists(st.one_of(_WORDS, st.text(max_size=6)), max_size=14).map(" ".join), _CURRENT)
@pytest.mark.property
def test_instruction_soup_never_crashes(text: str, current: Current) -> None:
    _check(text, current)
