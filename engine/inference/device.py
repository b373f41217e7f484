"""Pick the torch device and dtype: CUDA when present (``auto``), never hard-coded CPU."""

from __future__ import annotations

import torch

from engine.errors import UserError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(name: str = "auto") -> torch.device:
    name = (name or "auto").strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise UserError(
                f"--device {name} was asked for but no CUDA GPU is available; use --device auto or cpu."
            )
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise UserError(f"Unknown device '{name}'. Use auto, cpu, cuda or cuda:N.")


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is fp32 on CPU (bf16 is opt-in there) and bf16 on CUDA when supported, else fp16."""
    name = (name or "auto").strip().lower()
    if name == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    if name not in DTYPES:
        raise UserError(f"Unknown dtype '{name}'. Use auto, fp32, bf16 or fp16.")
    if name == "fp16" and device.type == "cpu":
        raise UserError("fp16 is not supported on CPU; use --dtype bf16 or fp32.")
    return DTYPES[name]
