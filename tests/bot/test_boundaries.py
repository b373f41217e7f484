"""The bot process stays small: importing bot, engine and the CLI loads no torch/transformers."""

import subprocess
import sys

HEAVY = ("torch", "torchvision", "transformers")


def test_bot_and_engine_import_without_torch() -> None:
    code = (
        "import sys, bot, engine, bot.cli, engine.brief, engine.neutralize, engine.settings, engine.steering;"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing bot/engine loaded {out.stdout.strip()}"


def test_inference_does_import_torch() -> None:
    # The check above must be able to fail: the inference package really loads torch.
    code = "import sys, engine.inference.device; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
