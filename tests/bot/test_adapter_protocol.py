"""Every chat adapter implements the whole engine-owned protocol, ``run`` included (the runner starts each
adapter's ``run`` without asking whether it has one)."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from bot.console_adapter import ConsoleAdapter
from bot.discord_adapter import DiscordAdapter
from bot.playground.playground_adapter import PlaygroundAdapter
from bot.slack_adapter import SlackAdapter
from engine.adapter import ChatAdapter
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
