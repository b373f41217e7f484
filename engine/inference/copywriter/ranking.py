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
        only to completion positions and only to the tokens some row may produce."""
        tok = self.tokenizer
        rows, starts = [], []
        for prompt, c in zip(prompts, copies, strict=True):
            p = tok(prompt)["input_ids"]
            rows.append(p + tok(render_completion(c))["input_ids"] + [tok.eos_token_id])
            starts.append(len(p))
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):  # right padding: positions count from 0 in every row
            ids[i, : len(r)] = torch.tensor(r)
            mask[i, : len(r)] = 1
        bias = self._bias([tok(p)["input_ids"] for p in prompts])
        ids, mask, bias = ids.to(self.device), mask.to(self.device), bias.to(self.device)
        first = max(min(starts) - 1, 0)  # the first position whose next token is a completion token
        targets = ids[:, first + 1 :]
        keep = mask[:, first + 1 :].bool()
        for i, s in enumerate(starts):
            keep[i, : max(s - 1 - first, 0)] = False
        with torch.inference_mode():
            logp = self._head_logp(ids, mask, first, bias, targets, keep)
            if logp is None:  # a model without a separable output layer: the plain way
                full = self.model(input_ids=ids, attention_mask=mask).logits[:, first:-1].float()
                full = full[..., : bias.shape[-1]] + bias[:, None, :]
                logp = torch.log_softmax(full, dim=-1).gather(-1, targets[..., None]).squeeze(-1)
            # A token the model cannot produce (e.g. a product word added by repair) costs a bounded 20 nats.
            logp = logp.clamp(min=-20.0)
        nll = -(logp * keep).sum(1) / keep.sum(1).clamp(min=1)
        return [float(x) for x in nll.cpu()]

    def _head_logp(
        self,
        ids: torch.Tensor,
        mask: torch.Tensor,
        first: int,
        bias: torch.Tensor,
        targets: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor | None:
        """Log-probabilities of ``targets`` (positions ``first:-1``; 0 where not ``keep``), with each row's
        bias added, from the output layer applied only at the kept (completion) positions and only to the
        tokens that some row may produce; None when the model has no plain linear head. A target no row
        may produce gets -20 nats."""
        head = self.model.get_output_embeddings() if hasattr(self.model, "get_output_embeddings") else None
        base = getattr(self.model, "base_model", None)
        if not isinstance(head, torch.nn.Linear) or base is None or base is self.model:
            return None
        hidden = base(input_ids=ids, attention_mask=mask).last_hidden_state[:, first:-1]
        cols = torch.isfinite(bias).any(0).nonzero().squeeze(-1)
        weight_t = head.weight[cols].T.contiguous()  # a contiguous (hidden, cols) matmul is the fast one
        row_of = torch.arange(len(ids), device=ids.device)[:, None].expand_as(keep)[keep]
        kept = hidden[keep]
        row_bias = bias[:, cols]
        index = torch.full((bias.shape[-1],), -1, dtype=torch.long, device=ids.device)
        index[cols] = torch.arange(len(cols), device=ids.device)
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
        picked = torch.cat(parts) if parts else torch.zeros(0, device=ids.device)
        picked = torch.where(where < 0, torch.full_like(picked, -20.0), picked)
        logp = torch.zeros(keep.shape, dtype=picked.dtype, device=ids.device)
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
