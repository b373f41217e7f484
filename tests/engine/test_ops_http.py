"""The service's ops endpoints (issue 15): metrics read from the engine, the database and the queue at scrape
time, readiness, liveness of the delivery loop. Over HTTP on 127.0.0.1 against the fast suite's engine."""

from __future__ import annotations

import asyncio

import aiohttp

from bot import ops_http
from bot.worker_http import bound_port
from tests.engine.conftest import Studio


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


async def test_metrics_readiness_and_liveness(studio: Studio) -> None:
    stop = asyncio.Event()
    delivery = asyncio.create_task(stop.wait())  # stands for the delivery loop's task
    runner = await ops_http.serve(studio.engine, "127.0.0.1", 0, delivery)
    base = f"http://127.0.0.1:{bound_port(runner)}"
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/metrics") as r:
                before = await r.text()
            assert await studio.command("smart watch for runners --variants 2")
            async with http.get(f"{base}/metrics") as r:
                assert r.status == 200
                text = await r.text()
            assert _sample(text, "campaignbot_queue_depth") == 1
            assert _sample(text, 'campaignbot_events_total{kind="command",outcome="ok"}') == (
                _sample(before, 'campaignbot_events_total{kind="command",outcome="ok"}') + 1
            )
            assert _sample(text, "campaignbot_outbox_owed") >= 1  # the root post and status line are owed
            async with http.get(f"{base}/readyz") as r:
                assert r.status == 200
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 200
            stop.set()
            await delivery
            async with http.get(f"{base}/healthz") as r:
                assert r.status == 503 and "delivery loop" in await r.text()
    finally:
        stop.set()
        await runner.cleanup()
