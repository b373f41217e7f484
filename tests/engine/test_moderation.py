"""The moderation list (engine/moderation.py): its normalisations, zero false positives over the bench
briefs with a realistic operator list, and where it applies: briefs, thread replies, generated copy."""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from engine.artifacts import LocalArtifacts
from engine.emoji import NUMBER_EMOJI
from engine.engine import Engine
from engine.moderation import ModerationList
from engine.settings import Settings
from engine.store.db import database_url, make_engine
from engine.store.migrate import upgrade_async
from engine.store.repo import Repo
from tests.engine.conftest import Studio
from tests.fakes.queue import FakeQueue
from tests.fakes.recording import RecordingAdapter

BENCH = Path(__file__).resolve().parents[2] / "bench" / "briefs"
OPERATOR_LIST = [
    # mild profanity
    "damn", "hell", "crap", "ass", "shit", "bastard", "piss", "bloody", "wtf",
    # competitors
    "Nike", "Adidas", "Samsung", "Fitbit", "Garmin", "Red Bull",
    # regulated claims
    "guaranteed cure", "risk-free", "miracle cure", "clinically proven", "no side effects",
    "get rich quick",
]  # fmt: skip
LIST = ModerationList.of(OPERATOR_LIST)


def _brief_texts() -> list[str]:
    texts = []
    for f in sorted(BENCH.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            b = json.loads(line)
            if "product" not in b:
                continue  # a comment line
            fields = [b["product"], b.get("audience", ""), *b.get("keywords", []), *b.get("synonyms", [])]
            texts.append(" ".join(fields))
    return texts


def test_no_bench_brief_matches_a_realistic_operator_list() -> None:
    texts = _brief_texts()
    assert len(texts) >= 100 and len(LIST.entries) == len(OPERATOR_LIST)
    hits = {t: LIST.match(t) for t in texts if LIST.match(t)}
    assert hits == {}


@pytest.mark.parametrize(
    "text",
    [
        "class", "hello there", "shell", "bass guitar", "passion", "assistant", "hellish heat",
        "scrappy startup", "damnation", "bloodyness", "Nikes", "a cure guaranteed",
        "24/7 support and 100% cotton", "3M tape", "a b c d", "h e l l o",
    ],
)  # fmt: skip
def test_whole_words_only(text: str) -> None:
    assert LIST.match(text) is None


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("What the HELL", "hell"),  # case
        ("ＤＡＭＮ good coffee", "damn"),  # fullwidth (NFKC)
        ("da\u200bmn", "damn"),  # zero-width space
        ("da\u00admn", "damn"),  # soft hyphen
        ("cr\u2060ap", "crap"),  # word joiner
        ("\ufeffshit", "shit"),  # BOM
        ("h\u200cel\u200dl", "hell"),  # joiners
        ("сrар", "crap"),  # Cyrillic с, а, р
        ("dαmn", "damn"),  # Greek alpha
        ("d4mn", "damn"),
        ("h3ll", "hell"),
        ("he11", "hell"),  # 1 as l
        ("5h1t", "shit"),  # 1 as i
        ("@ss", "ass"),
        ("a$$", "ass"),
        ("cr4p!", "crap"),
        ("b.a.s.t.a.r.d", "bastard"),  # separators
        ("d a m n it", "damn"),
        ("N1KE shoes", "nike"),
        ("a Guaranteed   Cure for colds", "guaranteed cure"),  # phrase, any spacing
        ("RISK-FREE trial", "risk free"),
        ("r1sk—free", "risk free"),
    ],
)
def test_each_normalisation_matches(text: str, entry: str) -> None:
    assert LIST.match(text) == entry


def test_the_list_comes_from_words_and_a_file(tmp_path: Path) -> None:
    f = tmp_path / "banned.txt"
    f.write_text("# competitors\nAcme Corp\n\nzorbo  # a made-up word\n", encoding="utf-8")
    lst = ModerationList.from_settings(" damn , ,Risk-Free", f)
    assert lst.words() == ["acme corp", "damn", "risk free", "zorbo"]
    assert not ModerationList.from_settings("", None) and ModerationList.of([]).match("damn") is None


@pytest.fixture
async def studio(tmp_path: Path) -> AsyncIterator[Studio]:
    settings = Settings(
        data_dir=tmp_path,
        status_edit_interval=0,
        reaction_debounce_seconds=0,
        moderation_words="damn,guaranteed cure,headline 2",  # "Headline 2 of ..." is what the worker writes
        _env_file=None,  # type: ignore[call-arg]
    )
    url = database_url(tmp_path, None)
    await upgrade_async(url)
    chat = RecordingAdapter()
    engine = Engine(settings, Repo(make_engine(url)), FakeQueue(), LocalArtifacts(tmp_path), [chat])
    await engine.start()
    yield Studio(engine, engine.queue, chat, engine.artifacts)  # type: ignore[arg-type]
    await engine.close()


async def test_a_brief_with_a_banned_word_is_refused_without_repeating_it(studio: Studio) -> None:
    answer = await studio.command("d4mn fine coffee --tone bold")
    assert answer is not None and "does not allow" in answer and "d4mn" not in answer.lower()
    assert "damn" not in answer.lower() and not studio.queue.jobs
    answer = await studio.command("herbal tea, a guaranteed\u200b cure")
    assert answer is not None and "does not allow" in answer and not studio.queue.jobs
    ok = await studio.command("herbal tea")
    assert ok is not None and ok.startswith("Working on it")


async def test_a_reply_with_a_banned_word_is_refused_privately_and_not_applied(studio: Studio) -> None:
    await studio.command("smart watch --variants 3")
    await studio.pump()
    await studio.work()
    await studio.pump()
    t = studio.thread()
    await studio.reply("shorter and DΑMN bolder", thread=t)  # a Greek capital alpha
    await studio.pump()
    assert "C1-R2" not in studio.queue.jobs
    (_, _, who, said) = studio.chat.tells[-1]
    assert who == "alice" and "does not allow" in said and "damn" not in said.lower()
    await studio.reply("shorter", thread=t)
    assert "C1-R2" in studio.queue.jobs


async def test_generated_copy_with_a_banned_phrase_is_never_posted(studio: Studio) -> None:
    await studio.command("smart watch --variants 3")
    await studio.pump()
    await studio.work()
    await studio.pump()
    t = studio.thread()
    posted = [m.text + " ".join(f"{k} {v}" for k, v in m.fields) for m in studio.chat.thread(t)]
    assert not [p for p in posted if "Headline 2" in p], posted
    assert [c.title for c in studio.chat.cards(t)] == ["C1-R1-V1", "C1-R1-V3"]
    assert any("variant 2 was withheld" in p for p in posted)
    (grid,) = studio.chat.grids(t)
    assert grid.file is None  # the contact sheet shows every variant's copy: text only
    assert [c.id for c in await studio.engine.repo.cards(1)] == ["C1-R1-V1", "C1-R1-V3"]
    # choosing the withheld variant is refused; another variant refines
    await studio.react(grid, NUMBER_EMOJI[1])
    await studio.pump()
    assert "C1-R2" not in studio.queue.jobs and "withheld" in studio.chat.tells[-1][3]
    await studio.react(grid, NUMBER_EMOJI[2])
    assert studio.queue.jobs["C1-R2"].spec.parent_variant == 3


async def test_an_export_leaves_out_the_withheld_variant_and_every_sheet_that_shows_its_copy(
    studio: Studio,
) -> None:
    await studio.command("smart watch --variants 3")
    await studio.pump()
    await studio.work()
    await studio.pump()
    assert await studio.command("export C1")
    await studio.pump()
    (z,) = list((studio.artifacts.root / "exports").glob("C1-*.zip"))
    with zipfile.ZipFile(z) as zf:
        names = sorted(n.split("/")[-1] for n in zf.namelist())
        text = b"".join(zf.read(n) for n in zf.namelist())
    assert names == ["variant-1.png", "variant-3.png", "withheld.txt"], names
    assert b"Headline 2" not in text and b"Variant 2 of this round" in text


async def test_a_withheld_variant_is_not_posted_when_it_is_ready_either(studio: Studio) -> None:
    """Cards posted as each variant is ready (before the round is done) go through the same moderation:
    the withheld variant's note stands in for its card at once, and the finished round adds neither again."""
    await studio.command("smart watch --variants 3")
    await studio.pump()
    job = await studio.start()
    made = studio.make(job)
    for v in made[:2]:
        assert await studio.queue.partial(job.id, "w1", v)
    await studio.pump(1)
    t = studio.thread()
    posted = [m.text + " ".join(f"{k} {v}" for k, v in m.fields) for m in studio.chat.thread(t)]
    assert [c.title for c in studio.chat.cards(t)] == ["C1-R1-V1"]
    assert not [p for p in posted if "Headline 2" in p], posted
    assert sum("variant 2 was withheld" in p for p in posted) == 1
    assert [c.id for c in await studio.engine.repo.cards(1)] == ["C1-R1-V1"]
    await studio.finish(job, made)
    await studio.pump()
    posted = [m.text + " ".join(f"{k} {v}" for k, v in m.fields) for m in studio.chat.thread(t)]
    assert [c.title for c in studio.chat.cards(t)] == ["C1-R1-V1", "C1-R1-V3"]
    assert sum("variant 2 was withheld" in p for p in posted) == 1 and not [
        p for p in posted if "Headline 2" in p
    ]
    (grid,) = studio.chat.grids(t)
    assert grid.file is None
