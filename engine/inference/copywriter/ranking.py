"""Ranking: each valid candidate is scored (model likelihood, relevance to the product by PMI, coverage
of keywords and benefits, penalties) and the variants are picked greedily with a diversity penalty, so
the cards a marketer sees are good and not near-duplicates.
"""

from __future__ import annotations

import torch

from engine.brief import Brief
from engine.inference import stock_phrases
from engine.inference.copywriter.candidates import Candidate
from engine.inference.copywriter.decoding import DecodingMixin
from engine.inference.copywriter.placeholders import delexicalise_copy
from engine.inference.copywriter.prompts import generic_prompt, render_completion
from engine.inference.copywriter.tuning import (
    BENEFIT_WEIGHT,
    DIVERSITY_WEIGHT,
    HEADLINE_ASTRAY_PENALTY,
    KEYWORD_WEIGHT,
    MISFIT_PENALTY,
    NEAR_DUPLICATE,
    PMI_WEIGHT,
    SAME_CTA_PENALTY,
    STOCK_PENALTY,
)
from engine.inference.creative.concepts import stem
from engine.inference.creative.copy_rules import (
    copy_text,
    edit_similarity,
    fact_coverage,
    keyword_coverage,
    words,
)
from engine.inference.creative.types import CopyVariant
from engine.inference.product_knowledge import Grounding

SCORE_SLICE = 512  # completion positions whose output-layer logits are computed at once while scoring


class ScoringMixin(DecodingMixin):
    """The scoring half of :class:`~engine.inference.copywriter.writer.Copywriter` (it sets these)."""

    placeholders: bool
    grounded: bool
    stock: frozenset[tuple[str, ...]]

    def _score(self, brief: Brief, grounding: Grounding, cands: list[Candidate]) -> None:
        """score = -(mean NLL) + PMI weight * relevance + coverage of keywords and benefits - penalties
        (invalid, repaired, a fact that does not fit its sentence, a headline about something else).

        Relevance (grounded models only) is the pointwise mutual information of the copy and the product:
        NLL under the generic prompt minus NLL under the candidate's own prompt, in nats per token."""
        if not cands:
            return
        copies = [c.copy for c in cands]
        if self.placeholders:  # score the text the model actually writes, placeholders and all
            facts = grounding.benefits if self.fact_slots else ()
            copies = [delexicalise_copy(c, brief, facts) for c in copies]
        nlls = self._nll([c.prompt for c in cands], copies)
        pmis = [0.0] * len(cands)
        if self.grounded:
            generic = self._nll([generic_prompt(brief)] * len(cands), copies)
            pmis = [g - n for g, n in zip(generic, nlls, strict=True)]
        own = words(brief.product)
        about = {stem(w) for w in words(" ".join([brief.product, grounding.category, *brief.keywords,
                                                   *grounding.benefits])) if len(w) >= 3}  # fmt: skip
        for cand, nll, pmi in zip(cands, nlls, pmis, strict=True):
            cand.copy.nll = round(nll, 4)
            penalty = (0.5 if cand.repaired else 0.0) + 2.0 * len(cand.reasons) + MISFIT_PENALTY * cand.misfit
            if self.stock:  # "a thoughtful gift for": the model's filler, whatever the product
                penalty += STOCK_PENALTY * min(2, len(stock_phrases.grams(copy_text(cand.copy)) & self.stock))
            if about and not about & {stem(w) for w in words(cand.copy.headline)}:
                penalty += HEADLINE_ASTRAY_PENALTY  # "Snack Time, Solved" for scented candles
            coverage = KEYWORD_WEIGHT * keyword_coverage(cand.copy, brief)
            coverage += BENEFIT_WEIGHT * fact_coverage(cand.copy, grounding.benefits, own)
            cand.copy.score = round(-nll + PMI_WEIGHT * pmi + coverage - penalty, 4)

    def _nll(self, prompts: list[str], copies: list[CopyVariant]) -> list[float]:
        """Mean negative log-likelihood per completion token of each copy after its prompt, under the
        distribution the copywriter samples from (suppressed tokens excluded). The output layer is applied
        only to completion positions and only to the tokens some row may produce; each distinct prompt is
        run through the model once and its KV cache shared by the rows that repeat it (a round's
        candidates repeat a few prompts, and the generic prompt is the same for all)."""
        tok = self.tokenizer
        prompt_ids = [tok(p)["input_ids"] for p in prompts]
        done = [tok(render_completion(c))["input_ids"] + [tok.eos_token_id] for c in copies]
        bias = self._bias(prompt_ids).to(self.device)
        with torch.inference_mode():
            scored = self._shared_prompt_logp(prompt_ids, done, bias)
            if scored is None:
                scored = self._whole_rows_logp(prompt_ids, done, bias)
            logp, keep = scored
            # A token the model cannot produce (e.g. a product word added by repair) costs a bounded 20 nats.
            logp = logp.clamp(min=-20.0)
        nll = -(logp * keep).sum(1) / keep.sum(1).clamp(min=1)
        return [float(x) for x in nll.cpu()]

    def _shared_prompt_logp(
        self, prompt_ids: list[list[int]], done: list[list[int]], bias: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Log-probabilities (rows, completion tokens) and their mask: the distinct prompts left-padded and
        run once, their cache spread to the rows, then every row's completion (right-padded) after it. None
        for a model without a plain linear head or a cache that cannot be spread (older transformers)."""
        tok = self.tokenizer
        base = getattr(self.model, "base_model", None)
        if base is None or base is self.model or self._linear_head() is None:
            return None
        first: dict[tuple[int, ...], int] = {}
        inverse = [first.setdefault(tuple(p), len(first)) for p in prompt_ids]
        distinct = [list(p) for p in first]
        ids_p, mask_p = self._pad_left(distinct)
        out = base(
            input_ids=ids_p,
            attention_mask=mask_p,
            position_ids=(mask_p.cumsum(-1) - 1).clamp(min=0),
            use_cache=True,
        )
        cache = getattr(out, self._cache_arg, None)
        if cache is None or not hasattr(cache, "batch_select_indices"):
            return None
        spread = torch.tensor(inverse, device=self.device)
        cache.batch_select_indices(spread)
        width = max(len(d) for d in done)
        ids_c = torch.full((len(done), width), tok.pad_token_id, dtype=torch.long)
        keep = torch.zeros((len(done), width), dtype=torch.bool)
        for i, d in enumerate(done):
            ids_c[i, : len(d)] = torch.tensor(d)
            keep[i, : len(d)] = True
        ids_c, keep = ids_c.to(self.device), keep.to(self.device)
        lengths = torch.tensor([len(p) for p in prompt_ids], device=self.device)
        hidden = base(
            input_ids=ids_c,
            attention_mask=torch.cat([mask_p[spread], keep.long()], dim=1),
            position_ids=lengths[:, None] + torch.arange(width, device=self.device)[None, :],
            use_cache=True,
            **{self._cache_arg: cache},
        ).last_hidden_state
        # the state before each completion token: the prompt's last, then the completion's own
        before = torch.cat([out.last_hidden_state[spread, -1:], hidden[:, :-1]], dim=1)
        return self._head_logp(before, ids_c, keep, bias), keep

    def _whole_rows_logp(
        self, prompt_ids: list[list[int]], done: list[list[int]], bias: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The plain way: every row's prompt and completion (right-padded) through the whole model."""
        tok = self.tokenizer
        rows = [p + d for p, d in zip(prompt_ids, done, strict=True)]
        starts = [len(p) for p in prompt_ids]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):  # right padding: positions count from 0 in every row
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        first = max(min(starts) - 1, 0)  # the first position whose next token is a completion token
        targets = ids[:, first + 1 :]
        keep = mask[:, first + 1 :].bool()
        for i, s in enumerate(starts):
            keep[i, : max(s - 1 - first, 0)] = False
        base = getattr(self.model, "base_model", None)
        if base is not None and base is not self.model and self._linear_head() is not None:
            hidden = base(input_ids=ids, attention_mask=mask).last_hidden_state[:, first:-1]
            return self._head_logp(hidden, targets, keep, bias), keep
        # a model without a separable output layer: the full logits
        full = self.model(input_ids=ids, attention_mask=mask).logits[:, first:-1].float()
        full = full[..., : bias.shape[-1]] + bias[:, None, :]
        return torch.log_softmax(full, dim=-1).gather(-1, targets[..., None]).squeeze(-1), keep

    def _linear_head(self) -> torch.nn.Linear | None:
        head = self.model.get_output_embeddings() if hasattr(self.model, "get_output_embeddings") else None
        return head if isinstance(head, torch.nn.Linear) else None

    def _head_logp(
        self, hidden: torch.Tensor, targets: torch.Tensor, keep: torch.Tensor, bias: torch.Tensor
    ) -> torch.Tensor:
        """Log-probabilities of ``targets`` (0 where not ``keep``) from ``hidden``, the states before them,
        with each row's bias added: the output layer applied only at the kept positions and only to the
        tokens that some row may produce. A target no row may produce gets -20 nats."""
        head = self._linear_head()
        assert head is not None
        cols = torch.isfinite(bias).any(0).nonzero().squeeze(-1)
        weight_t = head.weight[cols].T.contiguous()  # a contiguous (hidden, cols) matmul is the fast one
        row_of = torch.arange(len(hidden), device=hidden.device)[:, None].expand_as(keep)[keep]
        kept = hidden[keep]
        row_bias = bias[:, cols]
        index = torch.full((bias.shape[-1],), -1, dtype=torch.long, device=hidden.device)
        index[cols] = torch.arange(len(cols), device=hidden.device)
        where = index[targets[keep].clamp(max=bias.shape[-1] - 1)]
        parts = []
        # in slices of positions: the (positions, columns) logits of a whole round's candidates were
        # hundreds of MB at once (twice, with their log-softmax), most of the worker's peak memory
        for a in range(0, len(kept), SCORE_SLICE):
            sub = (kept[a : a + SCORE_SLICE] @ weight_t).float() + row_bias[row_of[a : a + SCORE_SLICE]]
            if head.bias is not None:
                sub = sub + head.bias[cols].float()
            w = where[a : a + SCORE_SLICE]
            parts.append(torch.log_softmax(sub, dim=-1).gather(-1, w.clamp(min=0)[:, None]).squeeze(-1))
        picked = torch.cat(parts) if parts else torch.zeros(0, device=hidden.device)
        picked = torch.where(where < 0, torch.full_like(picked, -20.0), picked)
        logp = torch.zeros(keep.shape, dtype=picked.dtype, device=hidden.device)
        logp[keep] = picked
        return logp


def near_duplicates(copies: list[CopyVariant], threshold: float = NEAR_DUPLICATE) -> bool:
    texts = [copy_text(c) for c in copies]
    return any(edit_similarity(a, b) > threshold for i, a in enumerate(texts) for b in texts[i + 1 :])


def pick_diverse(copies: list[CopyVariant], n: int) -> list[CopyVariant]:
    """Greedy: best score first, then the best score minus a penalty for similarity to what is picked."""
    remaining = sorted(copies, key=lambda c: -c.score)
    picked: list[CopyVariant] = []
    while remaining and len(picked) < n:

        def value(c: CopyVariant) -> float:
            if not picked:
                return c.score
            sim = max(edit_similarity(copy_text(c), copy_text(p)) for p in picked)
            head = max(edit_similarity(c.headline, p.headline) for p in picked)
            same_cta = sum(" ".join(c.cta.lower().split()) == " ".join(p.cta.lower().split()) for p in picked)
            same_head = any(c.headline.lower() == p.headline.lower() for p in picked)
            return (
                c.score
                - DIVERSITY_WEIGHT * sim
                - (10.0 if head > 0.8 or sim > NEAR_DUPLICATE else 0.0)
                - (100.0 if same_head else 0.0)  # never the same headline twice while others exist
                - SAME_CTA_PENALTY * same_cta
            )

        best = max(remaining, key=value)
        picked.append(best)
        remaining.remove(best)
    return picked
