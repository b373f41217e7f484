import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.neutralize import has_mention_or_markup, neutralize


@pytest.mark.parametrize(
    "raw",
    [
        "Hey @everyone, sale now!",
        "Ping @here and @channel",
        "<!channel> big news",
        "<!here|here> hi",
        "Talk to <@U12345> today",
        "Discord <@!1234567890> and <@&987> in <#42>",
        "<script>alert(1)</script>",
        "zero\u200bwidth\u202eevil\u2066text",
        "@ everyone spaced",
    ],
)
def test_neutralize_removes_mentions_and_markup(raw: str) -> None:
    out = neutralize(raw)
    assert not has_mention_or_markup(out), out
    assert "@everyone" not in out and "@here" not in out
    assert "<" not in out and ">" not in out


def test_neutralize_keeps_plain_text() -> None:
    assert neutralize("Run further. Track every mile!") == "Run further. Track every mile!"
    assert neutralize("智能手表，为跑者而生") == "智能手表，为跑者而生"


def test_detector_can_fail() -> None:
    assert has_mention_or_markup("hi @everyone")
    assert has_mention_or_markup("<!channel>")
    assert has_mention_or_markup("a\u200bb")


@pytest.mark.property
@given(st.text(max_size=200))
def test_neutralize_is_total_and_idempotent(s: str) -> None:
    once = neutralize(s)
    assert not has_mention_or_markup(once)
    assert neutralize(once) == once
