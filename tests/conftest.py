"""Shared pytest set-up. Session fixtures that build tiny real models live in their own modules."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.fixtures_copy", "tests.fixtures_visual"]

# pytest-timeout's limit (120 s, pyproject.toml) covers a test's fixtures too, so the first test that needs
# one of these session fixtures also pays for training its tiny model. That is seconds on an idle machine
# but was measured past 120 s on two shared, busy cores (tiny_copy_model_dir: 150 steps at 1.2-2.2 s a
# step), so tests that use them get this limit instead (an explicit @pytest.mark.timeout wins).
TRAINING_FIXTURES_TIMEOUT = 600
TRAINING_FIXTURES = ("tiny_copy_model_dir", "tiny_visual_checkpoint")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is None and any(
            name in getattr(item, "fixturenames", ()) for name in TRAINING_FIXTURES
        ):
            item.add_marker(pytest.mark.timeout(TRAINING_FIXTURES_TIMEOUT))
