"""Session fixtures for the copy side: a tiny GPT-2 trained by the project's own ``train copy fit``.

``tiny_copy_model_dir`` takes slices of the committed corpora (``train_data/copy_corpus.jsonl`` and the
grounded ``copy_corpus_v3.jsonl``) and the knowledge rows of the slice's products, copies the real
GPT-2 BPE files from the house model directory, and trains a GPT-2 with a 32-wide, 2-layer body for
150 steps on CPU (a few seconds: the softmax is trained over the slice's own output vocabulary, see
``copy_model.Vocab``); the result reads the grounded prompt and ships a small knowledge table. A
quarter of the slice's bodies start with a Slack/Discord mass mention, so the tiny model really emits
markup and the tests can check that the copywriter defuses it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engine.settings import HOUSE_COPY_MODEL

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "train_data" / "copy_corpus.jsonl"
GROUNDED = REPO / "train_data" / "copy_corpus_v3.jsonl"
CATALOG = REPO / "train_data" / "catalog.tsv"
SLICE_ROWS = 80
GROUNDED_ROWS = 240
MARKUP = ("<!channel>", "@everyone", "<@U024BE7LH>", "@here")


def corpus_slice(n: int = SLICE_ROWS, path: Path = CORPUS) -> list[dict]:
    rows = []
    with path.open() as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
            if len(rows) >= n:
                break
    return rows


@pytest.fixture(scope="session")
def tiny_copy_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from engine.inference.training import copy_cli as train_copy

    root = tmp_path_factory.mktemp("tiny_copy")
    tok_dir = root / "tokenizer"
    tok_dir.mkdir()
    for name in ("vocab.json", "merges.txt"):
        shutil.copy(HOUSE_COPY_MODEL / name, tok_dir / name)
    rows = corpus_slice()
    grounded = corpus_slice(GROUNDED_ROWS, GROUNDED)
    assert len(rows) >= 50 and len(grounded) >= 200, f"{CORPUS} and {GROUNDED} should hold enough rows"
    for i, row in enumerate(rows):
        if i % 4 == 0:
            row["a"]["body"] = f"{MARKUP[(i // 4) % len(MARKUP)]} {row['a']['body']}"
    for i, row in enumerate(grounded):
        if i % 4 == 0:
            row["body"] = f"{MARKUP[(i // 4) % len(MARKUP)]} {row['body']}"
    corpus = root / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in rows + grounded))
    # the knowledge table of the slice's products, not all 3,000
    wanted = {r["product"].lower() for r in grounded}
    catalog = root / "catalog.tsv"
    catalog.write_text(
        "".join(
            line + "\n" for line in CATALOG.read_text().splitlines() if line.split("\t")[2].lower() in wanted
        )
    )
    out = root / "model"
    rc = train_copy.main(
        [
            "fit",
            "--corpus", str(corpus),
            "--catalog", str(catalog),
            "--tokenizer", str(tok_dir),
            "--out", str(out),
            "--work-dir", str(root / "work"),
            "--steps", "150",
            "--batch", "8",
            "--lr", "1e-2",
            "--dropout", "0",
            "--warmup", "10",
            "--n-layer", "2",
            "--n-embd", "32",
            "--n-head", "2",
            "--n-positions", "192",
            "--heldout", "0.05",
            "--eval-every", "1000",
            "--checkpoint-every", "1000",
            "--seed", "7",
        ]
    )  # fmt: skip
    assert rc == 0
    return out
