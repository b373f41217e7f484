"""The command line as a newcomer meets it: friendly one-line errors, and real creatives from tiny real models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["generate", "watch", "--variants", "0"], "--variants must be 1-8"),
        (["generate", "watch", "--variants", "9"], "--variants must be 1-8"),
        (["generate", "watch", "--tone", "sassy"], "Tones: playful"),
        (["generate", "watch", "--size", "squar"], "Did you mean 'square'"),
        (["generate", ""], "brief is empty"),
        (["generate", "x" * 10_000], "keep it under"),
        (["generate", "watch", "--variants", "four"], "invalid int value"),
        (["generate", "watch", "--tones", "bold"], "Did you mean '--tone'"),
        (["generate", "--refine", "2"], "--refine needs --out"),
        (["generate"], "Give a brief"),
    ],
)
def test_bad_flags_give_one_line_and_exit_2(args: list[str], needle: str) -> None:
    r = run_cli(*args)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_refine_on_empty_folder_is_a_user_error(tmp_path: Path) -> None:
    r = run_cli("generate", "--out", str(tmp_path), "--refine", "1")
    assert r.returncode == 2 and "holds no rounds" in r.stderr


@pytest.fixture
def tiny_models(
    monkeypatch: pytest.MonkeyPatch, tiny_copy_model_dir: Path, tiny_visual_checkpoint: Path
) -> None:
    monkeypatch.setenv("CAMPAIGNBOT_COPY_MODEL", str(tiny_copy_model_dir))
    monkeypatch.setenv("CAMPAIGNBOT_VISUAL_MODEL", str(tiny_visual_checkpoint))
    monkeypatch.setenv("CAMPAIGNBOT_DEVICE", "auto")


def _generate(out: Path, *extra: str) -> int:
    return main(
        [
            "generate",
            "smart watch for runners",
            "--tone",
            "playful",
            "--variants",
            "3",
            "--seed",
            "11",
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ]
    )


def test_generate_writes_creatives_and_is_deterministic(tiny_models: None, tmp_path: Path, capsys) -> None:
    assert _generate(tmp_path / "a") == 0
    printed = capsys.readouterr().out
    r1 = tmp_path / "a" / "round-1"
    assert str(r1) in printed
    names = sorted(p.name for p in r1.iterdir())
    assert names == [
        "contact-sheet.png",
        "copy.json",
        "copy.md",
        "variant-1.png",
        "variant-2.png",
        "variant-3.png",
    ]
    data = json.loads((r1 / "copy.json").read_text())
    assert len(data["variants"]) == 3
    assert data["brief"]["tone"] == "playful"
    for v in data["variants"]:
        assert v["copy"]["headline"] and v["copy"]["cta"]
        assert len(v["visual"]["latent"]) > 0
    from PIL import Image

    with Image.open(r1 / "variant-1.png") as im:
        assert im.size == (1080, 1080)

    assert _generate(tmp_path / "b") == 0
    d2 = json.loads((tmp_path / "b" / "round-1" / "copy.json").read_text())
    assert [v["copy"] for v in d2["variants"]] == [v["copy"] for v in data["variants"]]
    assert (tmp_path / "b" / "round-1" / "variant-2.png").read_bytes() == (r1 / "variant-2.png").read_bytes()


def test_refine_makes_next_round_with_lineage(tiny_models: None, tmp_path: Path) -> None:
    assert _generate(tmp_path) == 0
    assert (
        main(["generate", "--out", str(tmp_path), "--refine", "2", "--steer", "shorter", "--no-progress"])
        == 0
    )
    r2 = json.loads((tmp_path / "round-2" / "copy.json").read_text())
    assert r2["parent_round"] == 1 and r2["parent_variant"] == 2
    assert r2["brief"]["length"] == "short"
    assert all(v["parent"] == 2 for v in r2["variants"])
    assert all(v["visual"]["parent_latent_distance"] is not None for v in r2["variants"])
    # refine of a variant that does not exist is a friendly error
    assert main(["generate", "--out", str(tmp_path), "--refine", "9", "--no-progress"]) == 2


def test_landscape_and_story_sizes(tiny_models: None, tmp_path: Path) -> None:
    from PIL import Image

    for size, dims in (("landscape", (1200, 628)), ("story", (1080, 1920))):
        assert _generate(tmp_path / size, "--size", size) == 0
        with Image.open(tmp_path / size / "round-1" / "variant-1.png") as im:
            assert im.size == dims


def test_the_worker_takes_its_own_options(capsys: pytest.CaptureFixture[str]) -> None:
    """`campaignbot worker --name w1 ...` reaches the worker's parser (argparse's REMAINDER alone would hand
    a leading --option to the main parser, which refuses it)."""
    with pytest.raises(SystemExit) as exc:
        main(["worker", "--name", "w1", "--no-such-option"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "campaignbot worker: error: unrecognized arguments: --no-such-option" in err
