"""Hero shape checks (engine/inference/compose/hero.py) and choosing the best of several draws (VisualModel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engine.inference.compose import hero
from engine.inference.gan import DISCRIMINATOR_FILE, GANConfig, load_discriminator
from engine.inference.visual import VisualModel, candidate_seeds

CPU = torch.device("cpu")


def disc(size: int, cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    return ((xx - cx) ** 2 + (yy - cy) ** 2 <= r * r).astype(np.uint8) * 255


def test_components_are_eight_connected_and_counted() -> None:
    m = np.zeros((10, 10), bool)
    m[1:3, 1:3] = True  # a block
    m[3, 3] = True  # touches the block at a corner only: same piece
    m[7:9, 7:9] = True  # a separate block
    labels = hero.label_components(m)
    assert labels[~m].max() == 0
    assert len(np.unique(labels[m])) == 2
    assert labels[1, 1] == labels[3, 3] != labels[8, 8]


def test_components_follow_a_long_snake() -> None:
    m = np.zeros((64, 64), bool)
    for r in range(0, 64, 4):  # a serpentine path: one piece, over 1,000 pixels long
        m[r, :] = True
        if r + 4 < 64:
            m[r : r + 4, 63 if (r // 4) % 2 == 0 else 0] = True
    labels = hero.label_components(m)
    assert len(np.unique(labels[m])) == 1


def test_clean_alpha_drops_fragments_keeps_real_pieces() -> None:
    a = disc(64, 30, 34, 18)
    a[2:4, 10:40] = 255  # the thin stray line a GAN leaves above the object
    a[49:63, 51:63] = 255  # a second real piece (a saucer): 16% of the main one's area
    a[60, 2] = 10  # faint speckle
    out = hero.clean_alpha(a)
    assert out[2:4, 10:40].max() == 0
    assert out[55, 56] == 255 and out[34, 30] == 255
    assert out[60, 2] == 0


def test_feather_border_fades_only_the_edge() -> None:
    a = np.full((64, 64), 255, np.uint8)
    out = hero.feather_border(a, 4)
    assert out[0].max() < 64 and out[:, 0].max() < 64
    assert out[32, 32] == 255 and out[10, 10] == 255


def test_shape_score_prefers_one_centred_object() -> None:
    good = hero.measure(disc(64, 32, 32, 18))
    clipped = hero.measure(disc(64, 8, 32, 22))  # runs into the left border
    broken = disc(64, 32, 32, 14)
    broken[2:6, 2:40] = 255
    assert good.pieces == 1 and good.border == 0.0 and good.main_share == pytest.approx(1.0)
    assert clipped.border > 0.05
    assert good.score > clipped.score
    assert good.score > hero.measure(broken).score
    assert hero.measure(np.zeros((64, 64), np.uint8)).score < good.score


def test_tidy_keeps_size_and_colour() -> None:
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = disc(64, 32, 32, 20)
    rgba[1:3, 5:30, 3] = 255
    img = hero.tidy(Image.fromarray(rgba, "RGBA"))
    assert img.size == (64, 64)
    out = np.asarray(img)
    assert out[1:3, 5:30, 3].max() == 0 and out[32, 32, 3] == 255 and out[32, 32, 0] == 200


def test_candidate_seeds_are_stable_and_distinct() -> None:
    a = candidate_seeds(7, 8)
    assert a == candidate_seeds(7, 8) and a[0] == 7 and len(set(a)) == 8
    assert not set(a) & set(candidate_seeds(8, 8))
    assert all(0 <= s < 2**63 for s in a)


def test_training_exports_the_discriminator(tiny_visual_checkpoint: Path) -> None:
    d_path = tiny_visual_checkpoint.parent / DISCRIMINATOR_FILE
    assert d_path.is_file()
    vm = VisualModel.load(tiny_visual_checkpoint, CPU)
    assert vm.discriminator is not None
    d = load_discriminator(d_path, vm.generator.config, vm.concepts)
    assert d.config.n_classes == len(vm.concepts)
    with pytest.raises(ValueError):
        load_discriminator(d_path, GANConfig(n_classes=len(vm.concepts), img_size=64), vm.concepts)


def test_best_of_k_is_reproducible_and_scored_best(tiny_visual_checkpoint: Path) -> None:
    k = 6
    vm = VisualModel.load(tiny_visual_checkpoint, CPU, candidates=k)
    one = VisualModel.load(tiny_visual_checkpoint, CPU)  # one draw: the candidates themselves
    seeds = [21, 22, 23]
    arts = vm.generate(["fruit", "drinks", "fruit"], seeds)
    again = vm.generate(["fruit", "drinks", "fruit"], seeds)
    for a, b, seed, concept in zip(arts, again, seeds, ["fruit", "drinks", "fruit"], strict=True):
        assert np.array_equal(np.asarray(a.image), np.asarray(b.image))
        pool = candidate_seeds(seed, k)
        assert a.record.seed in pool
        # the kept image is the highest-scored of its pool, scored the same way as a batch
        drawn = one.generate([concept] * k, pool)
        _, d_scores = one._forward([concept] * k, torch.tensor([d.record.latent for d in drawn]))
        scores = one.score([d.image for d in drawn], d_scores)
        assert a.record.seed == pool[int(np.argmax(scores))]
        # and the record redraws it exactly, with or without candidates
        assert np.array_equal(np.asarray(vm.render(a.record).image), np.asarray(a.image))
        assert np.array_equal(np.asarray(one.render(a.record).image), np.asarray(a.image))
    kids = vm.refine(arts[0].record, [5, 6], "subtle")
    assert all(c.record.parent_latent_distance and c.record.parent_latent_distance > 0 for c in kids)
    redrawn = np.asarray(vm.render(kids[0].record).image, np.int16)
    assert np.abs(redrawn - np.asarray(kids[0].image, np.int16)).max() <= 1  # batch of 12 vs 1: rounding


def test_training_continues_from_a_shipped_generator_and_discriminator(
    tiny_visual_checkpoint: Path, tiny_emoji_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from engine.inference.gan import load_generator_checkpoint
    from engine.inference.training.visual import main
    from tests.fixtures_visual import TINY_CONCEPTS, TINY_TRAIN_ARGS

    start = int(load_generator_checkpoint(tiny_visual_checkpoint).meta["steps"])
    out = tmp_path / "next" / "generator.pt"
    args = [
        "--emoji-dir",
        str(tiny_emoji_dir),
        "--work-dir",
        str(tmp_path / "w"),
        "--concepts",
        ",".join(TINY_CONCEPTS),
    ]
    args += TINY_TRAIN_ARGS
    with caplog.at_level(logging.INFO, logger="engine.inference.training.visual"):
        rc = main(
            [
                *args,
                "--init-generator",
                str(tiny_visual_checkpoint),
                "--steps",
                str(start + 2),
                "--out",
                str(out),
            ]
        )
    assert rc == 0
    assert any("generator and discriminator from" in r.getMessage() for r in caplog.records)
    assert load_generator_checkpoint(out).meta["steps"] == start + 2
    assert (out.parent / DISCRIMINATOR_FILE).is_file()
