"""``campaignbot train copy fit``: train the house GPT-2 on the corpus, resumably, in four steps:
the training text (:func:`load_data`), the model and optimiser (:func:`start`), the loop with its
evaluations and checkpoints (:func:`train_loop`), and the final evaluation and save (:func:`finish`).
"""

from __future__ import annotations

import argparse
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelError
from engine.inference.copywriter.prompts import FACTS_FORMAT, GROUNDED_FORMAT
from engine.inference.training.copy_dataset import (
    collate,
    corpus_lexicon,
    encode_examples,
    is_grounded_row,
    load_knowledge,
    load_rows,
    row_is_heldout,
)
from engine.inference.training.copy_model import (
    Vocab,
    build_tokenizer,
    completion_loss,
    evaluate,
    new_model,
    save_house_model,
)

Examples = list[tuple[list[int], list[int]]]


@dataclass
class FitData:
    """The corpus rows of a run, split into train and held-out rows, and their encoded examples."""

    rows: list[dict[str, Any]]
    train_rows: list[dict[str, Any]]
    eval_rows: list[dict[str, Any]]
    knowledge_rows: list[dict[str, Any]]
    train: Examples
    heldout: Examples
    delex: bool
    grounded: bool
    facts: bool


@dataclass
class FitState:
    """What a checkpoint holds (model, optimiser, step, training seconds, eval history) and the best
    weights seen so far with ``--keep-best`` (eval loss, step, weights)."""

    model: Any
    opt: torch.optim.Optimizer
    ckpt_path: Path
    step: int = 0
    elapsed: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)
    best: tuple[float, int, dict[str, torch.Tensor] | None] = (math.inf, 0, None)

    def checkpoint(self) -> None:
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "elapsed": self.elapsed,
            "history": self.history,
            "torch_rng": torch.get_rng_state(),
        }
        torch.save(state, self.ckpt_path.with_suffix(".tmp"))
        self.ckpt_path.with_suffix(".tmp").replace(self.ckpt_path)


def fit(args: argparse.Namespace) -> int:
    rows = [row for corpus in args.corpus for row in load_rows(Path(corpus))]
    tokenizer = build_tokenizer(Path(args.tokenizer))
    data = load_data(args, rows, tokenizer)
    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    vocab = None if args.full_vocab else Vocab.of(data.train + data.heldout, 50257, tokenizer.eos_token_id)
    state = start(args, work / "checkpoint.pt")
    rng = random.Random(args.seed + state.step)
    n_params = sum(p.numel() for p in state.model.parameters())
    print(
        f"{len(data.rows)} rows ({len(data.train_rows)} train, {len(data.eval_rows)} held out) -> "
        f"{len(data.train)} train examples, {len(data.heldout)} eval examples; model {n_params / 1e6:.1f}M parameters"
    )
    train_loop(args, state, data, tokenizer.pad_token_id, vocab, rng)
    eval_loss, best_step = finish(args, state, data, tokenizer.pad_token_id, vocab)
    info = fit_info(args, state, data, eval_loss, best_step, n_params, vocab)
    lexicon = corpus_lexicon(data.train_rows, data.delex)
    info["lexicon_words"] = len(lexicon)
    save_house_model(
        state.model,
        tokenizer,
        Path(args.out),
        info,
        vocab.suppressed() if vocab else None,
        placeholders=data.delex,
        lexicon=lexicon,
        knowledge=data.knowledge_rows if data.grounded else None,
        prompt_format=FACTS_FORMAT if data.facts else GROUNDED_FORMAT,
    )
    print(f"step {state.step}, eval loss {eval_loss:.3f}, {state.elapsed / 60:.1f} min -> {args.out}")
    return 0


def load_data(args: argparse.Namespace, rows: list[dict[str, Any]], tokenizer: Any) -> FitData:
    """The corpus rows split by :func:`row_is_heldout`, and their training examples; at most
    ``--eval-examples`` held-out examples, drawn by the seed."""
    train_rows = [r for r in rows if not row_is_heldout(r, args.heldout)]
    eval_rows = [r for r in rows if row_is_heldout(r, args.heldout)]
    delex = not args.no_delex
    knowledge_rows = load_knowledge(Path(args.catalog)) if Path(args.catalog).exists() else []
    knowledge = {k["product"].lower(): k for k in knowledge_rows}
    grounded = any(is_grounded_row(r) for r in rows)
    facts = bool(getattr(args, "fact_slots", False))
    if facts and not delex:
        raise ModelError("--fact-slots needs delexicalised training (leave out --no-delex)")
    train = encode_examples(train_rows, tokenizer, args.n_positions, delex, args.augment, args.seed,
                            knowledge, args.grounded_augment, facts)  # fmt: skip
    rng_eval = random.Random(args.seed)
    heldout = encode_examples(
        eval_rows, tokenizer, args.n_positions, delex, 0, args.seed, knowledge, 0, facts
    )
    rng_eval.shuffle(heldout)
    heldout = heldout[: args.eval_examples]
    if not train:
        raise ModelError(f"No training examples in {args.corpus}")
    return FitData(rows, train_rows, eval_rows, knowledge_rows, train, heldout, delex, grounded, facts)


def start(args: argparse.Namespace, ckpt_path: Path) -> FitState:
    """The model (new, or from ``--init``) and its optimiser, restored from the checkpoint with ``--resume``."""
    if args.init:  # continue from a trained model (its architecture wins over --n-layer etc.)
        from transformers import GPT2LMHeadModel

        model = GPT2LMHeadModel.from_pretrained(args.init, dtype=torch.float32)
        for key in ("resid_pdrop", "embd_pdrop", "attn_pdrop"):
            setattr(model.config, key, args.dropout)
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = args.dropout
        args.n_layer, args.n_embd = model.config.n_layer, model.config.n_embd
        args.n_head, args.n_positions = model.config.n_head, model.config.n_positions
        print(f"initialised from {args.init}")
    else:
        model = new_model(args.n_layer, args.n_embd, args.n_head, args.n_positions, args.seed, args.dropout)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05, betas=(0.9, 0.95))
    state = FitState(model, opt, ckpt_path)
    if args.resume and ckpt_path.exists():
        saved = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        state.step, state.elapsed, state.history = saved["step"], saved["elapsed"], saved["history"]
        torch.set_rng_state(saved["torch_rng"])
        print(f"resumed from {ckpt_path} at step {state.step}")
    else:
        torch.manual_seed(args.seed)
    return state


def lr_at(args: argparse.Namespace, s: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of ``--lr`` at ``--steps``."""
    if s < args.warmup:
        return float(args.lr * (s + 1) / args.warmup)
    progress = min(1.0, (s - args.warmup) / max(1, args.steps - args.warmup))
    return float(args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))))


def train_loop(
    args: argparse.Namespace,
    state: FitState,
    data: FitData,
    pad: int,
    vocab: Vocab | None,
    rng: random.Random,
) -> None:
    """Train until ``--steps`` or ``--minutes``: evaluate every ``--eval-every`` steps (keeping the best
    weights with ``--keep-best``), checkpoint every ``--checkpoint-every`` and once at the end."""
    from tqdm import tqdm

    model, opt, train = state.model, state.opt, data.train
    model.train()
    order: list[int] = []
    deadline = time.monotonic() + args.minutes * 60 if args.minutes else math.inf
    bar = tqdm(total=args.steps, initial=state.step, desc="fit", unit="step")
    t0 = time.monotonic()
    while state.step < args.steps and time.monotonic() < deadline:
        if len(order) < args.batch:
            order = list(range(len(train)))
            rng.shuffle(order)
        batch = [train[order.pop()] for _ in range(args.batch)]
        ids, labels, mask = collate(batch, pad)
        for group in opt.param_groups:
            group["lr"] = lr_at(args, state.step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
            loss, _ = completion_loss(model, ids, labels, mask, vocab)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        state.step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{lr_at(args, state.step):.1e}")
        if state.step % args.eval_every == 0 or state.step == args.steps:
            _evaluate_now(args, state, data, pad, vocab, loss.item(), bar)
        if state.step % args.checkpoint_every == 0:
            elapsed_now = state.elapsed + time.monotonic() - t0
            state.elapsed, t0 = elapsed_now, time.monotonic()
            state.checkpoint()
    bar.close()
    state.elapsed += time.monotonic() - t0
    state.checkpoint()


def _evaluate_now(
    args: argparse.Namespace,
    state: FitState,
    data: FitData,
    pad: int,
    vocab: Vocab | None,
    train_loss: float,
    bar: Any,
) -> None:
    eval_loss = evaluate(state.model, data.heldout, args.batch * 2, pad, args.bf16, vocab)
    state.history.append(
        {"step": state.step, "train_loss": round(train_loss, 4), "eval_loss": round(eval_loss, 4)}
    )
    bar.write(f"step {state.step}: train loss {train_loss:.3f}, eval loss {eval_loss:.3f}")
    if args.keep_best and eval_loss < state.best[0]:
        weights = {k: v.detach().clone() for k, v in state.model.state_dict().items()}
        state.best = (eval_loss, state.step, weights)


def finish(
    args: argparse.Namespace, state: FitState, data: FitData, pad: int, vocab: Vocab | None
) -> tuple[float, int]:
    """The final eval loss and the step whose weights are saved: the last ones, or with ``--keep-best``
    the best evaluated ones when they beat the last (loaded into the model)."""
    eval_loss = evaluate(state.model, data.heldout, args.batch * 2, pad, args.bf16, vocab)
    best_step = state.step
    best_loss, step, weights = state.best
    if args.keep_best and weights is not None and best_loss < eval_loss:
        state.model.load_state_dict(weights)
        eval_loss, best_step = best_loss, step
        print(f"keeping the weights of step {best_step} (lowest eval loss {eval_loss:.3f})")
    return eval_loss, best_step


def fit_info(
    args: argparse.Namespace,
    state: FitState,
    data: FitData,
    eval_loss: float,
    best_step: int,
    n_params: int,
    vocab: Vocab | None,
) -> dict[str, Any]:
    """``training.json``: what the model was trained on, how, and how far."""
    rows, delex = data.rows, data.delex
    return {
        "corpus": [str(c) for c in args.corpus],
        "prompt_format": (FACTS_FORMAT if data.facts else GROUNDED_FORMAT) if data.grounded else "v2",
        "rows": len(rows),
        "grounded_rows": sum(is_grounded_row(r) for r in rows),
        "grounded_products": len({r["product"].lower() for r in rows if is_grounded_row(r)}),
        "grounded_augment_per_row": args.grounded_augment,
        "knowledge_products": len(data.knowledge_rows),
        "train_rows": len(data.train_rows),
        "delexicalised": delex,
        "augment_per_variant": args.augment if delex else 0,
        "train_examples": len(data.train),
        "eval_examples": len(data.heldout),
        "steps": state.step,
        "saved_step": best_step,
        "planned_steps": args.steps,
        "batch": args.batch,
        "lr": args.lr,
        "seed": args.seed,
        "init": args.init or None,
        "train_seconds": round(state.elapsed),
        "eval_loss": round(eval_loss, 4),
        "parameters": n_params,
        "output_vocab": len(vocab.ids) if vocab else 50257,
        "config": {
            "n_layer": args.n_layer,
            "n_embd": args.n_embd,
            "n_head": args.n_head,
            "n_positions": args.n_positions,
        },
        "history": state.history,
    }
