"""Shared pytest set-up. Session fixtures that build tiny real models live in their own modules."""

pytest_plugins = ["tests.fixtures_copy", "tests.fixtures_visual"]
