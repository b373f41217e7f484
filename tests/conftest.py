"""Shared pytest set-up. Session fixtures that build tiny real models live in their own modules."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

pytest_plugins = ["tests.fixtures_copy", "tests.fixtures_visual", "tests.log_guard", "pytester"]

# Hypothesis profiles. The gate runs each property test (marker ``property``: the command, reply and
# neutralizer parsers) on 300 examples; the nightly run on 10,000:
#   HYPOTHESIS_PROFILE=nightly .venv/bin/pytest -m property tests/engine
# Tests that pass their own @settings(max_examples=...) keep their number under both profiles.
HYPOTHESIS_PROFILES = {"gate": 300, "nightly": 10_000}
for _name, _examples in HYPOTHESIS_PROFILES.items():
    settings.register_profile(_name, max_examples=_examples, deadline=None)
HYPOTHESIS_PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "gate")
settings.load_profile(HYPOTHESIS_PROFILE)
NIGHTLY_PROPERTY_TIMEOUT = 1800  # 10,000 examples of one parser property: minutes, not the gate's 120 s

# pytest-timeout's limit (120 s, pyproject.toml) covers a test's fixtures too, so the first test that needs
# one of these session fixtures also pays for training its tiny model. That is seconds on an idle machine
# but was measured past 120 s on two shared, busy cores (tiny_copy_model_dir: 150 steps at 1.2-2.2 s a
# step), so tests that use them get this limit instead (an explicit @pytest.mark.timeout wins).
TRAINING_FIXTURES_TIMEOUT = 600
TRAINING_FIXTURES = ("tiny_copy_model_dir", "tiny_visual_checkpoint")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HYPOTHESIS_PROFILE == "nightly" and item.get_closest_marker("property") is not None:
            item.add_marker(pytest.mark.timeout(NIGHTLY_PROPERTY_TIMEOUT))
        if item.get_closest_marker("timeout") is None and any(
            name in getattr(item, "fixturenames", ()) for name in TRAINING_FIXTURES
        ):
            item.add_marker(pytest.mark.timeout(TRAINING_FIXTURES_TIMEOUT))
