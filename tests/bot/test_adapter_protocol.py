"""Every chat adapter implements the whole engine-owned protocol, ``run`` included (the runner starts each
adapter's ``run`` without asking whether it has one)."""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path

import pytest

from bot.console_adapter import ConsoleAdapter
from bot.discord_adapter import DiscordAdapter
from bot.playground.playground_adapter import PlaygroundAdapter
from bot.slack_adapter import SlackAdapter
from engine.adapter import ChatAdapter, OutMessage, Reconciles
from tests.fakes.recording import RecordingAdapter

PROTOCOL = [name for name, value in vars(ChatAdapter).items() if inspect.iscoroutinefunction(value)]


def test_the_protocol_has_run() -> None:
    assert "run" in PROTOCOL and "post" in PROTOCOL and len(PROTOCOL) == 6


@pytest.mark.parametrize(
    "cls", [SlackAdapter, DiscordAdapter, PlaygroundAdapter, ConsoleAdapter, RecordingAdapter]
)
def test_every_adapter_implements_every_method(cls: type) -> None:
    for name in PROTOCOL:
        method = getattr(cls, name, None)
        assert method is not None and inspect.iscoroutinefunction(method), (cls.__name__, name)
        want = list(inspect.signature(getattr(ChatAdapter, name)).parameters)
        assert list(inspect.signature(method).parameters)[: len(want)] == want, (cls.__name__, name)


def test_an_adapter_without_a_connection_waits_for_stop() -> None:
    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(RecordingAdapter().run(None, stop))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        assert not task.done()
        stop.set()
        await asyncio.wait_for(task, 1)

    asyncio.run(go())


@pytest.mark.parametrize("cls", [SlackAdapter, PlaygroundAdapter, ConsoleAdapter, RecordingAdapter])
def test_adapters_that_can_look_a_post_up_implement_find_sent(cls: type) -> None:
    """The optional reconcile method (engine.adapter.Reconciles), with its signature. Discord has none on
    purpose: a re-send carries the same nonce, which Discord answers with the first message."""
    want = list(inspect.signature(Reconciles.find_sent).parameters)
    assert list(inspect.signature(cls.find_sent).parameters) == want, cls.__name__
    assert not hasattr(DiscordAdapter, "find_sent")


def test_the_playground_finds_a_post_by_its_key_after_a_restart(tmp_path: Path) -> None:
    async def go() -> None:
        first = PlaygroundAdapter(tmp_path)
        mid = await first.post("general", None, OutMessage(text="hello", key="C1:note"))
        again = PlaygroundAdapter(tmp_path)  # a restart: the journal is replayed
        assert await again.find_sent("general", None, "C1:note") == mid
        assert await again.find_sent("general", "elsewhere", "C1:note") is None
        assert await again.find_sent("general", None, "C1:other") is None
        msg = again.channels.get(mid)
        assert msg is not None and "key" not in msg.public()  # the page never sees it

    asyncio.run(go())
