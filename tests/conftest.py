"""Suite-wide ordering: modules marked `slow` run first, so that parallel workers
(`pytest -n`, one module per worker at a time) do not end with one long module alone."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
