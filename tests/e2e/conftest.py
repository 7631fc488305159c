"""Every test here is marked ``e2e``; the load tests also ``stress``."""

from __future__ import annotations

import pytest

#: Modules whose tests put a bounded load on real servers.
STRESS = {"test_redis_stress.py", "test_examples_fuzz.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent.name == "e2e" and item.path.parent.parent.name == "tests":
            item.add_marker(pytest.mark.e2e)
            if item.path.name in STRESS:
                item.add_marker(pytest.mark.stress)
