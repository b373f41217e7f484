"""The copywriter on real (tiny) GPT-2 models: determinism, limits, neutralisation, rewrite, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from engine.brief import Brief
from engine.errors import ModelError
from engine.inference.copywriter import Copywriter
from engine.inference.copywriter.decoding import Sampling
from engine.inference.copywriter.placeholders import delexicalise, fill_copy
from engine.inference.copywriter.prompts import (
    length_label,
    parse_completion,
    render_completion,
    render_prompt,
    uses_placeholders,
)
from engine.inference.copywriter.writer import CopySteps
from engine.inference.creative import copy_rules as rules
from engine.inference.creative.types import CopyVariant
from engine.neutralize import has_mention_or_markup
from engine.settings import HOUSE_COPY_MODEL
from engine.steering import steer_from_text

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
    # the steering a refine round gets: the reply read once (here as --steer reads it) into brief + step
    brief, steer = steer_from_text("shorter", medium)
    assert steer.length_step == -1
    shorter = tiny.rewrite(brief, parent, 3, seed=9, length_step=steer.length_step)
    assert len(shorter) == 3
    short = Brief.create("smart watch for runners", length="short")
    for c in shorter:
        assert rules.within_limits(c, short), c
        assert rules.edit_similarity(rules.copy_text(c), rules.copy_text(parent)) <= 0.85
    again = tiny.rewrite(brief, parent, 3, seed=9, length_step=steer.length_step)
    assert as_tuples(again) == as_tuples(shorter)
    playful_brief, _ = steer_from_text("more playful", medium)
    assert playful_brief.tone == "playful"
    playful = tiny.rewrite(playful_brief, parent, 2, seed=9)
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
    assert cw.grounded and cw.fact_slots  # version 4: labelled facts in the prompt, filled in the copy
    [prompt, *_] = cw.prompts(WATCH, None, 4, seed=0)
    assert "Benefits: FACT1 GPS; FACT2 battery" in prompt
    for brief in (WATCH, Brief.create("organic green tea", audience="busy parents", tone="calm"),
                  Brief.create("payroll software for small businesses", tone="professional", length="long")):  # fmt: skip
        copies = cw.write(brief, 3, seed=0)
        assert len(copies) == 3
        for c in copies:
            assert rules.names_product(c, brief), c
            assert rules.within_limits(c, brief), c
            assert rules.filter_reasons(c, brief) == [], (c, rules.filter_reasons(c, brief))
            assert "FACT" not in rules.copy_text(c) and "PRODUCT" not in rules.copy_text(c), c


def test_lexicon_ships_with_the_model_and_rejects_made_up_words(tiny_copy_model_dir: Path) -> None:
    words = (tiny_copy_model_dir / "lexicon.txt").read_text().split()
    assert len(words) > 200 and words == sorted(words)
    cw = Copywriter.load(str(tiny_copy_model_dir), CPU, torch.float32)
    assert cw.lexicon == frozenset(words)
    brief = Brief.create("smart watch")
    grounding = cw.ground(brief)
    context = Brief(product=brief.product, keywords=(grounding.category, *grounding.benefits))
    prompts = cw.prompts(brief, None, 4, seed=3)
    [cands] = cw.write_many([cw._sample(brief, grounding, prompts, 12, seed=3)])  # type: ignore[list-item]
    for c in cands:
        unknown = rules.unknown_words(c.copy, context, cw.lexicon)
        assert any(r.startswith("unknown word") for r in c.reasons) == bool(unknown)
    cw.lexicon = frozenset({"the"})  # now nearly every candidate has words the model "never saw"
    [cands] = cw.write_many([cw._sample(brief, grounding, prompts, 12, seed=3)])  # type: ignore[list-item]
    assert sum(any(r.startswith("unknown word") for r in c.reasons) for c in cands) >= 10


def test_picking_prefers_distinct_ctas() -> None:
    from engine.inference.copywriter.ranking import pick_diverse

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
    picked = pick_diverse(cands, 2)
    assert [c.cta for c in picked] == ["Discover the Collection", "Start Sipping"]


def test_grounded_prompts_carry_the_facts_and_one_angle_per_group(tiny: Copywriter) -> None:
    assert tiny.grounded and tiny.knowledge is not None
    brief = Brief.create("smart watch for runners", tone="bold")
    prompts = tiny.prompts(brief, None, 4, seed=5)
    assert len(prompts) == 4 and len(set(prompts)) == 4
    g = tiny.ground(brief)
    # the fixture is a grounded-v3 model (the 2-layer, 32-wide model does not learn the labels of
    # grounded-v4 in a test's budget); the house model's v4 prompts are covered in test_house_model_*
    assert not tiny.fact_slots
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


def test_fact_slots_label_the_benefits_and_are_filled_back() -> None:
    """Format grounded-v4: the prompt labels each benefit FACT1.., the model writes the label, the
    copywriter writes the benefit (capitalised at a sentence start, the article made to agree)."""
    from engine.inference.copywriter.placeholders import delexicalise_facts, unfilled
    from engine.inference.copywriter.prompts import FACTS_FORMAT
    from engine.inference.product_knowledge import Grounding

    assert FACTS_FORMAT == "grounded-v4"
    facts = ("brighter, even skin", "removes peach fuzz", "eco-friendly towels")
    prompt = render_prompt(
        Brief.create("dermaplaning facial"), grounding=Grounding("skin care", facts), facts=True
    )
    assert (
        "Benefits: FACT1 brighter, even skin; FACT2 removes peach fuzz; FACT3 eco-friendly towels" in prompt
    )
    assert (
        delexicalise_facts("It removes peach fuzz for Brighter, Even Skin.", facts) == "It FACT2 for FACT1."
    )
    copy, complete = parse_completion(
        " FACT1 Starts Here\nBody: It FACT2 with a FACT3 kit. FACT1, fast.\nCTA: Book a PRODUCT"
    )
    assert complete
    filled = fill_copy(copy, Brief.create("dermaplaning facial"), facts)
    assert filled.headline == "Brighter, Even Skin Starts Here"
    assert filled.body == "It removes peach fuzz with an eco-friendly towels kit. Brighter, even skin, fast."
    assert filled.cta == "Book a Dermaplaning Facial" and not unfilled(filled)
    assert unfilled(fill_copy(copy, Brief.create("dermaplaning facial"), facts[:1]))  # FACT2 has no fact


def test_fact_slot_training_text_uses_the_prompt_order() -> None:
    """Each training completion's FACT labels point at the benefits in the order its own prompt lists
    them (shuffled per example); filled back, the completion is the ad as written."""
    import json

    from engine.inference.copywriter.prompts import generic_prompt
    from engine.inference.training.copy_dataset import grounded_texts

    row = {"id": 1, "seed": 2, "kind": "goods", "category": "cookware", "product": "cast iron skillet",
           "benefits": ["even heat for perfect searing", "oven-safe to 500 degrees"], "audience": "", "keywords": [],
           "angle": "quality and craft", "tone": "bold", "headline": "Cast Iron Skillet, Seared Right",
           "body": "Even heat for perfect searing, and oven-safe to 500 degrees.", "cta": "Shop the Skillet"}  # fmt: skip
    knowledge = {"cast iron skillet": {"benefits": [*row["benefits"], "lasts for generations"]}}
    pairs = grounded_texts([json.loads(json.dumps(row))] * 20, knowledge, per_row=4, seed=3, facts=True)
    brief = Brief.create("cast iron skillet", tone="bold")
    orders = set()
    for prompt, completion in pairs:
        if prompt == generic_prompt(Brief(product="x", tone="bold", length="short")):
            assert "FACT" not in completion  # the generic prompt lists no facts: they stay written out
            continue
        line = next(x for x in prompt.splitlines() if x.startswith("Benefits: "))
        facts = tuple(item.split(" ", 1)[1] for item in line[len("Benefits: ") :].split("; "))
        orders.add(facts)
        assert "FACT" in completion
        copy, _ = parse_completion(completion)
        assert fill_copy(copy, brief, facts).body == row["body"]
    assert len(orders) > 1


def test_copy_boost_finishes_a_started_fact_and_offers_plausible_ones() -> None:
    """The decode-time copy mechanism of grounded-v3 models, on hand-made logits: only in the body field,
    a started fact's next token is put above the favourite, a fact's first token is raised to tie with the
    favourite only where the model gives it some probability, and a fact already written is left alone."""
    from engine.inference.copywriter.tuning import COPY_LEAD, COPY_START_P

    vocab = 12
    facts = [[5, 6, 7], [8, 9]]
    logits = torch.zeros(4, vocab)
    logits[:, 0] = 10.0  # the model's favourite
    logp = torch.log_softmax(logits, dim=-1)
    logp[:, 8] = float(torch.tensor(COPY_START_P * 2).log())  # fact 2 is plausible here, fact 1 is not
    logp[:, 5] = float(torch.tensor(COPY_START_P / 2).log())
    logp[:, 7] = -3.0
    written = [[1, 5, 6], [1, 5, 6], [1, 8, 9, 5, 6, 7], [1]]
    fields = [1, 0, 1, 1]
    starts = [1, 1, 1, 1]
    out = logits.clone()
    Copywriter._copy_boost(out, logp, facts, written, fields, starts)
    assert (
        out[0, 7] == 10.0 + COPY_LEAD and out[0, 8] == 10.0 and out[0, 5] == 0.0
    )  # mid-fact; fact 2 offered
    assert torch.equal(out[1], logits[1])  # headline field: untouched
    assert torch.equal(out[2], logits[2])  # both facts already in this body
    assert out[3, 8] == 10.0 and out[3, 5] == 0.0


def test_a_fact_label_is_written_at_most_once_per_field() -> None:
    from engine.inference.copywriter.decoding import _block_used_labels

    heads, middles, lasts = {10, 11}, {20}, [31, 32, 33]  # "F"/" F", "ACT", "1"/"2"/"3"
    written = [
        [5, 11, 20, 31, 6, 11, 20],
        [5, 11, 20, 31, 198, 11, 20],
        [5, 6],
        [10, 20, 31, 10, 20, 32, 11, 20, 33, 5],
    ]
    starts = [0, 5, 0, 0]  # row 1 began a new field after its FACT1
    logits = torch.zeros(4, 40)
    _block_used_labels(logits, (heads, middles, lasts), written, starts)
    # FACT1 again in the same field: no; only FACT2/FACT3 may finish the label
    assert logits[0, 31] == float("-inf") and logits[0, 32] == 0.0 and logits[0, 33] == 0.0
    assert torch.isinf(logits[0, :31]).all() and torch.isinf(logits[0, 34:]).all()
    assert logits[1, 31] == 0.0 and torch.isinf(logits[1, 0])  # a new field may use FACT1 again
    assert torch.isfinite(logits[2]).all()  # not inside a label
    # all three labels used in this field: no fourth may start
    assert logits[3, 10] == float("-inf") and logits[3, 11] == float("-inf")
    assert torch.isfinite(logits[3, :10]).all() and torch.isfinite(logits[3, 12:]).all()


def test_grounding_drops_a_fact_that_repeats_another() -> None:
    from engine.inference.product_knowledge import _overlaps

    assert _overlaps("leak-proof", "sweat-free and leak-proof")
    assert _overlaps("Dishwasher safe", "dishwasher safe")
    assert not _overlaps("leak-proof", "dishwasher safe")


def test_plural_products_get_plural_grammar() -> None:
    from engine.inference.copywriter.placeholders import agree, is_plural

    phones = Brief.create("noise-cancelling headphones")
    assert agree("This noise-cancelling headphones has plush cushions.", phones) == (
        "These noise-cancelling headphones have plush cushions."
    )
    assert (
        agree("A headphones with a case. Get a Headphones", phones)
        == "Headphones with a case. Get Headphones"
    )
    assert agree("Candles That Fits Yours", Brief.create("scented soy candles")) == "Candles That Fit Yours"
    assert agree("This glass is clear.", Brief.create("wine glass")) == "This glass is clear."
    assert is_plural("candles") and is_plural("jeans") and not is_plural("dress") and not is_plural("hummus")


def test_a_vague_head_noun_is_named_in_full_on_the_button() -> None:
    from engine.inference.copywriter.candidates import _RUN_ON
    from engine.inference.copywriter.placeholders import fill_copy

    app = Brief.create("budgeting app")
    assert fill_copy(CopyVariant("PRODUCT", "Our PRODUCT helps.", "Download the ITEM"), app).cta == (
        "Download the Budgeting App"
    )
    drill = Brief.create("cordless drill")
    assert fill_copy(CopyVariant("PRODUCT", "x", "Shop the ITEM"), drill).cta == "Shop the Drill"
    long = Brief.create("dog walking service")  # "Get a Dog Walking Service Quote" would be six words
    assert fill_copy(CopyVariant("PRODUCT", "x", "Get a ITEM Quote"), long).cta == "Get a Service Quote"
    assert _RUN_ON.search("Baked daily.Benef the ovens") and not _RUN_ON.search("Baked daily. The ovens")


def test_every_tone_changes_the_copy(tiny: Copywriter) -> None:
    """The tone a reply resolves to (tests/engine/test_vocabulary.py walks every tone word) is in the
    model's input and changes what it would write: the next-token distribution after each tone's prompt
    differs (the tiny test model is too weak for every sampled ad to differ, so the distribution is what
    is compared), and most sampled ads differ too."""
    from engine.brief import TONES

    briefs = {tone: Brief.create("smart watch for runners", tone=tone) for tone in TONES}
    prompts = {tone: tiny.prompts(b, None, 1, seed=4)[0] for tone, b in briefs.items()}
    assert len(set(prompts.values())) == len(TONES)
    dists = []
    with torch.no_grad():
        for tone in TONES:
            ids = torch.tensor([tiny.tokenizer(prompts[tone])["input_ids"]])
            dists.append(torch.softmax(tiny.model(ids).logits[0, -1].float(), -1))
    for i in range(len(TONES)):
        for j in range(i + 1, len(TONES)):
            assert (dists[i] - dists[j]).abs().sum() > 1e-5, (TONES[i], TONES[j])  # same input: equal bits
    written = {tone: tuple(as_tuples(tiny.write(b, 1, seed=4))) for tone, b in briefs.items()}
    assert len(set(written.values())) >= len(TONES) - 2, written


@pytest.mark.slow
def test_a_batch_limit_decodes_the_candidates_in_smaller_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """The knob the worker lowers to retry a round that ran out of memory: the same candidates, decoded at
    most ``max_batch`` at a time, still make valid copy (the studio hands its setting to the copywriter)."""
    from engine.inference.studio import Studio  # noqa: PLC0415
    from engine.settings import Settings  # noqa: PLC0415

    studio = Studio(Settings(device="cpu", dtype="fp32", _env_file=None))  # type: ignore[call-arg]
    studio.max_batch = 5
    cw = studio.copywriter("en")
    assert cw.max_batch == 5
    sizes: list[int] = []
    decode = cw._decode
    monkeypatch.setattr(
        cw, "_decode", lambda reqs, enc: sizes.append(sum(len(r.prompts) for r in reqs)) or decode(reqs, enc)
    )
    copies = cw.write(WATCH, 2, seed=0)
    assert len(copies) == 2 and all(rules.names_product(c, WATCH) for c in copies)
    assert sizes and max(sizes) <= 5 and len(sizes) >= 5  # 24 candidates a batch before: now 5 at most
    studio.max_batch = None
    assert studio.copywriter("en").max_batch is None


def test_jobs_written_together_get_the_copy_they_get_alone(tiny: Copywriter) -> None:
    """Cross-job batching: several briefs' candidates decoded in shared model batches (a seeded generator
    per request) give every job exactly its copy alone; a refine job and a first-round job mix."""
    briefs = [
        WATCH,
        Brief.create("oat milk latte", tone="playful"),
        Brief.create("cloud backup", length="short"),
    ]
    alone = [tiny.write(b, 3, seed=i) for i, b in enumerate(briefs)]
    parent = alone[0][0]
    alone_refine = tiny.rewrite(WATCH, parent, 2, seed=9, length_step=-1)
    steps = [tiny.write_steps(b, 3, seed=i) for i, b in enumerate(briefs)]
    steps.append(tiny.rewrite_steps(WATCH, parent, 2, seed=9, length_step=-1))
    together = tiny.write_many(steps)
    assert [as_tuples(c) for c in together if not isinstance(c, Exception)] == [
        as_tuples(c) for c in [*alone, alone_refine]
    ]


def test_one_bad_job_does_not_fail_its_batch_mates(tiny: Copywriter, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose own step raises fails alone; a failing shared model batch fails the jobs in it."""

    def broken() -> CopySteps:
        yield [Sampling(["Product: x\nHeadline:"], 8, 0)]
        raise ValueError("this job's own bug")

    good = tiny.write_steps(WATCH, 2, seed=0)
    out = tiny.write_many([broken(), good])
    assert isinstance(out[0], ValueError) and not isinstance(out[1], Exception) and len(out[1]) == 2

    def oom(requests: list[Sampling]) -> list[list[str]]:
        raise RuntimeError("CPU out of memory: can't allocate memory")

    monkeypatch.setattr(tiny, "sample_many", oom)
    out = tiny.write_many([tiny.write_steps(WATCH, 2, seed=0), tiny.write_steps(WATCH, 2, seed=1)])
    assert all(isinstance(o, RuntimeError) for o in out)


def test_a_row_cap_splits_the_jobs_into_model_batches_without_changing_them(
    tiny: Copywriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    briefs = [WATCH, Brief.create("oat milk latte"), Brief.create("ceramic mugs")]
    free = tiny.write_many([tiny.write_steps(b, 2, seed=4) for b in briefs])
    sizes: list[int] = []
    decode = tiny._decode
    monkeypatch.setattr(
        tiny,
        "_decode",
        lambda reqs, enc: sizes.append(sum(len(r.prompts) for r in reqs)) or decode(reqs, enc),
    )
    monkeypatch.setattr(tiny, "batch_rows", 30)
    capped = tiny.write_many([tiny.write_steps(b, 2, seed=4) for b in briefs])
    assert sizes and max(sizes) <= 30
    assert [as_tuples(c) for c in capped if not isinstance(c, Exception)] == [
        as_tuples(c) for c in free if not isinstance(c, Exception)
    ]


def test_repeated_prompts_are_run_once_and_sample_as_if_each_row_were_run(
    tiny: Copywriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first step runs each distinct prompt once and hands its cache to the rows that repeat it: the
    completions are the ones of every row run through the model."""
    prompts = tiny.prompts(WATCH, None, 2, seed=3)
    rows = [prompts[i % len(prompts)] for i in range(6)]
    widths: list[int] = []
    step = tiny._step_logits

    def counting(ids: torch.Tensor, *a: object) -> object:
        widths.append(ids.shape[0])
        return step(ids, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(tiny, "_step_logits", counting)
    tiny.sample_many([Sampling(rows, 1, 5)])  # one token: the prefill alone, one model call
    assert widths == [len(set(prompts))]
    widths.clear()
    shared = tiny.sample_many([Sampling(rows, 24, 5)])
    assert widths[0] == len(set(prompts)) < len(rows)  # the prefill: one row per distinct prompt
    assert all(w == len(rows) for w in widths[1:])
    widths.clear()
    monkeypatch.setattr(  # every row through the model, as before the prefill was shared
        tiny,
        "_prefill",
        lambda _p, ids, mask, pos, head, cols: tiny._step_logits(ids, mask, pos, None, head, cols),
    )
    every = tiny.sample_many([Sampling(rows, 24, 5)])
    assert widths[0] == len(rows)
    assert every == shared


def test_scoring_runs_each_prompt_once_and_gives_the_whole_rows_likelihood(tiny: Copywriter) -> None:
    """Scoring shares each distinct prompt's cache with its rows: the same NLL as every row run whole."""
    copies = tiny.write(WATCH, 3, seed=2) + tiny.write(Brief.create("oat milk latte"), 3, seed=3)
    prompts = tiny.prompts(WATCH, None, 2, seed=1)
    rows = [prompts[i % len(prompts)] for i in range(len(copies))]
    tok = tiny.tokenizer
    prompt_ids = [tok(p)["input_ids"] for p in rows]
    done = [tok(render_completion(c))["input_ids"] + [tok.eos_token_id] for c in copies]
    bias = tiny._bias(prompt_ids)
    with torch.inference_mode():
        shared = tiny._shared_prompt_logp(prompt_ids, done, bias)
        assert shared is not None  # this transformers' cache can be spread: the shared path is the one used
        whole = tiny._whole_rows_logp(prompt_ids, done, bias)
    (a, keep_a), (b, keep_b) = shared, whole
    per_row = [x[k].clamp(min=-20.0) for x, k in zip(a, keep_a, strict=True)]
    per_row_whole = [x[k].clamp(min=-20.0) for x, k in zip(b, keep_b, strict=True)]
    for x, y in zip(per_row, per_row_whole, strict=True):
        assert x.shape == y.shape and torch.allclose(x, y, atol=1e-4)
