"""Copy-model decoding throughput against this CPU's measured matmul bound, in fp32 and bf16.

    .venv/bin/python bench/copy_throughput.py [--threads 2] [--rows 24,48,96,192] [--steps 48]

1. The bound: the best of ``--repeats`` timed ``torch.mm`` of two 2048x2048 matrices per dtype, with the
   same thread count (a large square matmul is the most this CPU does per second in that dtype).
2. Decoding: the copywriter's own sampling loop (``Copywriter.sample_many``, the worker's path) on the
   house model, one brief's grounded prompts repeated to ``rows`` rows, ``--steps`` new tokens per row
   (every row decodes all of them: no row may end early, so tokens = rows x steps).
3. FLOPs per generated token: 2 x the weights a token passes through (the transformer blocks and the
   output layer over the columns actually computed: the tokens some row may produce) plus attention over
   the cached context; the share of the bound is tokens/s x FLOPs/token / bound. The time includes the
   first step over the prompts (run once per distinct prompt, as the worker does), whose FLOPs are not
   counted: the share is of generated tokens only.
4. A dtype whose matmul bound is under a tenth of fp32's (bf16 on a CPU without avx512_bf16 or AMX) is
   reported as emulated and not decoded. The CPU's flags are recorded with the results.

Writes bench/results/copy_throughput.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import torch

from engine.brief import Brief
from engine.inference.copywriter import Copywriter
from engine.inference.copywriter.decoding import Sampling
from engine.settings import HOUSE_COPY_MODEL

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}
EMULATED = 0.1  # a dtype whose matmul bound is under this share of fp32's has no hardware support here


def matmul_bound(dtype: torch.dtype, repeats: int, n: int = 2048) -> float:
    """FLOP/s of the best of ``repeats`` n x n x n matmuls."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def cpu_flags() -> list[str]:
    """The vector and matrix extensions that decide bf16 speed on this CPU (from /proc/cpuinfo)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    have = next((line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), [])
    return [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in have]


def flops_per_token(cw: Copywriter, columns: int, context: int) -> float:
    """2 x (block weights + hidden x output columns) + attention (QK and AV over ``context`` positions)."""
    cfg = cw.model.config
    d, layers = int(cfg.n_embd), int(cfg.n_layer)
    inner = int(getattr(cfg, "n_inner", None) or 4 * d)
    block = 4 * d * d + 2 * d * inner  # qkv + out projection, MLP up + down
    return 2.0 * (layers * block + d * columns) + layers * 4.0 * d * context


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--rows", default="24,48,96,192")
    ap.add_argument("--steps", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("bench/results/copy_throughput.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows_list = [int(r) for r in args.rows.split(",")]
    brief = Brief.create("smart watch for runners")
    result: dict[str, Any] = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": args.threads,
            "torch": torch.__version__,
            "flags": cpu_flags(),
        },
        "steps": args.steps,
        "dtypes": {},
    }
    fp32_bound = 0.0
    for name, dtype in DTYPES.items():
        bound = matmul_bound(dtype, args.repeats)
        fp32_bound = fp32_bound or bound
        if bound < EMULATED * fp32_bound:
            # no bf16 instructions (no avx512_bf16 / AMX): the dtype is emulated, decoding would take
            # many minutes and say only that (CAMPAIGNBOT_DTYPE=auto keeps fp32 on a CPU)
            note = f"{bound / 1e9:.1f} GFLOP/s: emulated on this CPU, decoding not measured"
            result["dtypes"][name] = {"matmul_bound_gflops": round(bound / 1e9, 1), "skipped": note}
            print(f"{name}: matmul {note}")
            continue
        cw = Copywriter.load(str(HOUSE_COPY_MODEL), torch.device("cpu"), dtype)
        eos = cw.tokenizer.eos_token_id
        # no row may stop early: every row decodes ``steps`` tokens
        cw.model.generation_config.suppress_tokens = [
            *(cw.model.generation_config.suppress_tokens or []),
            eos,
        ]
        cw._logit_bias = None
        prompts = cw.prompts(brief, None, 4, seed=1)
        per: list[dict[str, Any]] = []
        for rows in rows_list:
            ps = [prompts[i % len(prompts)] for i in range(rows)]
            cw.sample_many([Sampling(ps, 8, 0)])  # warm
            best = float("inf")
            for r in range(args.repeats):
                t = time.perf_counter()
                cw.sample_many([Sampling(ps, args.steps, r)])
                best = min(best, time.perf_counter() - t)
            encoded = [cw.tokenizer(p)["input_ids"] for p in ps]
            columns = int(torch.isfinite(cw._bias(encoded)).any(0).sum())
            context = max(len(e) for e in encoded) + args.steps // 2
            tok_s = rows * args.steps / best
            flop = flops_per_token(cw, columns, context)
            per.append(
                {
                    "rows": rows,
                    "seconds": round(best, 3),
                    "tokens_per_s": round(tok_s, 1),
                    "output_columns": columns,
                    "gflop_per_token": round(flop / 1e9, 4),
                    "achieved_gflops": round(tok_s * flop / 1e9, 2),
                    "share_of_bound": round(tok_s * flop / bound, 4),
                }
            )
            print(
                f"{name} rows {rows:4d}: {tok_s:8.0f} tok/s, {tok_s * flop / 1e9:6.1f} GFLOP/s "
                f"= {100 * tok_s * flop / bound:5.1f}% of {bound / 1e9:.0f} GFLOP/s"
            )
        best_row = max(per, key=lambda p: p["tokens_per_s"])
        result["dtypes"][name] = {"matmul_bound_gflops": round(bound / 1e9, 1), "rows": per, "best": best_row}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
