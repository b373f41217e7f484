"""The copywriter's tuning knobs: how many candidates are sampled, how they are decoded and how they are
ranked. ``bench/tune_decoding.py`` tries other values by setting these names on the modules that read them.
"""

from __future__ import annotations

# Sampling settings chosen on held-out corpus briefs with bench/tune_decoding.py (bench/results/decoding.json):
# a low temperature and more candidates made the house model's copy clearly more fluent (judge NLL gap
# +26% -> +17%) while the variants of a brief stayed distinct (no near-duplicates; 0.25 gave 8%).
MIN_CANDIDATES = 24
CANDIDATES_PER_VARIANT = 6
ROUNDS = 2  # sampling batches before falling back to repaired candidates
MAX_NEW_TOKENS = 128
TOP_P = 0.92
TOP_K = 50
TEMPERATURE = 0.35
SPREAD_TEMPERATURE = 0.6  # one more batch when two picked variants read alike (NEAR_DUPLICATE)
NEAR_DUPLICATE = 0.8  # edit similarity of two variants' full text above which they read as the same card
FALLBACK_TEMPERATURE = 0.9  # one more, hotter round when the cool ones gave too few distinct valid candidates
KEYWORD_WEIGHT = 1.0  # keyword and benefit coverage (0..1)
PMI_WEIGHT = 1.0  # relevance: nats/token the product's facts explain
BENEFIT_WEIGHT = 1.0  # share of the grounding benefits the copy uses (copy_rules.fact_coverage)
STOCK_PENALTY = 0.5  # per stock phrase of the model in a candidate (at most two count; stock_phrases.py)
HEADLINE_ASTRAY_PENALTY = 1.0  # a headline with no word of the product, its category, keywords or benefits
MISFIT_PENALTY = 1.5  # score cost of a fact placed where it does not fit the sentence (fact_slots.fit_facts)
PROMPT_GROUPS = 4  # candidate groups per round, each with its own angle
DIVERSITY_WEIGHT = 1.5
SAME_CTA_PENALTY = 0.75  # per already-picked variant with the same button text: four cards, four CTAs
# The copy mechanism (see Copywriter._copy_boost): in the body, a grounding fact the model finds plausible
# at this point (the first token has at least COPY_START_P probability at temperature 1) is raised to tie
# with the model's favourite, and a fact the body has begun is finished (its next token raised above the
# favourite unless the model gives it under COPY_CONTINUE_P), so a benefit comes out whole ("plush over-ear
# cushions") instead of garbled ("a breathable battery").
COPY_START_P = 0.02
COPY_CONTINUE_P = 1e-4
COPY_LEAD = 2.0  # how far (temperature-scaled logits) a continuation is put above the favourite
# completions are "<headline>\nBody: <body>\nCTA: <cta>": the body follows the first line break
BODY_FIELD = 1
