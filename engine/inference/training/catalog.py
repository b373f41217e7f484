"""The product catalog (``train_data/catalog.tsv``, written for this project; tab-separated ``kind``,
``category``, ``product``, ``benefits`` with benefits separated by ``;``): a few thousand everyday products
and services, each with three concrete benefits. It is the source of the grounded corpus's briefs
(:mod:`.copy_corpus`) and the product knowledge table the house model ships (``knowledge.jsonl``). The
held-out benchmark products (``bench/briefs/heldout.jsonl``) are never in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from engine.brief import Brief

CATALOG = Path("train_data/catalog.tsv")
KINDS = ("goods", "fashion", "food", "services", "apps", "events", "b2b")


@dataclass(frozen=True)
class Product:
    kind: str
    category: str
    product: str
    benefits: tuple[str, ...] = ()


def heldout_products(path: Path = Path("bench/briefs/heldout.jsonl")) -> set[str]:
    """Product lines and product phrases of the held-out benchmark set, lower case."""
    out: set[str] = set()
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line) if line.strip() else {}
        if "product" in row:
            out.add(row["product"].lower())
            out.add(Brief(product=row["product"]).product_phrase.lower())
    return out


def load_catalog(path: Path = CATALOG) -> list[Product]:
    """The catalog, deduplicated, without any held-out benchmark product."""
    held = heldout_products()
    seen: set[str] = set()
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) not in (3, 4) or parts[0] not in KINDS or not parts[2]:
            continue
        key = parts[2].lower()
        if key in seen or key in held or Brief(product=parts[2]).product_phrase.lower() in held:
            continue
        seen.add(key)
        benefits = tuple(b.strip() for b in parts[3].split(";") if b.strip()) if len(parts) == 4 else ()
        out.append(Product(parts[0], parts[1], parts[2], benefits))
    return out
