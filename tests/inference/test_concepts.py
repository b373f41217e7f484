"""Concept table and brief -> concept matching (pure Python, no torch)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.inference.creative.concepts import (
    CONCEPT_NAMES,
    CONCEPTS,
    DEFAULT_CONCEPT,
    match_concept,
    score_concepts,
    stem,
    top_concepts,
)


@pytest.mark.parametrize(
    ("brief", "expected"),
    [
        ("smart watch for runners", {"time_watch"}),
        ("organic coffee subscription", {"drinks"}),
        ("running shoes", {"shoes"}),
        ("yoga studio membership", {"fitness", "health"}),
        ("fresh flowers delivered weekly", {"flowers"}),
        ("accounting software for small business", {"computer", "money", "office"}),
        ("premium dog food for senior dogs", {"pets"}),
        ("luxury hotel in Bali", {"travel", "real_estate"}),
        ("electric car leasing", {"vehicles"}),
        ("noise-cancelling headphones", {"music"}),
        ("vintage leather handbags", {"bags_shopping"}),
        ("bespoke wedding cakes", {"sweets"}),
        ("cheap flights to Lisbon", {"air_travel"}),
        ("mortgage advice for first-time buyers", {"money"}),
        ("Sushi restaurant downtown", {"asian_food", "meals"}),
        ("online Spanish classes for kids", {"books_education"}),
        ("vitamin D supplements", {"health"}),
        ("Lipstick, long lasting", {"beauty"}),
        ("iPhone cases", {"phone"}),
        ("project management tool for agencies", {"office", "computer", "tools"}),
    ],
)
def test_match_concept_examples(brief: str, expected: set[str]) -> None:
    assert match_concept(brief) in expected


def test_table_is_big_enough_and_well_formed() -> None:
    assert len(CONCEPTS) >= 30
    assert DEFAULT_CONCEPT in CONCEPTS
    for name, c in CONCEPTS.items():
        assert c.name == name
        assert len(c.emoji) >= 10, name
        assert len(c.keywords) >= 8, name
        assert len(set(c.emoji)) == len(c.emoji), name


def test_product_phrase_outweighs_qualifiers() -> None:
    # "runners" (fitness) is a qualifier; the product is the watch.
    assert match_concept("smart watch for runners") == "time_watch"
    # and the other way round
    assert match_concept("running club for watch collectors") in {"fitness", "sport"}


def test_fallbacks_by_category_words_and_default() -> None:
    assert match_concept("xyzzy plugh") == DEFAULT_CONCEPT
    assert match_concept("") == DEFAULT_CONCEPT
    assert match_concept("the best app") == "phone"  # 'app' is a phone keyword
    assert match_concept("a digital platform") in {"computer"}
    assert match_concept("professional services company") == "office"


def test_restricted_to_known_concepts() -> None:
    assert match_concept("organic coffee subscription", ["fruit", "drinks"]) == "drinks"
    # nothing matches: the first known concept, never one the model does not know
    assert match_concept("xyzzy", ["fruit", "drinks"]) == "fruit"
    assert match_concept("xyzzy", []) == DEFAULT_CONCEPT


def test_top_concepts_ranked_and_padded() -> None:
    top = top_concepts("smart watch for runners", 3)
    assert top[0] == "time_watch"
    assert "fitness" in top
    assert len(top) == 3 and len(set(top)) == 3
    assert len(top_concepts("xyzzy", 5)) == 5
    assert top_concepts("watch", 0) == []


def test_matching_is_deterministic() -> None:
    briefs = ["smart watch for runners", "pizza", "a thing", "cloud hosting for startups"]
    assert [match_concept(b) for b in briefs] == [match_concept(b) for b in briefs]


def test_stem() -> None:
    assert stem("watches") == "watch"
    assert stem("berries") == "berry"
    assert stem("shoes") == "shoe"
    assert stem("glass") == "glass"
    assert stem("runner's") == "runner"


def test_no_torch_import() -> None:
    import engine.inference.creative.concepts  # noqa: F401

    assert "engine.inference.creative.concepts" in sys.modules
    source = Path(engine.inference.creative.concepts.__file__).read_text()
    assert "import torch" not in source


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    assert match_concept(text) in CONCEPT_NAMES
    assert all(c in CONCEPT_NAMES for c in top_concepts(text, 3))


def test_audience_and_keywords_do_not_become_the_product() -> None:
    from engine.brief import Brief
    from engine.inference.studio import concept_text

    headphones = Brief.create("noise-cancelling headphones", audience="commuters")
    assert concept_text(headphones) == "noise-cancelling headphones; commuters"
    assert match_concept(concept_text(headphones)) == "music"  # not trains, for the commuters
    bike = Brief.create("electric bike", audience="city commuters", keywords="long range, fast charging")
    assert match_concept(concept_text(bike)) == "vehicles"  # not phones, for the charging
    assert match_concept(concept_text(Brief.create("ride sharing app", audience="night owls"))) != "birds"


# --- Chinese briefs ---------------------------------------------------------------------------------

_ZH_EXAMPLES = [
    ("智能手表", "time_watch"),
    ("适合跑步爱好者的智能手表", "time_watch"),
    ("智能手表，适合跑步者", "time_watch"),
    ("无线蓝牙耳机", "music"),
    ("有机咖啡订阅", "drinks"),
    ("拿铁，买一送一", "drinks"),
    ("跑步鞋", "shoes"),  # head noun last: shoes, not running
    ("户外登山跑步鞋", "shoes"),
    ("瑜伽鞋", "shoes"),  # no compound keyword: the head rule alone beats 瑜伽 (fitness)
    ("高跟鞋，适合职场女性", "shoes"),
    ("咖啡杯", "drinks"),
    ("手机壳", "phone"),
    ("西兰花", "vegetables"),  # not 兰花 (orchid)
    ("电动车", "vehicles"),  # not 动车 (train)
    ("高铁票", "rail_transit"),
    ("便宜机票", "air_travel"),
    ("海边度假酒店", "travel"),
    ("宠物狗粮", "pets"),
    ("月饼礼盒", "asian_food"),  # 礼盒 (gift box) is a generic tail, the product is mooncakes
    ("婚礼蛋糕定制", "sweets"),
    ("房产中介", "real_estate"),
    ("鲜花配送", "flowers"),
    ("大闸蟹礼盒", "sea_life"),
    ("太阳镜", "fashion"),
    ("音乐节门票", "music"),
    ("财务软件", "computer"),
    ("家庭理财规划", "money"),
    ("新年活动", "celebration"),
    ("儿童编程课程", "books_education"),
    ("健身房会员卡", "fitness"),
    ("咖啡、茶和甜点", "drinks"),  # 、 ends the product phrase
]

_ZH_TRADITIONAL = [
    ("手錶專賣店", "time_watch"),
    ("無線藍牙耳機", "music"),
    ("寵物貓糧", "pets"),
    ("醫院預約", "health"),
    ("運動鞋", "shoes"),
]

_ZH_MIXED = [
    ("iPhone 15 手机壳", "phone"),
    ("GPS运动手表", "time_watch"),
    ("5G手机套餐", "phone"),
    ("健身App", "fitness"),  # 'App' is a tail here: the app is about fitness
    ("有機咖啡 organic coffee beans", "drinks"),
]


@pytest.mark.parametrize(("brief", "expected"), _ZH_EXAMPLES + _ZH_TRADITIONAL + _ZH_MIXED)
def test_match_concept_chinese(brief: str, expected: str) -> None:
    assert match_concept(brief) == expected


def test_chinese_examples_cover_many_concepts() -> None:
    assert len({c for _, c in _ZH_EXAMPLES + _ZH_TRADITIONAL + _ZH_MIXED}) >= 15


def test_chinese_head_noun_and_longest_keyword_win() -> None:
    s = score_concepts("跑步鞋")
    assert s["shoes"] > s["fitness"]
    s = score_concepts("瑜伽鞋")
    assert s["shoes"] > s["fitness"] > 0
    s = score_concepts("适合跑步爱好者的智能手表")
    assert s["time_watch"] > s["fitness"] > 0
    # a keyword inside a longer one of another concept does not count
    assert match_concept("熊猫") == "wildlife" and score_concepts("熊猫")["pets"] == 0
    assert match_concept("鸡尾酒") == "drinks" and score_concepts("鸡尾酒")["birds"] == 0
    assert match_concept("羽毛球") == "sport"
    assert match_concept("笔记本电脑") == "computer"
    assert match_concept("笔记本") == "books_education"
    assert match_concept("宠物医院") == "pets"


def test_chinese_product_phrase_outweighs_the_rest() -> None:
    assert match_concept("智能手表；跑步爱好者；马拉松") == "time_watch"
    assert match_concept("马拉松训练营，送智能手表") == "fitness"


def test_mixed_text_adds_english_and_chinese_scores() -> None:
    mixed = score_concepts("iPhone 手机壳")
    assert mixed["phone"] > score_concepts("手机壳")["phone"] > 0
    assert mixed["phone"] > score_concepts("iPhone")["phone"] > 0
    # English words count in Chinese text, with the Chinese punctuation splitting the product phrase
    assert match_concept("headphones，适合通勤") == "music"


def test_chinese_fallbacks() -> None:
    assert match_concept("专业服务公司") == "office"
    assert match_concept("线上平台") == "computer"
    assert match_concept("一款新应用") == "phone"  # 应用 is a phone keyword, like 'app'
    assert match_concept("全新系列") == "bags_shopping"
    assert match_concept("你好") == DEFAULT_CONCEPT
    assert match_concept("你好", ["fruit", "drinks"]) == "fruit"
    assert match_concept("有机咖啡", ["fruit", "drinks"]) == "drinks"


def test_english_briefs_never_use_the_chinese_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import engine.inference.creative.concepts as concepts

    english = {
        "smart watch for runners": "time_watch",
        "organic coffee subscription": "drinks",
        "running shoes": "shoes",
        "iPhone cases": "phone",
        "the best app": "phone",
        "professional services company": "office",
        "xyzzy plugh": DEFAULT_CONCEPT,
    }
    before = {b: concepts.score_concepts(b) for b in english}

    def boom(text: str) -> dict[str, float]:
        raise AssertionError(f"Chinese scoring ran for {text!r}")

    monkeypatch.setattr(concepts, "_zh_scores", boom)
    monkeypatch.setattr(concepts, "_ZH_CATEGORY_FALLBACKS", {})
    for brief, expected in english.items():
        assert concepts.score_concepts(brief) == before[brief]
        assert concepts.match_concept(brief) == expected
    assert concepts._product_phrase("smart watch，for runners") == "smart watch，for runners"


def test_chinese_keyword_table() -> None:
    from engine.brief import is_cjk
    from engine.inference.creative.concepts import _CATEGORY_FALLBACKS, _ZH_CATEGORY_FALLBACKS, _ZH_KEYWORDS

    assert set(_ZH_KEYWORDS) == set(CONCEPT_NAMES)
    seen: dict[str, str] = {}
    for name, kws in _ZH_KEYWORDS.items():
        assert 8 <= len(kws) <= 25, name
        for kw in kws:
            assert is_cjk(kw), (name, kw)
            assert kw not in seen, f"{kw} is listed under {seen[kw]} and {name}"
            seen[kw] = name
    # the Chinese fallback cues mirror the English categories, no others
    assert set(_ZH_CATEGORY_FALLBACKS) <= {c for c, _ in _CATEGORY_FALLBACKS}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["手表", "鞋", "咖啡", "，", "、", "店", "App", " for ", "的", "服务", "。", "x"])
        | st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=5),
        max_size=30,
    )
)
def test_never_raises_on_chinese(parts: list[str]) -> None:
    text = "".join(parts)
    assert match_concept(text) in CONCEPT_NAMES
    assert all(c in CONCEPT_NAMES for c in top_concepts(text, 3))
