"""Teacher throughput: SmolLM2-135M-Instruct (the copy corpus teacher) by batch size, dtype and runtime.

    .venv/bin/python bench/teacher_speed.py                          # raw tokens/s, torch fp32 + bf16
    .venv/bin/python bench/teacher_speed.py --ads 64 --batches 32    # + accepted corpus ads per minute
    .venv/bin/python bench/teacher_speed.py --llama-cpp              # + llama.cpp (llama-cpp-python), if installed

Raw mode times a prefill of ``--prompt-tokens`` tokens per row (a corpus prompt with its worked example
is about 250) and ``--decode`` sampled tokens after it, per batch size, model load excluded. Ads mode
runs the corpus pipeline itself (engine/inference/training/copy_corpus.py: prompt, field labels, acceptance
filter) on the first ``--ads`` catalog briefs. Prints a table and writes bench/results/teacher_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine.inference.training import copy_corpus as cc  # noqa: E402
from engine.inference.training.catalog import load_catalog  # noqa: E402
from engine.inference.training.teacher import Teacher, find_teacher  # noqa: E402


def raw_speed(teacher: Teacher, batch: int, prompt_tokens: int, decode: int) -> dict[str, Any]:
    ids = torch.randint(100, 20000, (batch, prompt_tokens))
    with torch.inference_mode():
        t0 = time.perf_counter()
        out = teacher.model(input_ids=ids, use_cache=True)
        t1 = time.perf_counter()
        past = out.past_key_values
        nxt = out.logits[:, -1:].argmax(-1)
        for _ in range(decode):
            out = teacher.model(input_ids=nxt, past_key_values=past, use_cache=True)
            past, nxt = out.past_key_values, out.logits[:, -1:].argmax(-1)
        t2 = time.perf_counter()
    return {
        "batch": batch,
        "prefill_tok_s": round(batch * prompt_tokens / (t1 - t0), 1),
        "decode_tok_s": round(batch * decode / (t2 - t1), 1),
        # one ad = one prefill of the prompt + ~70 sampled tokens; rows/min before the acceptance filter
        "est_answers_per_min": round(60 * batch / ((t1 - t0) + (t2 - t1) / decode * 70), 1),
    }


def llama_cpp_speed(prompt_tokens: int, decode: int, threads: int) -> dict[str, Any]:
    from llama_cpp import Llama  # type: ignore[import-not-found]

    directory, gguf = find_teacher()
    llm = Llama(model_path=str(directory / gguf), n_ctx=prompt_tokens + decode + 8, n_threads=threads,
                n_batch=512, verbose=False, seed=1)  # fmt: skip
    tokens = [random.Random(0).randrange(100, 20000) for _ in range(prompt_tokens)]
    t0 = time.perf_counter()
    llm.eval(tokens)
    t1 = time.perf_counter()
    for _ in range(decode):
        tok = llm.sample(temp=0.7, top_p=0.9)
        llm.eval([tok])
    t2 = time.perf_counter()
    return {
        "batch": 1,
        "prefill_tok_s": round(prompt_tokens / (t1 - t0), 1),
        "decode_tok_s": round(decode / (t2 - t1), 1),
        "est_answers_per_min": round(60 / ((t1 - t0) + (t2 - t1) / decode * 70), 1),
    }


def ads_speed(teacher: Teacher, n: int, batch: int, seed: int) -> dict[str, Any]:
    briefs = cc.make_ad_briefs(load_catalog(), n, seed)
    rng = random.Random(seed)
    rejected: Counter[str] = Counter()
    t0 = time.perf_counter()
    kept = sum(
        len(cc.teach_ads(teacher, briefs[i : i + batch], rng, seed, rejected)) for i in range(0, n, batch)
    )
    dt = time.perf_counter() - t0
    return {
        "batch": batch,
        "briefs": n,
        "kept": kept,
        "seconds": round(dt, 1),
        "briefs_per_min": round(n / dt * 60, 1),
        "kept_per_min": round(kept / dt * 60, 1),
        "rejections": dict(rejected.most_common(8)),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32, 64])
    ap.add_argument("--dtypes", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    ap.add_argument("--prompt-tokens", type=int, default=250)
    ap.add_argument("--decode", type=int, default=24)
    ap.add_argument("--ads", type=int, default=0, help="also run the corpus pipeline on this many briefs")
    ap.add_argument("--llama-cpp", action="store_true", help="also time llama-cpp-python on the same GGUF")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=77)
    ap.add_argument("--out", default=str(ROOT / "bench/results/teacher_speed.json"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results: list[dict[str, Any]] = []
    for dtype_name in args.dtypes:
        teacher = Teacher(torch.bfloat16 if dtype_name == "bf16" else torch.float32)
        raw_speed(teacher, 1, 16, 2)  # warm-up
        for bs in args.batches:
            row = {
                "runtime": "torch",
                "dtype": dtype_name,
                **raw_speed(teacher, bs, args.prompt_tokens, args.decode),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
        if args.ads and dtype_name == "fp32":
            for bs in args.batches:
                row = {
                    "runtime": "torch",
                    "dtype": dtype_name,
                    "mode": "ads",
                    **ads_speed(teacher, args.ads, bs, args.seed),
                }
                results.append(row)
                print(json.dumps(row), flush=True)
        del teacher
    if args.llama_cpp:
        row = {
            "runtime": "llama.cpp",
            "dtype": "Q4_1",
            **llama_cpp_speed(args.prompt_tokens, args.decode, args.threads),
        }
        results.append(row)
        print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"threads": args.threads, "machine": platform.machine(), "torch": torch.__version__,
            "cpu_flags_bf16": "avx512_bf16" in Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else None,
            "prompt_tokens": args.prompt_tokens, "decode": args.decode}  # fmt: skip
    out.write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
