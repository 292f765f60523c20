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


@pytest.fixture(autouse=True)
def _face_cnn_budget_for_slow_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CNN time budget is a latency bound for operators, not a content rule: on a loaded 2-core CI
    # machine four CNN frames can take longer than the production 15 s, and a face-free input would then
    # be held for review. Tests of what the checks decide get a budget no machine hits; the budget itself
    # is tested explicitly (tests/test_safety_faces.py sets its own).
    try:
        from veriframe.safety.media import faces
    except ImportError:  # the media extra is not installed: nothing to bound
        return
    monkeypatch.setattr(faces, "CNN_BUDGET_S", 600.0)
