import pytest

from engine.brief import MAX_BRIEF_CHARS, Brief
from engine.errors import UserError
from engine.steering import Steering, steer_from_text, steer_length


def test_create_normalises() -> None:
    b = Brief.create(
        "  smart   watch for runners ", tone="Playful", keywords="GPS, battery life", avoid="cheap"
    )
    assert b.product == "smart watch for runners"
    assert b.tone == "playful"
    assert b.keywords == ("GPS", "battery life")
    assert b.avoid == ("cheap",)
    assert b.product_phrase == "smart watch"
    assert b.head_noun == "watch"
    assert Brief.from_dict(b.to_dict()) == b


@pytest.mark.parametrize(
    ("text", "head"),
    [
        ("organic coffee subscription", "subscription"),
        ("running shoes that last", "shoes"),
        ("CRM software for small teams", "software"),
        ("spring music festival in Austin", "festival"),
        ("noise-cancelling headphones", "headphones"),
        ("organic cotton t-shirts", "t-shirts"),
        ("green tea - organic", "tea"),
    ],
)
def test_head_noun(text: str, head: str) -> None:
    assert Brief.create(text).head_noun == head


def test_language_detected() -> None:
    assert Brief.create("智能手表").language == "zh"
    assert Brief.create("smart watch").language == "en"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"product": ""}, "empty"),
        ({"product": "   "}, "empty"),
        ({"product": "x" * 10_000}, str(MAX_BRIEF_CHARS)),
        ({"product": "watch", "tone": "playfull"}, "Did you mean 'playful'"),
        ({"product": "watch", "length": "tiny"}, "Lengths"),
        ({"product": "watch", "language": "fr"}, "Unsupported language"),
    ],
)
def test_bad_input_is_a_friendly_user_error(kwargs: dict, needle: str) -> None:
    product = kwargs.pop("product")
    with pytest.raises(UserError) as err:
        Brief.create(product, **kwargs)
    assert needle in str(err.value)


def test_mentions_in_brief_are_neutralised() -> None:
    b = Brief.create("<!channel> watch for @everyone")
    assert "<" not in b.product and "@everyone" not in b.product


def _steer(text: str | None, length: str = "medium") -> tuple[Brief, Steering]:
    return steer_from_text(text, Brief.create("smart watch", length=length))


def test_steering() -> None:
    b, s = _steer("shorter and more playful, bluer please", "medium")
    assert (b.length, b.tone, s.colour, s.length_step) == ("short", "playful", "blue", -1)
    assert _steer("longer", "long")[0].length == "long"
    assert _steer("totally different", "medium")[1].strength == "strong"
    plain = Brief.create("smart watch")
    assert _steer(None) == _steer("   ") == _steer("export") == (plain, Steering())
    # the same vocabulary as chat replies: colour words, tone comparatives, "much shorter"
    b, s = _steer("much shorter, warmer colours, more premium", "long")
    assert (b.length, s.colour, b.tone, s.length_step) == ("short", "warm", "premium", -2)
    assert _steer("subtle tweak", "medium")[1].strength == "subtle"
    # an absolute length is not a step
    assert _steer("make it medium", "long")[1].length_step == 0


def test_steer_length_is_relative_to_the_chosen_body() -> None:
    # "shorter" on a medium body of a long brief: short (shorter than what the person saw)
    assert steer_length(-1, "medium", "medium") == "short"
    # already at the end of the scale: the brief's own length
    assert steer_length(-1, "short", "short") == "short"
    assert steer_length(+1, "medium", "long") == "long"
    assert steer_length(0, "short", "long") == "long"
    # never past what the brief already asks for
    assert steer_length(-1, "long", "short") == "short"


def test_refine_seed_is_one_rule() -> None:
    from engine.brief import REFINE_SEED_STEP, refine_seed

    assert refine_seed(1000, 2) == 1000 + 2 * REFINE_SEED_STEP
    assert len({refine_seed(1000, n) for n in range(2, 12)}) == 10
