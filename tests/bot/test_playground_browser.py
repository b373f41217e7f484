"""The playground in real headless Chromium (Debian's ``chromium``, driven by Playwright from PyPI):
a whole campaign round trip with the real engine, the real worker process and tiny real models.

Chromium comes from ``scripts/install-chromium``; Playwright's own browser download is never used.
On failure each page's screenshot is saved under ``tests/artifacts/``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.app import open_engine
from bot.playground import PlaygroundAdapter
from bot.supervisor import WorkerSupervisor
from engine.engine import Engine
from engine.settings import Settings

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CAMPAIGNBOT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@dataclass
class Running:
    url: str
    adapter: PlaygroundAdapter
    engine: Engine


@pytest.fixture
async def playground(
    tmp_path: Path, tiny_copy_model_dir: Path, tiny_visual_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Running]:
    """Engine + delivery loop + worker + playground server on a free port, like ``campaignbot run``."""
    env = {
        "CAMPAIGNBOT_COPY_MODEL": str(tiny_copy_model_dir),
        "CAMPAIGNBOT_VISUAL_MODEL": str(tiny_visual_checkpoint),
        "CAMPAIGNBOT_DATA_DIR": str(tmp_path),
        "CAMPAIGNBOT_JOB_LEASE_SECONDS": "10",
        "CAMPAIGNBOT_STATUS_EDIT_INTERVAL": "0.2",
        "OMP_NUM_THREADS": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = Settings()
    adapter = PlaygroundAdapter(tmp_path, port=0)
    engine = await open_engine(settings, [adapter])
    worker = WorkerSupervisor(tmp_path, env=env, stop_timeout=10)
    await worker.start()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(engine.run(stop, interval=0.2)),
        asyncio.create_task(adapter.run(engine, stop)),
    ]
    await asyncio.wait_for(adapter.ready.wait(), 15)
    assert adapter.url
    yield Running(adapter.url, adapter, engine)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await worker.stop()
    await engine.close()


async def test_a_campaign_in_the_browser(playground: Running, request: pytest.FixtureRequest) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium (Debian package chromium)")
    from playwright.async_api import Page, async_playwright, expect

    expect.set_options(timeout=10_000)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        pages: dict[str, Page] = {}
        try:
            await _scenario(playground, browser, pages, expect)
        except BaseException:
            ARTIFACTS.mkdir(exist_ok=True)
            for who, page in pages.items():
                shot = ARTIFACTS / f"{request.node.name}-{who}.png"
                try:
                    await page.screenshot(path=str(shot), full_page=True)
                    print(f"screenshot: {shot}")
                except Exception as exc:  # the browser may be gone; the failure itself matters more
                    print(f"no screenshot of {who}: {exc}")
            raise
        finally:
            await browser.close()


async def _open_as(browser, url: str, name: str):  # type: ignore[no-untyped-def]
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1400, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(url)
    await page.fill("#user", name)
    await page.dispatch_event("#user", "change")
    await expect(page.locator("body")).to_have_attribute("data-user", name)
    return page, errors


async def _scenario(run: Running, browser, pages, expect) -> None:  # type: ignore[no-untyped-def]
    alice, alice_errors = await _open_as(browser, run.url, "Alice")
    pages["alice"] = alice
    await alice.fill("#box", "/campaign smart watch for runners --tone playful --seed 5")
    await alice.press("#box", "Enter")
    await expect(alice.locator("#messages .note").first).to_contain_text("Working on it: campaign C1")
    thread = alice.locator("#thread")
    await expect(thread).to_be_visible()  # the owner's new thread opens by itself
    await expect(alice.locator("#thread-title")).to_have_text("Campaign C1")
    status = thread.locator(".msg.status").first
    seen: list[str] = []
    cards = thread.locator(".msg.card")
    loop = asyncio.get_running_loop()
    end = loop.time() + 150
    while loop.time() < end and await cards.count() < 4:
        if await status.count():
            text = (await status.locator(".text").text_content()) or ""
            if text and (not seen or seen[-1] != text):
                seen.append(text)
        await asyncio.sleep(0.2)
    await expect(cards).to_have_count(4)
    await expect(status.locator(".text")).to_contain_text("✅ Round 1 is ready", timeout=20_000)
    seen.append((await status.locator(".text").text_content()) or "")
    assert seen[0].startswith("⏳") and any("%" in s for s in seen), seen  # the status line moved
    for i in range(4):
        card = cards.nth(i)
        await expect(card.locator(".card-id")).to_have_text(f"C1-R1-V{i + 1}")
        await expect(card.locator("dt")).to_have_text(["Headline", "Body", "Call to action"])
        await expect(card.locator("button[data-action=refine]")).to_have_text(f"Refine {i + 1}")
    sheet = thread.locator(".msg.sheet").first
    await expect(sheet.locator(".chip")).to_have_count(4)  # 1️⃣-4️⃣, added by the bot
    loaded = await thread.locator("img.attachment").evaluate_all(
        "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
    )
    assert len(loaded) == 5 and all(loaded), loaded  # contact sheet + four cards, served by id

    # Bob, in another browser context, cannot choose on Alice's campaign
    bob, bob_errors = await _open_as(browser, run.url, "Bob")
    pages["bob"] = bob
    await bob.locator("#messages .thread-link").first.click()
    bob_thread = bob.locator("#thread")
    await expect(bob.locator("#thread-title")).to_have_text("Campaign C1")  # the click opened the thread
    await expect(bob_thread.locator(".msg.card")).to_have_count(4)
    await bob_thread.locator('.msg.sheet .chip[data-emoji="2️⃣"]').click()
    await expect(bob_thread.locator(".msg.only")).to_contain_text("Only Alice can choose variants")
    await expect(bob_thread.locator('.msg.sheet .chip.mine[data-emoji="2️⃣"]')).to_have_count(1)
    bob_card = bob_thread.locator(".msg.card").first  # ⭐ from the reaction picker: same answer
    await bob_card.hover()
    await bob_card.locator(".add-reaction").click()
    await bob_card.locator(".picker .pick", has_text="⭐").click()
    await expect(bob_thread.locator(".msg.only")).to_have_count(2)
    await expect(bob_card.locator('.chip.mine[data-emoji="⭐"]')).to_have_count(1)
    # script in a reply stays text
    evil = '<img src=x onerror="document.body.dataset.pwned=1">'
    await bob.fill("#thread-box", evil)
    await bob.press("#thread-box", "Enter")
    await expect(thread.locator(".msg:not(.bot) .text").last).to_contain_text("img src=x")
    assert await alice.evaluate("document.body.dataset.pwned") is None
    assert await thread.locator(".msg:not(.bot) img").count() == 0
    await expect(alice.locator(".msg.only")).to_have_count(0)  # Bob's notes are Bob's
    assert await thread.locator(".msg.card").count() == 4  # no round 2 from Bob

    # Alice clicks 2️⃣ and round 2 arrives in the thread
    await thread.locator('.msg.sheet .chip[data-emoji="2️⃣"]').first.click()
    await expect(thread.locator(".msg").filter(has_text="Round 2: refining C1-R1-V2")).to_have_count(1)
    await expect(cards).to_have_count(8, timeout=150_000)
    await expect(thread.locator(".msg.status").nth(1).locator(".text")).to_contain_text(
        "✅ Round 2 is ready", timeout=20_000
    )
    await expect(cards.nth(4).locator(".card-id")).to_have_text("C1-R2-V1")
    # Bob saw it arrive live too
    await expect(bob_thread.locator(".msg.card")).to_have_count(8)

    # export: the zip is posted into the thread as a download
    await cards.nth(5).locator("button[data-action=export]").click()
    download = thread.locator("a.download")
    await expect(download).to_contain_text("C1-2rounds.zip", timeout=30_000)
    href = await download.get_attribute("href")
    assert href and href.startswith("files/")
    resp = await alice.request.get(run.url + href)
    assert resp.ok and (await resp.body())[:2] == b"PK"

    assert not alice_errors and not bob_errors, alice_errors + bob_errors
