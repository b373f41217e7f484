"""The load benchmark (bench/load.py, issue 16): its statistics and its timing collection from the Slack
wire fake without any process (fast), the article's worker on tiny real models, and one ``--quick`` run
end to end against the real service and worker processes with tiny real models (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
sys.path.insert(0, str(BENCH))

import load  # noqa: E402

from engine.brief import Brief  # noqa: E402
from engine.commands import NewCampaign, parse_command  # noqa: E402


def test_percentiles_spreads_and_fits() -> None:
    assert load.percentile([], 50) is None
    assert load.percentile([3.0], 99) == 3.0
    xs = [float(i) for i in range(1, 101)]  # 1..100
    assert load.percentile(xs, 50) == pytest.approx(50.5)
    assert load.percentile(xs, 99) == pytest.approx(99.01)
    assert load.percentile(xs, 100) == 100.0
    s = load.spread([0.1, 0.2, None, 0.3], scale=1000.0, digits=1)
    assert s == {"n": 3, "median": 200.0, "p90": 280.0, "p99": 298.0, "max": 300.0}
    assert load.spread([])["median"] is None
    assert load.linear_fit([1, 2, 4, 8], [3, 5, 9, 17]) == {"slope": 2.0, "intercept": 1.0}
    assert load.linear_fit([4], [9]) is None and load.linear_fit([2, 2], [1, 3]) is None


def test_every_english_brief_makes_a_valid_campaign_command() -> None:
    briefs = load.load_briefs()
    assert len(briefs) >= 40 and all(b.get("lang", "en") == "en" for b in briefs)
    for i, b in enumerate(briefs):
        cmd = parse_command(load.brief_command(b, 4, seed=i))
        assert isinstance(cmd, NewCampaign) and cmd.variants == 4 and cmd.seed == i
        assert cmd.brief.product == Brief.create(b["product"]).product and cmd.brief.tone == b["tone"]
        assert cmd.brief.audience == b["audience"] and cmd.brief.length == b["length"]


def _post(fake: load.BenchSlack, text: str, thread: str | None = None, card: bool = False) -> str:
    params: dict[str, object] = {"channel": "C0GENERAL", "text": text}
    if thread:
        params["thread_ts"] = thread
    if card:
        button = {"type": "button", "action_id": "refine", "text": {"type": "plain_text", "text": "Refine"}}
        params["blocks"] = json.dumps([{"type": "actions", "elements": [button]}])
    return str(fake._m_chat_postMessage(params)["ts"])


def test_card_times_come_from_when_the_fake_received_each_card() -> None:
    fake = load.BenchSlack()
    fake.echo_bot_events = False
    rows = [
        load.CampaignRow("U0B00000", "bench00000", "b01", 2),
        load.CampaignRow("U0B00001", "bench00001", "b02", 2),
    ]
    t0 = time.monotonic()
    for r in rows:
        r.sent, r.accepted, r.ack_s = t0, True, 0.05
    root = _post(fake, '📣 Campaign C7 by bench00000: "smart watch"\nTone bold')
    _post(fake, '📣 Campaign C8 by bench00001: "headphones"\nTone bold')
    status = _post(fake, "⏳ Round 1 is queued", root)
    fake.posted_at[("C0GENERAL", root)] = t0 + 0.1
    first = _post(fake, "1. Run", root, card=True)
    second = _post(fake, "2. Faster", root, card=True)
    _post(fake, "Round 1: 2 variants.", root)  # the grid: not a card
    fake.posted_at[("C0GENERAL", first)] = t0 + 1.0
    fake.posted_at[("C0GENERAL", second)] = t0 + 4.0
    for r in rows:
        load.collect(fake, r)
    a, b = rows
    assert (a.campaign, a.cards) == ("C7", 2)
    assert (a.root_s, a.first_card_s, a.last_card_s) == pytest.approx((0.1, 1.0, 4.0))
    assert a.done and not a.failed
    assert (b.campaign, b.cards, b.first_card_s) == ("C8", 0, None) and not b.done
    fake.messages[("C0GENERAL", status)].edits.append("⚠️ Round 1 failed")
    load.collect(fake, a)
    assert a.failed
    summary = load.level_summary([a], started=t0)
    assert summary["cards"] == summary["expected_cards"] == 2 and summary["wall_s"] == pytest.approx(4.0)
    assert summary["variants_per_s"] == pytest.approx(0.5) and summary["first_over_last"]["median"] == 0.25
    assert summary["campaigns_detail"][0]["first_over_last"] == 0.25


def _level(n: int, wall: float, cards: int, ratios: list[float]) -> dict[str, object]:
    return {
        "n": n,
        "wall_s": wall,
        "variants_per_s": cards / wall,
        "campaigns_detail": [{"first_over_last": r} for r in ratios],
    }


def test_targets_are_ratios_of_modes_in_the_same_run() -> None:
    modes = {
        "a": {"mode": "a", "concurrency": [_level(8, 320.0, 32, [1.0])]},
        "b": {"mode": "b", "concurrency": [_level(8, 100.0, 32, [1.0])]},
        "c": {
            "mode": "c",
            "concurrency": [_level(1, 5.0, 4, [0.3]), _level(8, 50.0, 32, [0.2, 0.5])],
            "burst": {"ack_ms": {"p99": 420.0, "max": 3100.0}},
            "memory": {"bot": {"hwm_mb": 120.0}, "worker": {"hwm_mb": 1600.0}},
        },
    }
    t = load.targets(modes)
    assert t["c_vs_b_wall_8"]["value"] == 0.5 and t["c_vs_b_wall_8"]["met"]
    assert t["c_vs_a_variants_per_s_8"]["value"] == 6.4 and t["c_vs_a_variants_per_s_8"]["met"]
    assert t["first_over_last_card_median"]["value"] == 0.3 and t["first_over_last_card_median"]["met"]
    assert t["burst_ack_p99_ms"]["met"] and t["burst_ack_max_s"]["met"] is False
    assert t["bot_rss_mb"]["met"] and t["worker_rss_mb"]["met"] is False
    only_b = load.targets({"b": modes["b"]})
    assert only_b["c_vs_b_wall_8"] == {**only_b["c_vs_b_wall_8"], "value": None, "met": None}


def test_quick_flags_and_defaults() -> None:
    q = load.parse_args(["--quick"])
    assert (q.modes, q.concurrency, q.variants, q.burst, q.variant_sweep) == (
        ["b", "c"],
        [1, 2],
        2,
        4,
        [1, 2],
    )
    assert q.out == ROOT / "build" / "load-quick.json"
    full = load.parse_args([])
    assert (full.modes, full.concurrency, full.variants, full.burst) == (
        ["a", "b", "c"],
        [1, 4, 8, 16],
        4,
        50,
    )
    assert full.variant_sweep == [1, 2, 4, 8] and full.out == ROOT / "bench" / "results" / "load.json"
    assert load.parse_args(["--variant-sweep", ""]).variant_sweep == []
    with pytest.raises(SystemExit):
        load.parse_args(["--modes", "a,x"])


def test_each_mode_gets_its_worker_and_batch_settings_on_the_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CAMPAIGNBOT_QUEUE_URL", "redis://elsewhere:6379/0")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-shell")
    monkeypatch.setenv("CAMPAIGNBOT_COPY_MODEL", "/models/copy")
    svc = {m: load.Service(m, tmp_path, batch_jobs=16, batch_window_ms=25) for m in "abc"}
    for s in svc.values():
        s.ports["worker"] = 4321
    assert svc["a"].worker_command()[1:] == [str(BENCH / "article_worker.py"), "--name", "bench-a"]
    assert svc["b"].worker_command()[1:] == ["-m", "bot.cli", "worker", "--name", "bench-b"]
    assert svc["a"].batch_env() == svc["b"].batch_env() == {"CAMPAIGNBOT_WORKER_BATCH_JOBS": "1"}
    assert svc["c"].batch_env() == {
        "CAMPAIGNBOT_WORKER_BATCH_JOBS": "16",
        "CAMPAIGNBOT_WORKER_BATCH_WINDOW_MS": "25",
    }
    env = svc["c"].worker_env()
    assert (
        env["CAMPAIGNBOT_DATA_DIR"] == str(tmp_path / "data")
        and env["CAMPAIGNBOT_WORKER_HTTP_PORT"] == "4321"
    )
    assert "CAMPAIGNBOT_QUEUE_URL" not in env and "SLACK_BOT_TOKEN" not in env  # embedded, no platform
    assert env["CAMPAIGNBOT_COPY_MODEL"] == "/models/copy" and env["PYTHONPATH"] == str(ROOT)


@pytest.mark.slow
def test_article_worker_makes_a_round_the_articles_way(
    tiny_copy_model_dir: Path, tiny_visual_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import article_worker

    from engine.settings import Settings

    settings = Settings(
        copy_model=str(tiny_copy_model_dir), visual_model=str(tiny_visual_checkpoint), device="cpu"
    )
    studio = article_worker.ArticleStudio(settings)
    studio.warm_up()
    with pytest.raises(RuntimeError, match="no product copywriter"):
        studio.copywriter("en")
    calls: list[dict[str, object]] = []
    loads: list[str] = []
    real_load = studio.load_article_model

    def counting_load() -> tuple[object, object]:
        model, tok = real_load()
        loads.append("sampling" if model.generation_config.do_sample else "plain")
        generate = model.generate

        def spy(input_ids: object, **kw: object) -> object:
            calls.append(kw)
            return generate(input_ids, **kw)

        model.generate = spy
        return model, tok

    monkeypatch.setattr(studio, "load_article_model", counting_load)
    stages: list[str] = []
    rnd = studio.first_round(
        Brief.create("smart watch for runners", tone="bold"),
        variants=2,
        seed=3,
        progress=lambda s, f: stages.append(s),
    )
    # from_pretrained once per request, with the stock generation config (no product sampling settings)
    assert loads == ["plain"]
    # per variant, the article's call; max_length clamped to the tiny model's 192 positions
    assert calls == [{"num_beams": 5, "no_repeat_ngram_size": 2, "max_length": 192}] * 2
    assert len(rnd.variants) == 2 and all(v.image is not None and v.copy.headline for v in rnd.variants)
    assert rnd.models["copy"].endswith("@article-beam5")
    assert {"load_s", "copy_s", "visual_s", "compose_s"} <= set(rnd.timings)
    assert stages[0] == "loading GPT-2" and stages[-1] == "done"


@pytest.mark.slow
def test_quick_run_end_to_end_with_tiny_models(
    tmp_path: Path, tiny_copy_model_dir: Path, tiny_visual_checkpoint: Path
) -> None:
    out = tmp_path / "load.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CAMPAIGNBOT_", "SLACK_", "DISCORD_"))}
    env |= {
        "CAMPAIGNBOT_COPY_MODEL": str(tiny_copy_model_dir),
        "CAMPAIGNBOT_VISUAL_MODEL": str(tiny_visual_checkpoint),
        "CAMPAIGNBOT_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(BENCH / "load.py"), "--quick", "--timeout", "240", "--out", str(out)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=500,
    )
    took = time.monotonic() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "targets" in proc.stdout and "c_vs_b_wall_8" in proc.stdout
    r = json.loads(out.read_text())
    assert r["settings"]["modes"] == ["b", "c"] and r["git"]["commit"]
    assert r["machine"]["cores"] and r["machine"]["device"] == "cpu" and r["machine"]["torch"]
    assert r["models"]["house"] is False
    assert set(r["targets"]) == set(load.TARGETS)
    for mode in ("b", "c"):
        m = r["modes"][mode]
        assert m["worker_env"]["CAMPAIGNBOT_WORKER_BATCH_JOBS"] == ("1" if mode == "b" else "8")
        assert m["startup"]["worker_ready_s"] > 0 and m["startup"]["warmup_campaign_s"] > 0
        assert [lv["n"] for lv in m["concurrency"]] == [1, 2]
        for lv in m["concurrency"] + m["variant_sweep"]:
            assert lv["accepted"] == lv["campaigns"] == lv["n"] and lv["failed"] == 0
            assert lv["cards"] == lv["expected_cards"] == lv["n"] * lv["variants"]
            assert 0 < lv["first_card_s"]["median"] <= lv["last_card_s"]["median"] <= lv["wall_s"] < took
            assert 0 < lv["ack_ms"]["max"] < 3000 and lv["variants_per_s"] > 0
            for row in lv["campaigns_detail"]:
                assert row["campaign"] and row["cards"] == row["variants"] and 0 < row["first_over_last"] <= 1
        assert [s["variants"] for s in m["variant_sweep"]] == [1, 2]
        b = m["burst"]
        assert b["n"] == b["accepted"] == b["roots_posted"] == 4 and b["over_3s"] == 0
        assert 0 < b["ack_ms"]["p50"] <= b["ack_ms"]["max"]
        mem = m["memory"]
        assert 30 < mem["bot"]["hwm_mb"] < mem["worker"]["hwm_mb"]
        assert {"startup", "warmup", "concurrency-1", "concurrency-2", "burst"} <= set(
            mem["by_phase_peak_rss_mb"]
        )
        assert m["exit_codes"] == {"worker": 0, "bot": 0} and m["fake_problems"]["count"] == 0
        assert "concurrency" in m["growth"] and "variants" in m["growth"]
    print(f"bench/load.py --quick with tiny models: {took:.0f} s")  # noqa: T201
