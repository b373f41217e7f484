"""The worker's heap: two malloc arenas unless the operator set MALLOC_ARENA_MAX, and trimming after a batch."""

from __future__ import annotations

import sys

import pytest

from engine.inference import heap


def test_an_operators_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert heap.limit_arenas() is False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_on_glibc_the_limit_is_set_and_trim_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert heap.limit_arenas(8) is True  # generous here: this is the test process
    junk = [bytearray(1 << 16) for _ in range(512)]  # 32 MB freed at once below
    del junk
    assert isinstance(heap.trim(), bool)
