"""Unit tests of the pure-Python copy rules (filters and ranking metrics)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.brief import Brief
from engine.inference.creative import copy_rules as rules
from engine.inference.creative.types import CopyVariant

WATCH = Brief.create(
    "smart watch for runners", tone="playful", length="short", keywords="GPS, battery", avoid="cheap"
)


def cv(headline: str, body: str, cta: str = "Shop Now") -> CopyVariant:
    return CopyVariant(headline=headline, body=body, cta=cta)


GOOD = cv("Run Further With Your Watch", "Built-in GPS and a week of battery for every run.", "Start Running")


def test_repeated_ngram() -> None:
    assert rules.repeated_ngram("run fast run fast run fast")
    assert rules.repeated_ngram("The best watch, the best watch ever", 3)
    assert not rules.repeated_ngram("The best watch for the best runners", 3)
    assert rules.repeated_ngram("the best watch for the best runners", 2)
    assert not rules.repeated_ngram("")


def test_distinct_n() -> None:
    assert rules.distinct_n(["a b c", "a b c"], 2) == pytest.approx(0.5)
    assert rules.distinct_n(["a b c", "d e f"], 2) == 1.0
    assert rules.distinct_n(["one"], 2) == 0.0
    assert rules.distinct_n(["a b a b"], 1) == pytest.approx(0.5)


def test_edit_similarity() -> None:
    assert rules.edit_similarity("Run Further", "run   further") == 1.0
    assert rules.edit_similarity("abc", "xyz") == 0.0
    mid = rules.edit_similarity("Run further today", "Run faster today")
    assert 0.5 < mid < 1.0
    assert rules.edit_similarity("", "") == 1.0


def test_within_limits() -> None:
    assert rules.within_limits(GOOD, WATCH)
    assert not rules.within_limits(cv("x" * 61, GOOD.body), WATCH)
    assert not rules.within_limits(cv(GOOD.headline, "y" * 91), WATCH)
    assert rules.within_limits(cv(GOOD.headline, "y" * 91), Brief.create("smart watch", length="medium"))
    assert not rules.within_limits(cv(GOOD.headline, GOOD.body, "z" * 25), WATCH)
    assert not rules.within_limits(cv("", GOOD.body), WATCH)


def test_names_product() -> None:
    assert rules.names_product(GOOD, WATCH)
    assert rules.names_product(cv("Watches for Runners", "Fast."), WATCH)
    assert rules.names_product(cv("The Smartwatch That Runs", "Fast."), WATCH)
    assert not rules.names_product(cv("Run Further", "Built-in GPS for every run."), WATCH)
    # A word that merely contains the noun does not count.
    assert not rules.names_product(cv("Stopwatches are old news", "Fast."), Brief.create("wristwatch"))
    boots = Brief.create("kids' rain boots")
    assert rules.names_product(cv("A Boot For Puddles", "Dry feet."), boots)


def test_keyword_coverage_and_avoid() -> None:
    assert rules.keyword_coverage(GOOD, WATCH) == 1.0
    assert rules.keyword_coverage(cv("Your Watch", "A week of battery."), WATCH) == 0.5
    assert rules.keyword_coverage(GOOD, Brief.create("smart watch")) == 1.0
    assert not rules.contains_avoided(GOOD, WATCH)
    assert rules.contains_avoided(cv("Cheap Watch", GOOD.body), WATCH)
    assert not rules.contains_avoided(
        cv("Cheapest? No. Better.", "A watch."), Brief.create("watch", avoid="cheap")
    )


def test_looks_truncated() -> None:
    assert rules.looks_truncated("")
    assert rules.looks_truncated("Track every mile with the")
    assert rules.looks_truncated("Track every mile,")
    assert rules.looks_truncated('He said "run')
    assert not rules.looks_truncated("Track every mile")
    assert rules.looks_truncated("Track every mile", sentence=True)
    assert not rules.looks_truncated("Track every mile.", sentence=True)
    assert not rules.looks_truncated("Ready? Go!", sentence=True)


def test_filter_reasons() -> None:
    assert rules.filter_reasons(GOOD, WATCH) == []
    bad = cv("Run Run Run Run Run Run", "run fast run fast run fast and", "<!channel> click here now please")
    reasons = rules.filter_reasons(bad, WATCH)
    joined = " | ".join(reasons)
    for expected in (
        "cta too long",
        "markup in cta",
        "body looks truncated",
        "repeated phrase",
        "does not name",
    ):
        assert expected in joined, (expected, reasons)
    assert "contains an avoided word" in rules.filter_reasons(cv("Cheap Watch Deals", GOOD.body), WATCH)
    assert "empty body" in rules.filter_reasons(cv("Watch", ""), WATCH)
    # a 3-gram repeated across fields counts too (what bench/quality.py measures as repetition)
    across = cv("The Smart Watch Club", "The smart watch club meets at dawn.", "Join")
    assert "repeated phrase" in rules.filter_reasons(across, WATCH)


def test_repair_trims_and_names_product() -> None:
    long_body = "A watch that tracks every mile. It lasts a week on one charge. It even coaches you on hills."
    fixed = rules.repair(
        cv("Run Further Than Ever Before With Every Single Step You Take Today", long_body), WATCH
    )
    assert rules.within_limits(fixed, WATCH)
    assert fixed.body == "A watch that tracks every mile. It lasts a week on one charge."
    unnamed = rules.repair(cv("Run Further", "Made for long runs"), WATCH)
    assert unnamed.headline.startswith("Smart watch")
    assert rules.names_product(unnamed, WATCH)
    assert unnamed.body == "Made for long runs."
    assert rules.filter_reasons(unnamed, WATCH) == []


def test_trim_helpers() -> None:
    assert rules.trim_to_words("Get yours today with free shipping", 20) == "Get yours today"
    assert rules.trim_to_sentence("One. Two two. Three three three.", 14) == "One. Two two."
    assert rules.trim_to_sentence("no sentence end here at all", 10) == ""


def test_unknown_words_against_a_lexicon() -> None:
    lexicon = frozenset({"the", "watch", "for", "every", "run", "start", "now", "mile", "count"})
    ok = cv("The Watch for Every Run", "Every mile counts.", "Start Now")
    assert rules.unknown_words(ok, WATCH, lexicon) == []  # "counts" is a plural of a known word
    made_up = cv("The Watch for Every Run", "Every worthral mile.", "Start Now 24")
    assert rules.unknown_words(made_up, WATCH, lexicon) == ["worthral"]  # numbers pass
    # the brief's own words are always allowed (product, audience, keywords)
    assert rules.unknown_words(cv("Smart Runners", "GPS battery.", "Now"), WATCH, lexicon) == []


def test_repeated_content_word_in_a_field() -> None:
    assert rules.repeated_word("A bespoke, high-quality, high-quality finish.")
    assert rules.repeated_word("Timeless and timeless.")
    assert not rules.repeated_word("Your watch, your pace, with your friends.")  # light words may repeat
    assert not rules.repeated_word(GOOD.body)
    assert rules.repeated_word("Crafted with craftsmanship and crafted care.")


def test_cta_strays_name_another_product() -> None:
    from engine.inference.creative.copy_rules import cta_strays

    about = ["kids'", "building", "blocks", "set", "educational", "toys"]
    assert cta_strays("Explore Kids' Raincoats", about) == ["raincoats"]
    assert cta_strays("Shop the Blocks", about) == []
    assert cta_strays("Book a Tasting", ["wine"]) == [] and cta_strays("Claim Your Spot", []) == []


def test_stock_phrases_count_once_per_product(tmp_path: Path) -> None:
    from engine.inference import stock_phrases

    rounds = ["A thoughtful gift for any home.\nA thoughtful gift for any home.", "A thoughtful gift for you.",
              "Drills into concrete fast."]  # fmt: skip
    counts = stock_phrases.count(rounds)
    assert (
        counts[("a", "thoughtful", "gift", "for")] == 2
        and counts[("drills", "into", "concrete", "fast")] == 1
    )
    (tmp_path / stock_phrases.STOCK_FILE).write_text("a thoughtful gift for\nnot four\n")
    assert stock_phrases.load(tmp_path) == {("a", "thoughtful", "gift", "for")}
    assert stock_phrases.load(tmp_path / "missing") == frozenset()
