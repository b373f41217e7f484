"""The visual model on a tiny real GAN (see tests/fixtures_visual.py) and the shipped house checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import ModelError
from engine.inference.creative.concepts import CONCEPTS
from engine.inference.creative.types import VisualRecord
from engine.inference.gan import GANConfig, Generator, load_generator_checkpoint, save_generator
from engine.inference.training.visual import main
from engine.inference.visual import HeroArt, VisualModel
from engine.settings import HOUSE_VISUAL_MODEL
from tests.fixtures_visual import TINY_CONCEPTS, TINY_TRAIN_ARGS

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def model(tiny_visual_checkpoint: Path) -> VisualModel:
    return VisualModel.load(tiny_visual_checkpoint, CPU)


def pixels(art: HeroArt) -> np.ndarray:
    return np.asarray(art.image, dtype=np.float32)


def test_loads_with_metadata(model: VisualModel) -> None:
    assert model.concepts == TINY_CONCEPTS
    assert model.name == "tiny-visual" and model.version == "test"


def test_generate_shapes_and_records(model: VisualModel) -> None:
    arts = model.generate(["fruit", "drinks", "time_watch"], [1, 2, 3])
    assert len(arts) == 3
    for art, concept, seed in zip(arts, ["fruit", "drinks", "time_watch"], [1, 2, 3], strict=True):
        assert art.image.mode == "RGBA" and art.image.size == (32, 32)
        assert art.record.concept == concept and art.record.seed == seed
        assert len(art.record.latent) == 16
        assert art.record.parent_latent_distance is None


def test_same_seed_same_pixels(model: VisualModel) -> None:
    a = model.generate(["fruit"], [42])[0]
    # alone or in a batch with others, the same (concept, seed) gives the same image
    b = model.generate(["drinks", "fruit", "time_watch"], [7, 42, 8])[1]
    np.testing.assert_array_equal(pixels(a), pixels(b))
    assert a.record.latent == b.record.latent


def test_different_seeds_differ(model: VisualModel) -> None:
    arts = model.generate(["fruit"] * 4, [1, 2, 3, 4])
    for i in range(4):
        for j in range(i + 1, 4):
            assert np.abs(pixels(arts[i]) - pixels(arts[j])).mean() > 0.5


def test_concepts_change_the_image(model: VisualModel) -> None:
    a, b = model.generate(["fruit", "drinks"], [5, 5])
    assert a.record.latent == b.record.latent
    assert np.abs(pixels(a) - pixels(b)).mean() > 0.1


def test_render_reproduces_generate_and_survives_json(model: VisualModel) -> None:
    art = model.generate(["time_watch"], [123])[0]
    record = VisualRecord.from_dict(json.loads(json.dumps(art.record.to_dict())))
    again = model.render(record)
    np.testing.assert_array_equal(pixels(art), pixels(again))
    # a record without a latent falls back to its seed
    np.testing.assert_array_equal(pixels(art), pixels(model.render(VisualRecord("time_watch", 123))))


def test_refine_stays_near_parent(model: VisualModel) -> None:
    parents = model.generate(["fruit", "drinks", "time_watch", "fruit"], [11, 12, 13, 14])
    seeds = [100, 101, 102, 103, 104, 105]
    lat_child, lat_fresh, pix_child, pix_fresh, lat_strong = [], [], [], [], []
    for parent in parents:
        p_z = np.array(parent.record.latent)
        children = model.refine(parent.record, seeds, "subtle")
        strong = model.refine(parent.record, seeds, "strong")
        fresh = model.generate([parent.record.concept] * len(seeds), [s + 1000 for s in seeds])
        for c in children:
            assert c.record.concept == parent.record.concept
            d = float(np.linalg.norm(np.array(c.record.latent) - p_z))
            assert c.record.parent_latent_distance == pytest.approx(d, rel=1e-4)
            lat_child.append(d)
            pix_child.append(np.abs(pixels(c) - pixels(parent)).mean())
        lat_strong += [s.record.parent_latent_distance or 0.0 for s in strong]
        for f in fresh:
            lat_fresh.append(float(np.linalg.norm(np.array(f.record.latent) - p_z)))
            pix_fresh.append(np.abs(pixels(f) - pixels(parent)).mean())
    assert np.mean(lat_child) < np.mean(lat_strong) < np.mean(lat_fresh)
    assert np.mean(pix_child) < np.mean(pix_fresh)


def test_refine_is_reproducible_and_renderable(model: VisualModel) -> None:
    parent = model.generate(["drinks"], [9])[0].record
    a = model.refine(parent, [1, 2], "strong")
    b = model.refine(parent, [1, 2], "strong")
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(pixels(x), pixels(y))
        np.testing.assert_array_equal(pixels(x), pixels(model.render(x.record)))


def test_refine_rejects_unknown_strength(model: VisualModel) -> None:
    with pytest.raises(ValueError):
        model.refine(VisualRecord("fruit", 1), [1], "wild")


def test_unknown_concept_is_a_model_error(model: VisualModel) -> None:
    with pytest.raises(ModelError, match="does not know the concept"):
        model.generate(["dragons"], [1])


def test_concept_for_is_restricted_to_the_model(model: VisualModel) -> None:
    assert model.concept_for("organic coffee subscription") == "drinks"
    assert model.concept_for("smart watch for runners") == "time_watch"
    assert model.concept_for("running shoes") in model.concepts


def test_bf16_matches_fp32_roughly(tiny_visual_checkpoint: Path, model: VisualModel) -> None:
    half = VisualModel.load(tiny_visual_checkpoint, CPU, torch.bfloat16)
    a = model.generate(["fruit", "drinks"], [3, 4])
    b = half.generate(["fruit", "drinks"], [3, 4])
    for x, y in zip(a, b, strict=True):
        assert x.record.latent == y.record.latent
        assert np.abs(pixels(x) - pixels(y)).mean() < 12.0


def test_missing_file_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        VisualModel.load(tmp_path / "nope.pt", CPU)


def test_corrupt_file_is_a_model_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ModelError, match="could not be read"):
        VisualModel.load(bad, CPU)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ModelError, match="could not be read"):
        VisualModel.load(other, CPU)


def test_fp16_checkpoint_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    g = Generator(GANConfig(n_classes=2, z_dim=8, g_ch=4, d_ch=4, img_size=16)).eval()
    path = save_generator(tmp_path / "g.pt", g, ["fruit", "drinks"], name="n", version="v", half=True)
    ckpt = load_generator_checkpoint(path)
    assert ckpt.concepts == ["fruit", "drinks"] and ckpt.config.z_dim == 8
    assert all(v.dtype == torch.float16 for k, v in ckpt.state_dict.items() if k.endswith("weight"))
    vm = VisualModel.load(path, CPU)
    assert vm.generate(["drinks"], [0])[0].image.size == (16, 16)


def test_training_resumes(tiny_emoji_dir: Path, tmp_path: Path) -> None:
    base = [
        "--emoji-dir",
        str(tiny_emoji_dir),
        "--work-dir",
        str(tmp_path),
        "--concepts",
        "fruit,drinks",
        *TINY_TRAIN_ARGS,
    ]
    assert main([*base, "--steps", "3"]) == 0
    state = torch.load(tmp_path / "train_state.pt", weights_only=False)
    assert state["step"] == 3 and "d" in state and "opt_d" in state
    out = tmp_path / "export" / "generator.pt"
    assert main([*base, "--steps", "5", "--resume", "--out", str(out)]) == 0
    state = torch.load(tmp_path / "train_state.pt", weights_only=False)
    assert state["step"] == 5
    assert load_generator_checkpoint(out).meta["steps"] == 5
    assert (out.parent / "samples.png").is_file() and (out.parent / "concepts.json").is_file()
    assert list((tmp_path / "samples").glob("step*.png"))


# ----------------------------------------------------------------------------- the shipped model


def test_house_checkpoint_is_small_and_loads() -> None:
    path = Path(HOUSE_VISUAL_MODEL)
    assert path.is_file(), f"{path} is missing"
    assert path.stat().st_size <= 40 * 1024 * 1024
    vm = VisualModel.load(path, CPU)
    assert vm.concepts == list(CONCEPTS)
    arts = vm.generate(vm.concepts, list(range(len(vm.concepts))))
    assert all(a.image.size == (64, 64) and a.image.mode == "RGBA" for a in arts)
    # hero art, not a blank: some pixels are opaque and some transparent in every image
    for a in arts:
        alpha = np.asarray(a.image)[..., 3]
        assert (alpha > 200).mean() > 0.05 and (alpha < 50).mean() > 0.05, a.record.concept
    assert vm.concept_for("smart watch for runners") == "time_watch"


def test_house_concepts_json_matches_the_table() -> None:
    table = json.loads((Path(HOUSE_VISUAL_MODEL).parent / "concepts.json").read_text())
    assert [row["name"] for row in table] == list(CONCEPTS)
    assert all(row["images"] >= 15 for row in table)


def test_emoji_sources_render_every_set_asked_for(tiny_emoji_dir: Path) -> None:
    from engine.errors import ModelError
    from engine.inference.emoji_sources import parse_sources, renderings

    got = list(renderings(tiny_emoji_dir, ["fruit", "drinks"], ("google", "noto")))
    assert {r.source for r in got} == {"google", "noto"} and {r.label for r in got} == {0, 1}
    assert all(r.image.mode == "RGBA" and r.image.getchannel("A").getbbox() for r in got)
    # all renderings of one emoji share its group, so a held-out split keeps them together
    apple = [r for r in got if r.group == "1F34E"]
    assert len(apple) == 2 and {r.source for r in apple} == {"google", "noto"}
    with pytest.raises(ModelError, match="--fetch-only"):
        list(renderings(tiny_emoji_dir, ["fruit"], ("twitter",)))
    with pytest.raises(ValueError, match="choose from"):
        parse_sources("google,apple")
    assert parse_sources("google, twitter") == ("google", "twitter")
