"""The property tests run on the profile's number of examples (300 in the gate, 10,000 nightly)."""

from __future__ import annotations

from hypothesis import settings

from tests.conftest import HYPOTHESIS_PROFILE, HYPOTHESIS_PROFILES


def test_the_selected_profile_sets_the_number_of_examples() -> None:
    assert settings.default.max_examples == HYPOTHESIS_PROFILES[HYPOTHESIS_PROFILE]
    assert HYPOTHESIS_PROFILES["nightly"] == 10_000
