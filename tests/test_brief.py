import pytest

from engine.brief import MAX_BRIEF_CHARS, Brief
from engine.errors import UserError
from engine.steering import Steering, parse_steering


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


def test_steering() -> None:
    s = parse_steering("shorter and more playful, bluer please", "medium")
    assert (s.length, s.tone, s.colour) == ("short", "playful", "blue")
    assert parse_steering("longer", "long").length == "long"
    assert parse_steering("totally different", "medium").strength == "strong"
    assert parse_steering(None) == parse_steering("   ") == parse_steering("export") == Steering()
    # the same vocabulary as chat replies: colour words, tone comparatives, "much shorter"
    s = parse_steering("much shorter, warmer colours, more premium", "long")
    assert (s.length, s.colour, s.tone) == ("short", "warm", "premium")
    assert parse_steering("subtle tweak", "medium").strength == "subtle"


def test_refine_seed_is_one_rule() -> None:
    from engine.brief import REFINE_SEED_STEP, refine_seed

    assert refine_seed(1000, 2) == 1000 + 2 * REFINE_SEED_STEP
    assert len({refine_seed(1000, n) for n in range(2, 12)}) == 10
