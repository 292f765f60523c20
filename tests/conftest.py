"""Shared fixtures live in tests/fixtures/, one module per area."""

pytest_plugins = [
    "tests.fixtures.tiny_model",
    "tests.fixtures.database",
    "tests.fixtures.keys",
    "tests.fixtures.server",
    "tests.fixtures.object_store",
]
