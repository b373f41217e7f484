"""The /campaign grammar: every flag, subcommand, error and suggestion, plus property tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.brief import MAX_BRIEF_CHARS, SIZES, TONES, Brief
from engine.commands import (
    Cancel,
    Export,
    Help,
    History,
    NewCampaign,
    Resume,
    Status,
    parse_command,
    parse_duration,
)
from engine.emoji import NUMBER_EMOJI, emoji_choice, is_cancel_emoji, is_choose_emoji
from engine.errors import UserError
from engine.help import FLAGS, HELP_TEXT, HELP_TOPICS, help_text
from engine.ids import card_id, parse_card_id


def new(text: str) -> NewCampaign:
    cmd = parse_command(text)
    assert isinstance(cmd, NewCampaign)
    return cmd


def error(text: str) -> str:
    with pytest.raises(UserError) as exc:
        parse_command(text)
    return str(exc.value)


# --- new campaigns ----------------------------------------------------------------------------------


def test_brief_only_defaults() -> None:
    cmd = new("smart watch for runners")
    assert cmd == NewCampaign(brief=Brief.create("smart watch for runners"), variants=4, size="square")
    assert cmd.seed is None and cmd.vote_seconds is None


def test_every_flag() -> None:
    cmd = new(
        'smart watch --variants 6 --tone playful --size story --seed 42 --lang en --avoid "cheap, free" '
        '--audience "marathon beginners" --keywords "GPS, battery life" --length short --vote 1h30m for runners'
    )
    assert cmd.variants == 6 and cmd.size == "story" and cmd.seed == 42 and cmd.vote_seconds == 5400
    b = cmd.brief
    assert b.product == "smart watch for runners"  # brief words around flags are joined
    assert (b.tone, b.language, b.length, b.audience) == ("playful", "en", "short", "marathon beginners")
    assert b.keywords == ("GPS", "battery life") and b.avoid == ("cheap", "free")


def test_equals_form_and_case() -> None:
    cmd = new("coffee --TONE=Bold --variants=2 --size=Landscape --avoid='cheap'")
    assert cmd.brief.tone == "bold" and cmd.variants == 2 and cmd.size == "landscape"
    assert cmd.brief.avoid == ("cheap",)


@pytest.mark.parametrize("tone", TONES)
def test_all_tones(tone: str) -> None:
    assert new(f"tea --tone {tone}").brief.tone == tone


@pytest.mark.parametrize("size", list(SIZES))
def test_all_sizes(size: str) -> None:
    assert new(f"tea --size {size}").size == size


@pytest.mark.parametrize(("n", "ok"), [("1", True), ("8", True), ("0", False), ("9", False), ("-3", False)])
def test_variants_range(n: str, ok: bool) -> None:
    if ok:
        assert new(f"tea --variants {n}").variants == int(n)
    else:
        assert error(f"tea --variants {n}") == "--variants must be 1-8; try --variants 4."


@pytest.mark.parametrize("bad", ["four", "2.5", "1e3", "9" * 5000])
def test_variants_not_a_number(bad: str) -> None:
    assert "--variants" in error(f"tea --variants {bad}")


def test_seed_bounds() -> None:
    assert new("tea --seed 0").seed == 0
    assert new(f"tea --seed {2**31 - 1}").seed == 2**31 - 1
    assert "--seed must be 0-2147483647" in error(f"tea --seed {2**31}")
    assert "--seed needs a whole number" in error("tea --seed abc")


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("30s", None), ("1m", 60), ("10m", 600), ("2h", 7200), ("1h30m", 5400), ("90 minutes", 5400), ("24h", 86400),
     ("1d", 86400), ("25h", None), ("30", None), ("soon", None), ("1h 30m", 5400), ("", None)],
)  # fmt: skip
def test_vote_durations(raw: str, seconds: int | None) -> None:
    if seconds is None:
        with pytest.raises(UserError):
            parse_duration(raw)
    else:
        assert parse_duration(raw) == seconds
        assert new(f'tea --vote "{raw}"').vote_seconds == seconds


def test_vote_messages() -> None:
    assert "between 1 minute and 24 hours" in error("tea --vote 30s")
    assert "try --vote 30m" in error("tea --vote 30")


def test_language_and_aliases() -> None:
    assert new("智能手表").brief.language == "zh"
    assert new("smart watch --lang zh").brief.language == "zh"
    assert new("smart watch --lang Chinese").brief.language == "zh"
    assert new("smart watch --lang en-US").brief.language == "en"
    assert "Supported: en, zh" in error("tea --lang fr")


def test_length_values() -> None:
    assert new("tea --length long").brief.length == "long"
    assert "Did you mean 'short'?" in error("tea --length shrt")


def test_bad_tone_and_size_suggest() -> None:
    msg = error("tea --tone playfull")
    assert "Did you mean 'playful'?" in msg and "--tone playful" in msg
    assert "Did you mean 'landscape'?" in error("tea --size landscap")


def test_apostrophes_and_smart_quotes() -> None:
    assert new("men's running shoes").brief.product == "men's running shoes"
    assert new("runners' club membership").brief.product == "runners' club membership"
    assert new("men's shoes --avoid 'cheap'").brief.avoid == ("cheap",)
    assert new("shoes --audience \u201cnew runners\u201d").brief.audience == "new runners"
    assert new("shoes --audience \u201cmen\u2019s club\u201d").brief.audience == "men's club"


def test_phone_dashes_become_options() -> None:
    assert new("watch \u2014tone bold").brief.tone == "bold"
    assert new("watch \u2014great").brief.product == "watch \u2014great"  # not an option: kept as words


def test_double_dash_ends_options() -> None:
    assert new("-- resume builder --tone bold").brief.product == "resume builder --tone bold"


def test_quoted_brief_may_start_with_a_command_word() -> None:
    assert new('"resume builder app" --tone bold').brief.product == "resume builder app"


def test_brief_is_neutralised() -> None:
    b = new("watch for <!channel> @everyone --audience '<@U123> fans'").brief
    assert "<" not in b.product and "@everyone" not in b.product and "<" not in b.audience


def test_help_flag_anywhere() -> None:
    assert parse_command("watch --help") == Help(None)


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_points_to_help(text: str) -> None:
    assert "/campaign help" in error(text)


def test_only_flags_needs_a_brief() -> None:
    msg = error("--tone bold --variants 2")
    assert "brief" in msg and "/campaign smart watch" in msg


def test_unknown_flag_suggests() -> None:
    assert (
        error("tea --tones bold") == "Unknown option --tones. Did you mean --tone? See /campaign help flags."
    )
    assert "Did you mean --variants?" in error("tea --variant 3")
    assert "Did you mean --keywords?" in error("tea --keyword GPS")
    assert "Options: --variants" in error("tea --zzzzzz 1")


def test_single_dash_flag() -> None:
    assert error("tea -tone bold") == "Options start with two dashes: try --tone playful."


@pytest.mark.parametrize("text", ["tea --tone", "tea --tone --size square", "tea --tone=", "tea --avoid ''"])
def test_missing_value(text: str) -> None:
    assert "needs a value" in error(text)


def test_repeated_flag() -> None:
    assert error("tea --tone bold --tone=calm") == "--tone is given twice; keep one, e.g. --tone playful."


@pytest.mark.parametrize("text", ['tea --avoid "cheap', "tea --audience 'runners", 'tea "'])
def test_unbalanced_quotes(text: str) -> None:
    assert "quote" in error(text).lower()


def test_trailing_backslash_is_a_word() -> None:
    assert new("tea \\").brief.product == "tea \\"


def test_brief_too_long() -> None:
    assert f"under {MAX_BRIEF_CHARS}" in error("word " * 100)


# --- subcommands ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ref", ["12", "C12", "c12", "#12", "C12-R2-V3", "c12-r2", "#C12"])
def test_campaign_refs(ref: str) -> None:
    assert parse_command(f"history {ref}") == History(12)
    assert parse_command(f"export {ref}") == Export(12)
    assert parse_command(f"resume {ref}") == Resume(12)
    assert parse_command(f"CANCEL {ref}") == Cancel(12)


@pytest.mark.parametrize("word", ["history", "export", "resume", "cancel"])
def test_missing_campaign(word: str) -> None:
    assert error(word) == f"Which campaign? Add its number, e.g. /campaign {word} C12."


@pytest.mark.parametrize("ref", ["C0", "0", "12abc", "C-1", "C12-X"])
def test_bad_campaign(ref: str) -> None:
    assert "/campaign history C12" in error(f"history {ref}")


def test_command_word_brief_hint() -> None:
    assert '/campaign "resume builder app"' in error("resume builder app")
    assert '/campaign "resume builder"' in error("resume builder")


def test_status_and_help() -> None:
    assert parse_command("status") == Status()
    assert "status takes nothing" in error("status now")
    assert parse_command("help") == Help(None)
    assert parse_command("Help flags") == Help("flags")
    assert parse_command("help emoji") == Help("reactions")
    assert parse_command("help steering") == Help("replies")
    assert "Did you mean 'flags'?" in error("help flagz")
    assert "one topic" in error("help flags tones")


# --- help text --------------------------------------------------------------------------------------


def test_help_text_lists_everything() -> None:
    for needle in [*FLAGS, *TONES, *SIZES, "status", "history", "export", "resume", "cancel", "1️⃣", "8️⃣",
                   "⭐", "🔁", "❌", "shorter", "more like 2", "back to round 1"]:  # fmt: skip
        assert needle in HELP_TEXT, needle
    assert len(HELP_TEXT) < 3000  # one Slack section


def test_help_topics() -> None:
    for topic, text in HELP_TOPICS.items():
        assert help_text(topic) == text and len(text) < 3000
    assert help_text(None) == HELP_TEXT
    with pytest.raises(UserError):
        help_text("nope")


# --- card ids and emoji -----------------------------------------------------------------------------


def test_card_ids() -> None:
    assert card_id(12, 2, 3) == "C12-R2-V3"
    assert parse_card_id("C12-R2-V3") == (12, 2, 3)
    assert parse_card_id(" c7-r1-v8 ") == (7, 1, 8)
    for bad in ["C12-R2", "12-2-3", "C0-R1-V1", "C1-R0-V1", "", "C1-R1-V1x"]:
        with pytest.raises(UserError):
            parse_card_id(bad)


@given(st.integers(1, 10**9), st.integers(1, 10**6), st.integers(1, 8))
@pytest.mark.property
def test_card_id_round_trip(c: int, r: int, v: int) -> None:
    assert parse_card_id(card_id(c, r, v)) == (c, r, v)


def test_number_emoji() -> None:
    assert len(NUMBER_EMOJI) == 8
    for i, e in enumerate(NUMBER_EMOJI, start=1):
        assert emoji_choice(e) == i
        assert emoji_choice(e.replace("\ufe0f", "")) == i
    names = ["one", "two", "three", "four", "five", "six", "seven", "eight"]
    for i, name in enumerate(names, start=1):
        assert emoji_choice(name) == i
        assert emoji_choice(f":{name}:") == i
        assert emoji_choice(f"keycap_{i}") == i
    for other in ["nine", "9️⃣", "0️⃣", "star", "x", "", "🔟", "thumbsup"]:
        assert emoji_choice(other) is None


def test_choose_and_cancel_emoji() -> None:
    for e in ["⭐", "star", ":star:", "🔁", "repeat", "arrows_clockwise", "🌟", "star2"]:
        assert is_choose_emoji(e), e
    for e in ["❌", "x", ":x:", "cross_mark", "❎"]:
        assert is_cancel_emoji(e), e
    for e in ["one", "thumbsup", "heart", ""]:
        assert not is_choose_emoji(e) and not is_cancel_emoji(e)
    assert not is_choose_emoji("x") and not is_cancel_emoji("star")


# --- properties -------------------------------------------------------------------------------------

_TOKENS = st.sampled_from(
    [*FLAGS, "--", "-", "—tone", "--tones", "--tone=", "--vote=1h", "=", '"', "'", "“", "”", "’", "\\",
     "help", "status", "history", "export", "resume", "cancel", "C12", "#3", "C1-R2-V3", "0", "8", "9",
     "-1", "2147483648", "30m", "1h30m", "playful", "story", "zh", "short", "smart", "watch", "men's",
     "<!channel>", "@everyone", "智能手表", "\x00", "\u200b", " ", "\n", "9" * 50]
)  # fmt: skip


@given(st.text(max_size=200))
@pytest.mark.property
def test_arbitrary_text_never_crashes(text: str) -> None:
    try:
        assert isinstance(
            parse_command(text), NewCampaign | Help | Status | History | Export | Resume | Cancel
        )
    except UserError as err:
        assert str(err)


@given(st.lists(st.one_of(_TOKENS, st.text(max_size=8)), max_size=14).map(" ".join))
@pytest.mark.property
def test_flag_soup_never_crashes(text: str) -> None:
    try:
        cmd = parse_command(text)
    except UserError as err:
        assert str(err)
        return
    if isinstance(cmd, NewCampaign):
        assert 1 <= cmd.variants <= 8 and cmd.size in SIZES
        assert cmd.brief.product and len(cmd.brief.product) <= MAX_BRIEF_CHARS
        assert "<" not in cmd.brief.product
