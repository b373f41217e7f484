"""The copywriter on real (tiny) GPT-2 models: determinism, limits, neutralisation, rewrite, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine import copy_rules as rules
from engine.brief import Brief
from engine.creative import CopyVariant
from engine.errors import ModelError
from engine.inference.copywriter import (
    Copywriter,
    delexicalise,
    fill_copy,
    length_label,
    parse_completion,
    render_prompt,
    uses_placeholders,
)
from engine.neutralize import has_mention_or_markup
from engine.settings import HOUSE_COPY_MODEL

CPU = torch.device("cpu")
WATCH = Brief.create("smart watch for runners", audience="marathon beginners", tone="playful", length="short",
                     keywords="GPS, battery")  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tiny_copy_model_dir: Path) -> Copywriter:
    return Copywriter.load(str(tiny_copy_model_dir), CPU, torch.float32)


def as_tuples(copies: list[CopyVariant]) -> list[tuple[str, str, str]]:
    return [(c.headline, c.body, c.cta) for c in copies]


def test_prompt_round_trip() -> None:
    prompt = render_prompt(WATCH, idea="Run Further")
    assert prompt.splitlines() == [
        "Product: smart watch for runners",
        "Audience: marathon beginners",
        "Tone: playful",
        "Length: short",
        "Keywords: GPS, battery",
        "Idea: Run Further",
        "Headline:",
    ]
    copy, complete = parse_completion(' **Your Watch**\nBody: "Fast."\nCTA: Go\nProduct: ignored')
    assert complete and (copy.headline, copy.body, copy.cta) == ("Your Watch", "Fast.", "Go")
    assert not parse_completion(" Only a headline")[1]
    assert (
        length_label("x" * 90) == "short"
        and length_label("x" * 91) == "medium"
        and length_label("x" * 300) == "long"
    )


def test_placeholders_are_filled_with_the_product() -> None:
    copy = fill_copy(
        CopyVariant(
            "Meet Your PRODUCT", "PRODUCT that counts every mile. a ITEM for you, not an ITEM.", "Get a ITEM"
        ),
        WATCH,
    )
    assert copy.headline == "Meet Your Smart Watch"  # title case in the headline
    # sentence starts capitalised; the product named in full once, then by its head noun
    assert copy.body == "Watch that counts every mile. A watch for you, not a watch."
    assert copy.cta == "Get a Watch"  # a title-case CTA stays title case
    assert rules.names_product(copy, WATCH)
    espresso = Brief.create("espresso machine for home baristas")
    assert fill_copy(CopyVariant("Fresh Mornings", "Try a PRODUCT today.", "Buy now"), espresso).body == (
        "Try an espresso machine today."
    )
    assert fill_copy(CopyVariant("PRODUCT", "Try a PRODUCT today.", "Buy now"), espresso).body == (
        "Try a machine today."
    )
    # A one-word product, or a first mention, is written in full.
    assert fill_copy(CopyVariant("Hello", "PRODUCT and PRODUCT.", "Go"), espresso).body == (
        "Espresso machine and machine."
    )
    tea = Brief.create("tea")
    assert fill_copy(CopyVariant("PRODUCT Time", "Our PRODUCT.", "Go"), tea).body == "Our tea."
    # Training text: the product line, then its phrase, then the head noun become placeholders.
    assert delexicalise("Smart-Watch for Runners, a smart watch and one watch; watches", WATCH) == (
        "PRODUCT, a PRODUCT and one ITEM; watches"
    )


def test_load_identifies_model(tiny: Copywriter, tiny_copy_model_dir: Path) -> None:
    assert tiny.name == tiny_copy_model_dir.name
    assert len(tiny.version) == 10
    again = Copywriter.load(str(tiny_copy_model_dir), CPU, torch.float32)
    assert again.version == tiny.version
    # train copy fit writes delexicalised models and marks them; an unmarked model is used as it is.
    assert tiny.placeholders and uses_placeholders(tiny.model)
    assert not uses_placeholders(torch.nn.Linear(1, 1))


def test_same_seed_same_output_different_seed_different(tiny: Copywriter) -> None:
    a = tiny.write(WATCH, 3, seed=11)
    b = tiny.write(WATCH, 3, seed=11)
    c = tiny.write(WATCH, 3, seed=12)
    assert as_tuples(a) == as_tuples(b)
    assert as_tuples(a) != as_tuples(c)


def test_variants_are_valid_and_distinct(tiny: Copywriter) -> None:
    for brief in (WATCH, Brief.create("cold brew coffee", tone="calm", length="long"),
                  Brief.create("payroll software", tone="professional", length="medium")):  # fmt: skip
        copies = tiny.write(brief, 4, seed=3)
        assert len(copies) == 4
        for c in copies:
            assert rules.within_limits(c, brief), c
            assert rules.names_product(c, brief), c
            assert not has_mention_or_markup(c.headline + c.body + c.cta), c
            assert c.nll > 0
        heads = [c.headline.lower() for c in copies]
        assert len(set(heads)) == 4, heads
        texts = [rules.copy_text(c) for c in copies]
        assert max(rules.edit_similarity(x, y) for i, x in enumerate(texts) for y in texts[i + 1 :]) < 0.95


def test_mentions_and_markup_are_neutralised(tiny: Copywriter) -> None:
    # The tiny model was trained on bodies that start with mass mentions, so it really writes them ...
    raw = tiny.tokenizer([render_prompt(WATCH)] * 16, return_tensors="pt")
    torch.manual_seed(0)
    out = tiny.model.generate(
        **raw,
        do_sample=True,
        temperature=1.0,  # the raw model at full temperature, not the copywriter's cooler setting
        top_p=1.0,
        max_new_tokens=60,
        pad_token_id=tiny.tokenizer.eos_token_id,
    )
    texts = tiny.tokenizer.batch_decode(out[:, raw["input_ids"].shape[1] :], skip_special_tokens=True)
    assert any(("<!" in t or "<@" in t or "@everyone" in t or "@here" in t) for t in texts), texts
    # ... and a brief that smuggles them in (built without Brief.create's cleaning) as well.
    hostile = Brief(product="smart watch <!channel> @everyone", audience="<@U123> runners", tone="bold",
                    length="medium", keywords=("@here", "GPS"))  # fmt: skip
    for brief in (WATCH, hostile):
        copies = tiny.write(brief, 4, seed=5)
        assert copies
        for c in copies:
            for value in (c.headline, c.body, c.cta):
                assert not has_mention_or_markup(value), value
                assert "@everyone" not in value and "<!channel>" not in value


def test_rewrite_keeps_limits_and_follows_instruction(tiny: Copywriter) -> None:
    medium = Brief.create("smart watch for runners", tone="friendly", length="medium")
    parent = CopyVariant("Your Watch for Every Mile", "A smart watch with GPS that tracks every mile you run and "
                         "lasts all week on one charge.", "Start Running")  # fmt: skip
    shorter = tiny.rewrite(medium, parent, 3, seed=9, instruction="shorter")
    assert len(shorter) == 3
    short = Brief.create("smart watch for runners", length="short")
    for c in shorter:
        assert rules.within_limits(c, short), c
        assert rules.edit_similarity(rules.copy_text(c), rules.copy_text(parent)) <= 0.85
    again = tiny.rewrite(medium, parent, 3, seed=9, instruction="shorter")
    assert as_tuples(again) == as_tuples(shorter)
    playful = tiny.rewrite(medium, parent, 2, seed=9, instruction="more playful")
    assert len(playful) == 2 and as_tuples(playful) != as_tuples(shorter[:2])


def test_bf16_on_cpu(tiny_copy_model_dir: Path) -> None:
    cw = Copywriter.load(str(tiny_copy_model_dir), CPU, torch.bfloat16)
    assert next(cw.model.parameters()).dtype == torch.bfloat16
    copies = cw.write(WATCH, 2, seed=1)
    assert len(copies) == 2 and all(rules.within_limits(c, WATCH) for c in copies)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda(tiny_copy_model_dir: Path) -> None:
    cw = Copywriter.load(str(tiny_copy_model_dir), torch.device("cuda"), torch.bfloat16)
    assert cw.device.type == "cuda"
    copies = cw.write(WATCH, 4, seed=2)
    assert len(copies) == 4 and all(rules.within_limits(c, WATCH) for c in copies)


def test_missing_or_broken_model_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        Copywriter.load(str(tmp_path / "nope"), CPU, torch.float32)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelError, match="Could not load"):
        Copywriter.load(str(empty), CPU, torch.float32)
    with pytest.raises(ModelError, match="local Hugging Face cache"):
        Copywriter.load("no-such-org/no-such-model-xyz", CPU, torch.float32)


@pytest.mark.slow
def test_house_model_names_the_product() -> None:
    cw = Copywriter.load(str(HOUSE_COPY_MODEL), CPU, torch.float32)
    for brief in (WATCH, Brief.create("organic green tea", audience="busy parents", tone="calm"),
                  Brief.create("payroll software for small businesses", tone="professional", length="long")):  # fmt: skip
        copies = cw.write(brief, 3, seed=0)
        assert len(copies) == 3
        for c in copies:
            assert rules.names_product(c, brief), c
            assert rules.within_limits(c, brief), c
            assert rules.filter_reasons(c, brief) == [], (c, rules.filter_reasons(c, brief))


def test_lexicon_ships_with_the_model_and_rejects_made_up_words(tiny_copy_model_dir: Path) -> None:
    words = (tiny_copy_model_dir / "lexicon.txt").read_text().split()
    assert len(words) > 200 and words == sorted(words)
    cw = Copywriter.load(str(tiny_copy_model_dir), CPU, torch.float32)
    assert cw.lexicon == frozenset(words)
    brief = Brief.create("smart watch")
    grounding = cw.ground(brief)
    context = Brief(product=brief.product, keywords=(grounding.category, *grounding.benefits))
    prompts = cw.prompts(brief, None, 4, seed=3)
    cands = cw._sample(brief, grounding, prompts, 12, seed=3)
    for c in cands:
        unknown = rules.unknown_words(c.copy, context, cw.lexicon)
        assert any(r.startswith("unknown word") for r in c.reasons) == bool(unknown)
    cw.lexicon = frozenset({"the"})  # now nearly every candidate has words the model "never saw"
    cands = cw._sample(brief, grounding, prompts, 12, seed=3)
    assert sum(any(r.startswith("unknown word") for r in c.reasons) for c in cands) >= 10


def test_picking_prefers_distinct_ctas() -> None:
    from engine.inference.copywriter import _pick_diverse

    cands = [
        CopyVariant(
            "Fresh Coffee Mornings", "Roasted weekly, delivered to your door.", "Discover the Collection", 1.0
        ),
        CopyVariant(
            "Coffee Worth Waking For", "Single-origin beans, ground your way.", "Discover the Collection", 0.9
        ),
        CopyVariant(
            "Your Daily Coffee Ritual", "Small farms, big flavour, every month.", "Start Sipping", 0.5
        ),
    ]
    picked = _pick_diverse(cands, 2)
    assert [c.cta for c in picked] == ["Discover the Collection", "Start Sipping"]


def test_grounded_prompts_carry_the_facts_and_one_angle_per_group(tiny: Copywriter) -> None:
    assert tiny.grounded and tiny.knowledge is not None
    brief = Brief.create("smart watch for runners", tone="bold")
    prompts = tiny.prompts(brief, None, 4, seed=5)
    assert len(prompts) == 4 and len(set(prompts)) == 4
    g = tiny.ground(brief)
    assert g.benefits and all(f"Benefits: {'; '.join(g.benefits)}" in p for p in prompts)
    angles = [line for p in prompts for line in p.splitlines() if line.startswith("Angle: ")]
    assert len(set(angles)) == 4
    assert prompts == tiny.prompts(brief, None, 4, seed=5)


def test_decoding_never_repeats_a_content_word_start_within_a_field(tiny: Copywriter) -> None:
    brief = Brief.create("cold brew coffee", tone="calm", length="long")
    prompts = tiny.prompts(brief, None, 4, seed=1)
    texts = tiny._generate([p for p in prompts for _ in range(6)], 60, seed=1, temperature=1.2)
    starts = tiny._content_word_starts(len(tiny.tokenizer))
    for text in texts:
        for field_text in text.split("\n"):
            ids = tiny.tokenizer(field_text)["input_ids"]
            content = [i for i in ids if bool(starts[i])]
            assert len(content) == len(set(content)), field_text


def test_a_plain_hub_gpt2_gets_the_few_shot_prompt(tmp_path: Path) -> None:
    """A GPT-2 that never saw the house format (random weights stand in for a hub model) is prompted with
    worked examples, and its output goes through the same parsing, filters and repairs."""
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    tok = GPT2TokenizerFast.from_pretrained(str(HOUSE_COPY_MODEL))
    torch.manual_seed(0)
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, n_positions=512)).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    cw = Copywriter.load(str(tmp_path), CPU, torch.float32)
    assert not cw.grounded and not cw.placeholders
    assert cw.knowledge is not None  # borrows the house knowledge table
    brief = Brief.create("espresso machine", tone="premium")
    [prompt] = cw.prompts(brief, None, 4, seed=0)
    assert prompt.count("Headline:") == 3 and prompt.startswith("Product: reusable coffee cup")
    assert prompt.endswith(
        "Product: espresso machine\nCategory: "
        + cw.ground(brief).category
        + "\nBenefits: "
        + "; ".join(cw.ground(brief).benefits)
        + "\nTone: premium\nLength: medium\nHeadline:"
    )
    copies = cw.write(brief, 2, seed=0)
    assert len(copies) == 2, copies
    for c in copies:  # random weights write gibberish: the path is under test (prompt, parse, repair)
        assert rules.names_product(c, brief), c
        assert len(c.headline) <= brief.headline_max() and len(c.body) <= brief.body_max(), c
