"""Shared fixtures live in tests/fixtures/, one module per area."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.fixtures.tiny_model",
    "tests.fixtures.database",
    "tests.fixtures.keys",
    "tests.fixtures.server",
    "tests.fixtures.object_store",
]


@pytest.fixture(autouse=True)
def _no_leaked_log_handlers() -> Iterator[None]:
    # The CLI's `serve` replaces the root logger's handlers with one on sys.stderr, which under pytest
    # is the capture of the test that ran it: a later test's server thread then wrote to a closed
    # stream ("--- Logging error ---"). A stderr handler a test added goes when the test ends
    # (pytest's own capture handlers are subclasses and are left to pytest).
    root = logging.getLogger()
    before, level = set(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    root.setLevel(level)
