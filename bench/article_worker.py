"""Mode (a) of the load benchmark (bench/load.py, issue 16): the way of the article this product grew from,
served as an inference worker on the product's queue with the product's job contract.

Per request (one round job) it loads GPT-2 with ``from_pretrained`` and calls, for each variant,
``model.generate(input_ids, num_beams=5, no_repeat_ngram_size=2, max_length=200)`` on a plain prompt made
from the brief; then the GAN draws the heroes and Pillow composes the cards exactly as the product does.
Everything around the copy step is the product's own worker (``engine.inference.worker.InferenceWorker``
via ``bot.app.run_worker``: queue, leases, progress, artifacts, health endpoints); only its ``Studio`` is
replaced by :class:`ArticleStudio`. Not part of the product: it lives in bench/ and is started only by
the benchmark::

    CAMPAIGNBOT_DATA_DIR=... .venv/bin/python bench/article_worker.py --name article

What "the article's way" means here, and the few choices it forced:

- the model is the house copy model (``CAMPAIGNBOT_COPY_MODEL``, engine/inference/house/copy-en, a GPT-2),
  loaded with ``AutoTokenizer/AutoModelForCausalLM.from_pretrained(dir)`` for every job (per request), in
  fp32 (transformers 4's default, which the article ran on; transformers 5 would read the checkpoint's
  fp16), moved to the worker's device;
- the house checkpoint's ``generation_config.json`` holds the product's sampling settings (do_sample,
  temperature, top-p, max_new_tokens=96 and a long suppress_tokens list); the article's stock GPT-2 had
  none, so the model gets the plain generation config of its ``config.json`` before the article's call,
  and ``generate`` does exactly beam search with 5 beams, no repeated bigram, 200 tokens at most
  (clamped to the model's ``n_positions`` only for a model shorter than that, i.e. the tests' tiny one);
- the prompt is the product's plain prompt format (``render_prompt(brief)``: product, audience, tone,
  length, keywords, then ``Headline:``) without the product knowledge (grounding) and without the
  product's sampling loop, candidate pool or ranking; the text after the prompt is parsed with the
  product's ``parse_completion`` and its PRODUCT/ITEM placeholders are filled from the brief
  (``fill_copy``) so the card reads like an ad; an empty field gets the product name / "Learn more";
- beam search is deterministic, so the variants of one round share their copy (the article's way has no
  variety); their images differ (one GAN seed per variant, as in the product).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig  # noqa: E402

from engine.brief import Brief  # noqa: E402
from engine.errors import UserError  # noqa: E402
from engine.inference.copywriter import Copywriter  # noqa: E402
from engine.inference.copywriter.placeholders import fill_copy  # noqa: E402
from engine.inference.copywriter.prompts import parse_completion, render_prompt  # noqa: E402
from engine.inference.creative.types import CopyVariant  # noqa: E402
from engine.inference.record import Round, Variant  # noqa: E402
from engine.inference.studio import (  # noqa: E402
    Progress,
    RoundAsk,
    Studio,
    _check_round_args,
    _noop,
    concept_text,
    visual_seeds,
)

ARTICLE_GENERATE = {"num_beams": 5, "no_repeat_ngram_size": 2, "max_length": 200}


def article_copy(model: Any, tokenizer: Any, brief: Brief, device: torch.device) -> CopyVariant:
    """One variant's copy the article's way: one ``generate`` call on the plain prompt, parsed."""
    input_ids = tokenizer(render_prompt(brief), return_tensors="pt").input_ids.to(device)
    kwargs = dict(ARTICLE_GENERATE)
    n_positions = getattr(model.config, "n_positions", None)
    if n_positions is not None:
        kwargs["max_length"] = min(int(kwargs["max_length"]), int(n_positions))
    with torch.no_grad():
        out = model.generate(input_ids, **kwargs)
    text = tokenizer.decode(out[0, input_ids.shape[1] :], skip_special_tokens=True)
    copy, _ = parse_completion(text)
    copy = fill_copy(copy, brief)
    return CopyVariant(
        headline=copy.headline or brief.product.title(),
        body=copy.body,
        cta=copy.cta or "Learn more",
    )


class ArticleStudio(Studio):
    """The product's Studio with the article's copy step; the GAN and the composition are the product's."""

    def load_article_model(self) -> tuple[Any, Any]:
        """What the article does for every request: load the tokenizer and GPT-2 from their directory."""
        source = self.settings.copy_model
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
        model.generation_config = GenerationConfig.from_model_config(model.config)
        model.to(self.device).eval()  # type: ignore[arg-type]
        return model, tokenizer

    # the product's copywriter is never used here: a call means the worker bypassed first_round
    def copywriter(self, language: str) -> Copywriter:
        raise RuntimeError("the article's worker has no product copywriter (ArticleStudio.copywriter)")

    def warm_up(self, language: str = "en") -> None:
        """The article loads GPT-2 per request; only the GAN is loaded (and run once) at start-up."""
        self.visual.generate([self.visual.concepts[0]], [0])

    def model_names(self, language: str) -> dict[str, str]:
        return {
            "copy": f"{Path(self.settings.copy_model).name}@article-beam5",
            "visual": f"{self.visual.name}@{self.visual.version}",
            "device": str(self.device),
            "dtype": "float32",
        }

    def first_round(
        self,
        brief: Brief,
        *,
        variants: int = 4,
        size: str = "square",
        seed: int = 0,
        progress: Progress = _noop,
        cta: str | None = None,
        colour: str | None = None,
        on_variant: Any = None,
    ) -> Round:
        _check_round_args(variants, size)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        progress("loading GPT-2", 0.02)
        model, tokenizer = self.load_article_model()
        timings["load_s"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        copies = []
        for i in range(variants):
            progress(f"writing copy {i + 1}/{variants}", 0.05 + 0.4 * i / variants)
            copies.append(article_copy(model, tokenizer, brief, self.device))
        if cta:
            for c in copies:
                c.cta = cta
        del model, tokenizer
        timings["copy_s"] = time.perf_counter() - t1
        progress("drawing visuals", 0.45)
        t2 = time.perf_counter()
        concept = self.visual.concept_for(concept_text(brief))
        heroes = self.visual.generate([concept] * len(copies), visual_seeds(seed, len(copies)))
        timings["visual_s"] = time.perf_counter() - t2
        out = [
            Variant(index=i + 1, copy=c, visual=h.record, palette_index=i, colour_hint=colour, hero=h.image)
            for i, (c, h) in enumerate(zip(copies, heroes, strict=True))
        ]
        rnd = Round(
            number=1,
            brief=brief,
            size=size,
            seed=seed,
            variants=out,
            models=self.model_names(brief.language),
            grounding={},
        )
        self._compose(rnd, progress, timings, on_variant)
        return rnd

    def make_rounds(self, asks: list[RoundAsk]) -> list[Round | Exception]:
        """The worker's entry point: each job the article's way, one after another (no batching)."""
        out: list[Round | Exception] = []
        for ask in asks:
            try:
                if ask.parent is not None:
                    raise UserError(
                        "The article's worker makes first rounds only (the load benchmark sends none)."
                    )
                out.append(
                    self.first_round(
                        ask.brief,
                        variants=4 if ask.variants is None else ask.variants,
                        size=ask.size or "square",
                        seed=ask.seed or 0,
                        progress=ask.progress,
                        cta=ask.cta,
                        colour=ask.colour,
                        on_variant=ask.on_variant,
                    )
                )
            except Exception as exc:
                out.append(exc)
        return out

    def refine_round(self, *args: Any, **kwargs: Any) -> Round:
        raise UserError("The article's worker makes first rounds only (the load benchmark sends no refines).")


def main(argv: list[str] | None = None) -> int:
    """``campaignbot worker`` (same flags) with :class:`ArticleStudio` in place of the product's Studio."""
    import logging

    from bot.app import run_worker
    from engine import redact
    from engine.inference import worker as inference

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    redact.install()
    # InferenceWorker(studio=None) builds the Studio named in its module: this one
    setattr(inference, "Studio", ArticleStudio)  # noqa: B010
    return run_worker(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
