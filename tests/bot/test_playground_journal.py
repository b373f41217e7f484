"""The playground's journal and memory are bounded: a channel keeps its last N messages (whole
conversations go, oldest first, also while an old journal is replayed) and the journal is compacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.playground.channel import COMPACT_SLACK, Channels
from bot.playground.playground_adapter import PlaygroundAdapter, from_settings
from engine.adapter import OutMessage
from engine.errors import PermanentPlatformError
from engine.settings import Settings


def _conversation(ch: Channels, n: int, replies: int = 2) -> str:
    root = ch.add("general", None, "bot", "bot", f"campaign {n}")
    for k in range(replies):
        ch.add("general", root.id, "alice", "Alice", f"reply {n}.{k}")
    return root.id


def test_a_channel_keeps_its_last_messages_dropping_whole_conversations(tmp_path: Path) -> None:
    ch = Channels(tmp_path / "journal.jsonl", max_messages=7)
    roots = [_conversation(ch, n) for n in range(4)]  # 12 messages, 3 a conversation
    ch.add("other", None, "bob", "Bob", "another channel has its own bound")
    kept = [m for m in ch.messages.values() if m.channel == "general"]
    assert len(kept) == 6  # conversations 2 and 3: conversation 1 went whole, not half of it
    assert {m.thread or m.id for m in kept} == {roots[2], roots[3]}
    assert ch.get(roots[0]) is None and ch.replies(roots[1]) == 0
    assert [m.text for m in ch.messages.values() if m.channel == "other"] == [
        "another channel has its own bound"
    ]


def test_the_journal_is_compacted_and_replays_what_was_kept(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    ch = Channels(journal, max_messages=10)
    for n in range(200):
        root = _conversation(ch, n, replies=1)
        ch.edit(root, f"campaign {n} (edited)")
        ch.react(root, "2️⃣", "alice")
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 2 * 10 + COMPACT_SLACK + 1
    again = Channels(journal, max_messages=10)
    assert [m.text for m in again.messages.values()] == [m.text for m in ch.messages.values()]
    last = next(reversed([m for m in again.messages.values() if m.thread is None]))
    assert last.text == "campaign 199 (edited)" and last.edited and last.reactions == {"2️⃣": ["alice"]}


def test_an_unbounded_journal_of_an_earlier_release_is_bounded_on_start(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    with journal.open("w", encoding="utf-8") as f:
        for n in range(5000):
            m = {"id": f"m{n}", "channel": "general", "thread": None, "user": "u", "user_name": "U"}
            f.write(json.dumps({"op": "msg", "m": {**m, "text": f"message {n}", "at": float(n)}}) + "\n")
    ch = Channels(journal, max_messages=50)
    assert len(ch.messages) == 50 and ch.get("m4999") is not None and ch.get("m4949") is None
    assert len(journal.read_text(encoding="utf-8").splitlines()) == 50  # rewritten as what is kept


async def test_editing_a_message_no_longer_kept_is_a_permanent_refusal(tmp_path: Path) -> None:
    adapter = PlaygroundAdapter(tmp_path, journal=False, max_messages=2)
    first, _ = await adapter.open_thread("general", OutMessage(text="campaign 1"))
    await adapter.open_thread("general", OutMessage(text="campaign 2"))
    await adapter.open_thread("general", OutMessage(text="campaign 3"))
    with pytest.raises(PermanentPlatformError, match="no longer kept"):
        await adapter.edit("general", first, first, "✅ ready")


def test_the_bound_is_a_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    adapter = from_settings(settings, {"CAMPAIGNBOT_PLAYGROUND_MAX_MESSAGES": "25"})
    assert adapter.channels.max_messages == 25
    assert from_settings(settings, {}).channels.max_messages == 2000
