"""Fitting FACT labels to the sentence around them (engine/inference/fact_slots.py)."""

from __future__ import annotations

import pytest

from engine.inference.fact_slots import ABS, ADJ, BASE, NOUN, VERB, base_form, fact_kind, fit_facts


@pytest.mark.parametrize(
    ("fact", "kind"),
    [
        ("drives screws and bores holes", VERB),
        ("saves on coffee shop trips", VERB),
        ("book online", BASE),
        ("leak-proof", ADJ),
        ("dishwasher safe", ADJ),
        ("30-hour battery life", NOUN),
        ("GPS", NOUN),
        ("pets welcome at no extra fee", NOUN),  # a plural noun first is not a verb
        ("two batteries included", ABS),
    ],
)
def test_fact_kind(fact: str, kind: str) -> None:
    assert fact_kind(fact) == kind


def test_base_form() -> None:
    assert base_form("drives screws and bores holes") == "drive screws and bore holes"
    assert base_form("carries two bikes") == "carry two bikes"


def test_facts_are_reassigned_to_the_slots_they_fit() -> None:
    # the model put the verb phrase's label after "has" and the noun phrase's after the subject
    facts = ("drives screws and bores holes", "30-hour battery life", "leak-proof")
    out = fit_facts(["This PRODUCT FACT2 and has FACT1."], facts)
    assert out.misfits == 0 and out.mended == 0
    assert out.fields == ("This PRODUCT FACT2 and has FACT1.",)
    assert out.facts[1] == "drives screws and bores holes" and out.facts[0] == "30-hour battery life"


def test_obvious_misfits_are_mended() -> None:
    out = fit_facts(
        ["This PRODUCT is FACT1.", "Built so you can FACT2."], ("GPS", "cleans floors on schedule")
    )
    assert out.misfits == 0
    assert out.fields == ("This PRODUCT has FACT1.", "Built so you can clean floors on schedule.")
    out = fit_facts(["This PRODUCT FACT1."], ("leak-proof",))
    assert out.fields == ("This PRODUCT is FACT1.",)
    assert fit_facts(["It FACT1."], ("vapor chamber cooling",)).fields == ("It has FACT1.",)
    out = fit_facts(["It lets you FACT1."], ("prints photos in seconds",))
    assert out.fields == ("It lets you print photos in seconds.",) and out.misfits == 0
    out = fit_facts(["This PRODUCT has FACT1."], ("prints photos in seconds",))
    assert out.fields == ("This PRODUCT FACT1.",)
    out = fit_facts(["It has FACT1."], ("two batteries included",))
    assert out.fields == ("It comes with FACT1.",)


def test_what_cannot_be_mended_is_counted() -> None:
    out = fit_facts(["Give a FACT1 gift."], ("cleans floors on schedule",))
    assert out.misfits == 1 and out.fields == ("Give a FACT1 gift.",)


def test_labels_without_a_fact_and_text_without_labels_are_left_alone() -> None:
    assert fit_facts(["Shop the ITEM"], ("GPS",)).fields == ("Shop the ITEM",)
    out = fit_facts(["This PRODUCT has FACT3."], ("GPS",))
    assert out.fields == ("This PRODUCT has FACT3.",) and out.misfits == 0
