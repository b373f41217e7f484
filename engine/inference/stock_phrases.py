"""Stock phrases: the word 4-grams a copy model falls back on whatever the product.

A small model has a few filler lines it writes for anything ("a thoughtful gift for", "so your first try
stays safe"). Across a team's campaigns those read as one template. ``campaignbot train copy stock-phrases``
lets the model write ads for a sample of *catalog* products (never a benchmark brief), counts for what
share of the products each word 4-gram turns up in their ads, and writes those above ``--share`` to
``stock_phrases.txt`` in the model directory; the copywriter ranks down a candidate for each one it
contains (``STOCK_PENALTY``), so a product-specific sentence wins where the model offers one.
"""

from __future__ import annotations

import argparse
import logging
import random
from collections import Counter
from pathlib import Path

from engine.errors import ModelError
from engine.inference.creative.copy_rules import ngrams, words

logger = logging.getLogger(__name__)

STOCK_FILE = "stock_phrases.txt"
_N = 4


def grams(text: str) -> set[tuple[str, ...]]:
    return {g for line in text.splitlines() for g in ngrams(words(line), _N)}


def load(directory: Path) -> frozenset[tuple[str, ...]]:
    path = directory / STOCK_FILE
    if not path.is_file():
        return frozenset()
    return frozenset(
        tuple(line.split())
        for line in path.read_text(encoding="utf-8").splitlines()
        if len(line.split()) == _N
    )


def count(texts: list[str]) -> Counter[tuple[str, ...]]:
    """In how many of ``texts`` each word 4-gram occurs (once per text; newlines split sentences)."""
    c: Counter[tuple[str, ...]] = Counter()
    for t in texts:
        c.update(grams(t))
    return c


def build(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from engine.brief import Brief
    from engine.inference.copywriter import Copywriter
    from engine.inference.creative.copy_rules import copy_text
    from engine.inference.training.catalog import load_catalog

    model_dir = Path(args.model)
    if not (model_dir / "config.json").exists():
        raise ModelError(f"{model_dir} is not a model directory (no config.json)")
    products = load_catalog(Path(args.catalog))  # held-out benchmark products are already left out
    if not products:
        raise ModelError(f"{args.catalog} holds no products")
    sample = random.Random(args.seed).sample(products, min(args.products, len(products)))
    writer = Copywriter.load(str(model_dir), torch.device("cpu"), torch.float32)
    writer.stock = frozenset()  # measure the model without its current list
    rounds: list[str] = []  # all of one product's variants as one text: a phrase counts once per product
    for i, p in enumerate(tqdm(sample, desc="products", unit="product")):
        variants = writer.write(Brief.create(p.product), args.variants, seed=args.seed + i)
        rounds.append("\n".join(copy_text(v) for v in variants))
    counts = count(rounds)
    stock = sorted((g for g, n in counts.items() if n / len(rounds) >= args.share), key=lambda g: -counts[g])
    (model_dir / STOCK_FILE).write_text("".join(" ".join(g) + "\n" for g in stock), encoding="utf-8")
    logger.info(
        "ads for %d catalog products; %d stock phrases (in the ads of >= %.0f%% of products) written to %s; top: %s",
        len(rounds), len(stock), 100 * args.share, model_dir / STOCK_FILE,
        ", ".join(f"'{' '.join(g)}' {counts[g] / len(rounds):.0%}" for g in stock[:5]),
    )  # fmt: skip
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser(
        "stock-phrases",
        help="find the filler 4-grams a copy model writes for any product (ranked down at generation)",
    )
    s.add_argument("--model", default="engine/inference/house/copy-en")
    s.add_argument("--catalog", default="train_data/catalog.tsv")
    s.add_argument("--products", type=int, default=120, help="catalog products to write ads for")
    s.add_argument("--variants", type=int, default=4)
    s.add_argument(
        "--share", type=float, default=0.03, help="a 4-gram in at least this share of ads is stock"
    )
    s.add_argument("--seed", type=int, default=7)
