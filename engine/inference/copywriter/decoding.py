"""Decoding: the copywriter's own sampling loop over a causal LM with its KV cache (batched, seeded,
top-k/top-p), with decode-time rules a small model needs: no content word twice in a field, a copy
mechanism for grounding facts (version 3) and each FACT label at most once per field (version 4).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from engine.brief import Brief
from engine.inference.copywriter.prompts import FACT_TOKENS
from engine.inference.copywriter.tuning import (
    BODY_FIELD,
    COPY_CONTINUE_P,
    COPY_LEAD,
    COPY_START_P,
    TEMPERATURE,
    TOP_K,
    TOP_P,
)
from engine.inference.creative.copy_rules import content_words
from engine.inference.product_knowledge import Grounding


@dataclass
class Sampling:
    """One request's share of a decoding batch: ``prompts`` (one completion each), at most ``max_new`` new
    tokens, its ``seed``, ``temperature`` and the ``facts`` the copy boost may spell out."""

    prompts: list[str]
    max_new: int
    seed: int
    temperature: float = TEMPERATURE
    facts: list[list[int]] = dataclasses.field(default_factory=list)


@dataclass
class _Rows:
    """Per-row state of one decoding batch."""

    used: torch.Tensor  # (k, vocab) tokens already sampled in the row's current field
    done: torch.Tensor  # (k,) rows that wrote end-of-text
    written: list[list[int]]  # generated tokens per row (copy boost, labels)
    fields: list[int]  # which field (line) each row is writing
    field_starts: list[int]  # where in ``written`` that line began
    out: list[torch.Tensor]  # the sampled tokens, one (k,) tensor per step
    prev: torch.Tensor | None = None  # the token each row sampled last

    @classmethod
    def start(cls, bias: torch.Tensor, k: int, device: torch.device) -> _Rows:
        return cls(
            used=torch.zeros_like(bias, dtype=torch.bool),
            done=torch.zeros(k, dtype=torch.bool, device=device),
            written=[[] for _ in range(k)],
            fields=[0] * k,
            field_starts=[0] * k,
            out=[],
        )


class DecodingMixin:
    """The sampling half of :class:`~engine.inference.copywriter.writer.Copywriter` (it sets these)."""

    model: Any
    tokenizer: Any
    fact_slots: bool
    _logit_bias: torch.Tensor | None
    _content_starts: torch.Tensor | None
    _word_starts: torch.Tensor
    _newlines: torch.Tensor | None
    _labels: tuple[set[int], set[int], list[int]] | None
    _cache_arg: str
    _last_only: dict[str, int]
    max_batch: int | None = (
        None  # most completions of one request decoded at once (None: all in one batch); set by the studio
    )
    batch_rows: int | None = None  # most rows of one model batch when requests are decoded together

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self.model.parameters()).device
        return device

    def _generate(
        self,
        prompts: list[str],
        max_new: int,
        seed: int,
        temperature: float = TEMPERATURE,
        facts: list[list[int]] | None = None,
    ) -> list[str]:
        """Sample one completion per prompt (prompts may repeat) as a single batch: :meth:`sample_many` with
        one request."""
        return self.sample_many([Sampling(prompts, max_new, seed, temperature, facts or [])])[0]

    def sample_many(self, requests: list[Sampling]) -> list[list[str]]:
        """The completions of several sampling requests (several jobs' candidates), decoded together in as
        few model batches as fit (at most ``batch_rows`` or ``max_batch`` rows each, though a single request
        with more rows than that is decoded whole, alone; prompts plus new tokens within the model's
        context). A request is never split across batches. Each request keeps its own seeded generator, temperature, facts and token budget,
        so its completions are the ones it gets decoded alone (up to float rounding in a bigger batch)."""
        encoded = [self._encode(r.prompts, r.max_new) for r in requests]
        limit = self._context()
        out: list[list[str]] = [[] for _ in requests]
        batch: list[int] = []
        width = steps = rows = 0
        cap = min((c for c in (self.batch_rows, self.max_batch) if c), default=0)  # rows per model batch
        for i, (enc, budget) in enumerate(encoded):
            w = max((len(e) for e in enc), default=1)
            if batch and (max(width, w) + max(steps, budget) > limit or (cap and rows + len(enc) > cap)):
                for j, texts in zip(
                    batch,
                    self._decode([requests[j] for j in batch], [encoded[j] for j in batch]),
                    strict=True,
                ):
                    out[j] = texts
                batch, width, steps, rows = [], 0, 0, 0
            batch.append(i)
            width, steps, rows = max(width, w), max(steps, budget), rows + len(enc)
        if batch:
            for j, texts in zip(
                batch, self._decode([requests[j] for j in batch], [encoded[j] for j in batch]), strict=True
            ):
                out[j] = texts
        return out

    def _context(self) -> int:
        return int(
            getattr(self.model.config, "n_positions", 0)
            or getattr(self.model.config, "max_position_embeddings", 0)
            or 1024
        )

    def _encode(self, prompts: list[str], max_new: int) -> tuple[list[list[int]], int]:
        """The prompts' token ids, cut to leave room for ``max_new`` tokens, and ``max_new`` capped by the
        model's context (both as the request would be decoded alone)."""
        limit = self._context()
        encoded = [self.tokenizer(p)["input_ids"][-max(8, limit - max_new) :] for p in prompts]
        width = max((len(e) for e in encoded), default=1)
        return encoded, max(1, min(max_new, limit - width))

    def _decode(
        self, requests: list[Sampling], encoded: list[tuple[list[list[int]], int]]
    ) -> list[list[str]]:
        """One model batch: every request's rows left-padded together, sampled step by step.

        A small loop over the model with its KV cache instead of ``model.generate``: prompts are
        left-padded with explicit position ids; the output layer is applied only to the tokens some row may
        produce (the house model's generation config suppresses about 35k of GPT-2's 50k tokens, so this
        is a third of the work of the full vocabulary, at every step); sampling draws from the top
        ``TOP_K`` tokens; a content word (a word-start token of four or more letters) cannot be sampled
        twice within one field. A ``torch.Generator`` per request, seeded with its seed, makes each
        request's output a pure function of (model, prompts, seed). ``facts`` (token sequences of the
        grounding benefits and keywords) are copied into the body by :meth:`_copy_boost`."""
        tok = self.tokenizer
        eos = tok.eos_token_id
        prompts = [e for enc, _ in encoded for e in enc]
        k = len(prompts)
        if k == 0:
            return [[] for _ in requests]
        spans: list[tuple[int, int]] = []
        for enc, _ in encoded:
            a = spans[-1][1] if spans else 0
            spans.append((a, a + len(enc)))
        budgets = torch.tensor(
            [budget for (enc, budget) in encoded for _ in enc], dtype=torch.long, device=self.device
        )
        ids, mask = self._pad_left(prompts)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        gens = []
        for r in requests:
            gen = torch.Generator(device=self.device)
            gen.manual_seed(r.seed)
            gens.append(gen)
        full_bias = self._bias(prompts)  # (k, vocab)
        cols = torch.isfinite(full_bias).any(0).nonzero().squeeze(-1)  # what some row may produce
        vocab = full_bias.shape[-1]
        bias = full_bias[:, cols].to(self.device)
        cols = cols.to(self.device)
        index = torch.full((vocab,), -1, dtype=torch.long, device=self.device)
        index[cols] = torch.arange(len(cols), device=self.device)
        starts = self._content_word_starts(vocab)[cols]
        word_starts = self._word_starts[cols]
        newline = self._newline_ids()
        rows = _Rows.start(bias, k, self.device)
        if self.fact_slots and self._labels is None:
            self._labels = self._label_tokens()
        labels = self._labels if self.fact_slots else None
        track = any(r.facts for r in requests) or labels is not None
        temps = torch.tensor(
            [r.temperature for r, (enc, _) in zip(requests, encoded, strict=True) for _ in enc],
            device=self.device,
        )[:, None]
        head = self._sub_head(cols)
        steps = int(budgets.max())
        with torch.inference_mode():
            # the prompts once each: a round's rows repeat a few prompts (one per angle)
            logits, past = self._prefill(prompts, ids, mask, positions, head, cols)
            step, pos = ids, positions
            for n in range(steps):
                if n:
                    logits, past = self._step_logits(step, mask, pos, past, head, cols)
                logits = self._next_logits(
                    logits, bias, starts, word_starts, rows, temps, requests, spans, labels, index
                )
                nxt = torch.empty(k, dtype=torch.long, device=self.device)
                for (a, b), gen in zip(spans, gens, strict=True):
                    nxt[a:b] = _sample_top_p(logits[a:b], TOP_P, TOP_K, gen)
                nxt = cols[nxt]  # back to the vocabulary's ids
                nxt = torch.where(rows.done | (budgets <= n), torch.full_like(nxt, eos), nxt)
                rows.prev = nxt
                rows.out.append(nxt)
                rows.done |= nxt == eos
                if bool(rows.done.all()):
                    break
                self._record(rows, nxt, index, newline, track)
                step = nxt[:, None]
                pos = pos[:, -1:] + 1
                mask = torch.cat([mask, torch.ones((k, 1), dtype=mask.dtype, device=self.device)], dim=1)
        if not rows.out:
            return [[""] * (b - a) for a, b in spans]
        texts: list[str] = tok.batch_decode(torch.stack(rows.out, dim=1).cpu(), skip_special_tokens=True)
        return [texts[a:b] for a, b in spans]

    def _prefill(
        self,
        prompts: list[list[int]],
        ids: torch.Tensor,
        mask: torch.Tensor,
        positions: torch.Tensor,
        head: tuple[torch.Tensor, torch.Tensor | None] | None,
        cols: torch.Tensor,
    ) -> tuple[torch.Tensor, Any]:
        """The first step over the whole prompts: each distinct prompt run through the model once, its
        logits and KV cache then given to every row that repeats it (a cache without batch selection,
        e.g. an older transformers' tuples, gets every row run)."""
        first: dict[tuple[int, ...], int] = {}
        inverse = [first.setdefault(tuple(p), len(first)) for p in prompts]
        if len(first) == len(prompts):
            return self._step_logits(ids, mask, positions, None, head, cols)
        rows = torch.tensor(_first_rows(inverse), device=self.device)
        logits, past = self._step_logits(ids[rows], mask[rows], positions[rows], None, head, cols)
        if not hasattr(past, "batch_select_indices"):
            return self._step_logits(ids, mask, positions, None, head, cols)
        spread = torch.tensor(inverse, device=self.device)
        past.batch_select_indices(spread)
        return logits[spread], past

    def _sub_head(self, cols: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None] | None:
        """The output layer's rows for ``cols`` (weight, bias), or None for a model without a plain linear
        head on a separable base model (then the full logits are computed and cut)."""
        head = self.model.get_output_embeddings() if hasattr(self.model, "get_output_embeddings") else None
        base = getattr(self.model, "base_model", None)
        if not isinstance(head, torch.nn.Linear) or base is None or base is self.model:
            return None
        # (hidden, cols), contiguous: the transposed view made the matmul ~1.7x slower on this CPU
        return head.weight[cols].T.contiguous(), (head.bias[cols] if head.bias is not None else None)

    def _step_logits(
        self,
        step: torch.Tensor,
        mask: torch.Tensor,
        pos: torch.Tensor,
        past: Any,
        head: tuple[torch.Tensor, torch.Tensor | None] | None,
        cols: torch.Tensor,
    ) -> tuple[torch.Tensor, Any]:
        """The last position's logits over ``cols`` (float32) and the new KV cache."""
        if head is None:
            res = self.model(
                input_ids=step,
                attention_mask=mask,
                position_ids=pos,
                use_cache=True,
                **{self._cache_arg: past},
                **self._last_only,
            )
            return res.logits[:, -1, :].float()[:, cols], getattr(res, self._cache_arg, None)
        res = self.model.base_model(
            input_ids=step, attention_mask=mask, position_ids=pos, use_cache=True, **{self._cache_arg: past}
        )
        weight_t, b = head
        logits = res.last_hidden_state[:, -1, :] @ weight_t
        if b is not None:
            logits = logits + b
        return logits.float(), getattr(res, self._cache_arg, None)

    def _pad_left(self, encoded: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids left-padded into one batch on the model's device, and its attention mask."""
        tok = self.tokenizer
        width = max(len(e) for e in encoded)
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        ids = torch.full((len(encoded), width), pad, dtype=torch.long)
        mask = torch.zeros((len(encoded), width), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, width - len(e) :] = torch.tensor(e)
            mask[i, width - len(e) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def _next_logits(
        self,
        logits: torch.Tensor,
        bias: torch.Tensor,
        starts: torch.Tensor,
        word_starts: torch.Tensor,
        rows: _Rows,
        temps: torch.Tensor,
        requests: list[Sampling],
        spans: list[tuple[int, int]],
        labels: tuple[set[int], set[int], list[int]] | None,
        index: torch.Tensor,
    ) -> torch.Tensor:
        """The last position's logits (over the batch's columns) turned into what the next token is sampled
        from: the row's bias, no content word twice in a field nor any word twice in a row, the request's
        temperature, copy boost, label block."""
        logits = logits + bias
        logits = logits.masked_fill(rows.used & starts, float("-inf"))
        if rows.prev is not None:  # the same word twice in a row ("hr hr hr ...") is never copy
            prev = index[rows.prev]
            again = (prev >= 0) & word_starts[prev.clamp(min=0)]
            logits[torch.arange(len(prev), device=self.device)[again], prev[again]] = float("-inf")
        boosted = [(r, ab) for r, ab in zip(requests, spans, strict=True) if r.facts]
        logp = torch.log_softmax(logits, dim=-1) if boosted else None
        logits = logits / temps
        for r, (a, b) in boosted:
            assert logp is not None
            self._copy_boost(
                logits[a:b],
                logp[a:b],
                r.facts,
                rows.written[a:b],
                rows.fields[a:b],
                rows.field_starts[a:b],
                index,
            )
        if labels is not None:
            _block_used_labels(logits, labels, rows.written, rows.field_starts, index)
        return logits

    def _record(
        self, rows: _Rows, nxt: torch.Tensor, index: torch.Tensor, newline: torch.Tensor, track: bool
    ) -> None:
        """Note the sampled tokens (vocabulary ids): per row what it wrote and where its current field began
        (``track``), and which content words the field has used (a line break starts a fresh field)."""
        breaks = torch.isin(nxt, newline)
        if track:
            newlines = breaks.tolist()
            for i, t in enumerate(nxt.tolist()):
                rows.written[i].append(t)
                if newlines[i]:
                    rows.fields[i] += 1
                    rows.field_starts[i] = len(rows.written[i])
        col = index[nxt]
        hit = col >= 0
        rows.used[torch.arange(len(nxt), device=self.device)[hit], col[hit]] = True
        rows.used[breaks] = False  # a new field starts fresh

    def _label_tokens(self) -> tuple[set[int], set[int], list[int]] | None:
        """How the tokenizer spells a FACT label: (first tokens, middle tokens, one last token per label),
        e.g. ({"F", "ĠF"}, {"ACT"}, ["1", "2", "3"]) for GPT-2; None when the labels do not split that way."""
        heads, middles, lasts = set(), set(), []
        for label in FACT_TOKENS:
            for text in (" " + label, label):
                ids = self.tokenizer(text)["input_ids"]
                if len(ids) != 3:
                    return None
                heads.add(ids[0])
                middles.add(ids[1])
            lasts.append(ids[2])
        return heads, middles, lasts

    def _fact_tokens(self, brief: Brief, grounding: Grounding) -> list[list[int]]:
        """Token sequences of the facts the body may copy: each grounding benefit and brief keyword as it
        would follow a space mid-sentence (" even heat for perfect searing"); duplicates and one-token
        stop words left out."""
        seqs: list[list[int]] = []
        for fact in dict.fromkeys((*brief.keywords, *grounding.benefits)):
            fact = " ".join(fact.split()).strip(" .;,")
            if not fact or not content_words(fact):
                continue
            ids = self.tokenizer(" " + fact)["input_ids"]
            if ids and ids not in seqs:
                seqs.append(ids)
        return seqs

    @staticmethod
    def _copy_boost(
        logits: torch.Tensor,
        logp: torch.Tensor,
        facts: list[list[int]],
        written: list[list[int]],
        fields: list[int],
        field_starts: list[int],
        index: torch.Tensor | None = None,
    ) -> None:
        """A copy mechanism for a small model that has not learnt to copy its prompt reliably, applied in
        the body field only. ``logits`` are the temperature-scaled logits the next token is sampled from
        (changed in place); ``logp`` the model's own log-probabilities at temperature 1. A fact not yet
        written whose first token the model gives at least COPY_START_P is raised to tie with the
        favourite; the next token of a fact the body is in the middle of is put COPY_LEAD above it unless
        the model gives it under COPY_CONTINUE_P. Where a fact fits stays the model's decision. ``index`` maps
        a vocabulary id to its column of ``logits`` (None: the columns are the vocabulary)."""
        start_min, cont_min = math.log(COPY_START_P), math.log(COPY_CONTINUE_P)
        for i, (toks, field, start) in enumerate(zip(written, fields, field_starts, strict=True)):
            if field != BODY_FIELD:
                continue
            body = toks[start:]
            top = float(logits[i].max())
            for fact in facts:
                if _contains(body, fact):
                    continue
                m = _open_prefix(body, fact)
                if m:
                    t, floor, lead = fact[m], cont_min, COPY_LEAD
                else:
                    t, floor, lead = fact[0], start_min, 0.0
                c = t if index is None else int(index[t])
                if c >= 0 and float(logp[i, c]) >= floor:
                    logits[i, c] = max(float(logits[i, c]), top + lead)

    def _bias(self, prompts: list[list[int]]) -> torch.Tensor:
        """Per row: 0 for tokens the model may produce, -inf for its generation config's
        ``suppress_tokens``, except tokens of that row's own prompt (a benefit or keyword word the
        model may copy even if no training completion used it)."""
        vocab = int(getattr(self.model.config, "vocab_size", 0) or len(self.tokenizer))
        if self._logit_bias is None or self._logit_bias.shape[0] != vocab:
            bias = torch.zeros(vocab)
            suppressed = [
                t for t in (getattr(self.model.generation_config, "suppress_tokens", None) or []) if t < vocab
            ]
            if suppressed:
                bias[torch.tensor(suppressed)] = float("-inf")
            self._logit_bias = bias
        rows = self._logit_bias.expand(len(prompts), -1).clone()
        for i, p in enumerate(prompts):
            allowed = torch.tensor([t for t in p if t < vocab], dtype=torch.long)
            if len(allowed):
                rows[i, allowed] = 0.0
        return rows

    def _content_word_starts(self, vocab: int) -> torch.Tensor:
        """Tokens that start a content word (" quality", " Perfect"): four or more letters, not light.
        Read off the byte-level (``Ġ``) or SentencePiece (``▁``) spelling of each vocabulary entry."""
        if self._content_starts is None or self._content_starts.shape[0] != vocab:
            flags = torch.zeros(vocab, dtype=torch.bool)
            words_ = torch.zeros(vocab, dtype=torch.bool)
            for token, i in self.tokenizer.get_vocab().items():
                if i < vocab and token[:1] in ("Ġ", "▁") and token[1:].isalpha():
                    flags[i] = content_words(token[1:]) == [token[1:].lower()]
                    words_[i] = True
            self._content_starts = flags.to(self.device)
            self._word_starts = words_.to(self.device)
        return self._content_starts

    def _newline_ids(self) -> torch.Tensor:
        """Tokens that contain a line break (``Ċ`` in byte-level BPE): a new field starts after them."""
        if self._newlines is None:
            ids = [i for t, i in self.tokenizer.get_vocab().items() if "Ċ" in t or "\n" in t or t == "<0x0A>"]
            self._newlines = torch.tensor(ids or [-1], dtype=torch.long, device=self.device)
        return self._newlines


def _block_used_labels(
    logits: torch.Tensor,
    labels: tuple[set[int], set[int], list[int]],
    written: list[list[int]],
    field_starts: list[int],
    index: torch.Tensor | None = None,
) -> None:
    """Each FACT label at most once per field, and only real labels (in place): after a label's first two
    tokens only the last token of a label not yet written in this field may follow; once all labels are
    written in the field, no label may start (its first token is masked)."""
    heads, middles, lasts = labels

    def col(t: int) -> int:
        return t if index is None else int(index[t])

    for i, (toks, start) in enumerate(zip(written, field_starts, strict=True)):
        field = toks[start:]
        used = {field[j + 2] for j in range(len(field) - 2) if field[j] in heads and field[j + 1] in middles}
        free = [c for c in (col(t) for t in lasts if t not in used) if c >= 0]
        if not free:  # every label written in this field: no label may start
            for c in (col(t) for t in heads):
                if c >= 0:
                    logits[i, c] = float("-inf")
        if free and len(field) >= 2 and field[-1] in middles and field[-2] in heads:
            keep = logits[i, free].clone()
            logits[i] = float("-inf")
            logits[i, free] = keep


def _first_rows(inverse: list[int]) -> list[int]:
    """For each distinct prompt (numbered by first appearance in ``inverse``), the row where it first appears."""
    rows: dict[int, int] = {}
    for row, u in enumerate(inverse):
        rows.setdefault(u, row)
    return [rows[u] for u in range(len(rows))]


def _contains(seq: list[int], part: list[int]) -> bool:
    n = len(part)
    return any(seq[j : j + n] == part for j in range(len(seq) - n + 1))


def _open_prefix(seq: list[int], fact: list[int]) -> int:
    """The length of the longest proper prefix of ``fact`` that ``seq`` ends with (0 when none)."""
    for m in range(min(len(fact) - 1, len(seq)), 0, -1):
        if seq[-m:] == fact[:m]:
            return m
    return 0


def _sample_top_p(logits: torch.Tensor, top_p: float, top_k: int, gen: torch.Generator) -> torch.Tensor:
    """One token per row from the smallest top-k prefix whose probability reaches ``top_p``."""
    values, index = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1)
    probs = torch.softmax(values, dim=-1)
    probs = probs * ((probs.cumsum(-1) - probs) < top_p)
    choice = torch.multinomial(probs, 1, generator=gen)
    return index.gather(-1, choice).squeeze(-1)
