"""Concept table and brief -> concept matching (pure Python, no torch)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.concepts import CONCEPT_NAMES, CONCEPTS, DEFAULT_CONCEPT, match_concept, stem, top_concepts


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
    import engine.concepts  # noqa: F401

    assert "engine.concepts" in sys.modules
    source = Path(engine.concepts.__file__).read_text()
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
