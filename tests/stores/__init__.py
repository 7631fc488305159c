"""One contract suite for the flash lifecycle, run on every place flashes live.

``base.BaseTests`` holds the test methods (docs/lifecycle.rst, section by
section); each ``test_*.py`` module subclasses it once per place and gives
the ``place`` fixture (``backends.Place``). Beside it, the Redis flash
store's own tests: ``test_redis_store.py`` and ``test_redis_races.py``
(docs/concurrency.rst).
"""

import pytest

# The test methods live in base.py, which pytest does not collect by itself:
# rewrite its asserts so that failures show the values compared.
pytest.register_assert_rewrite("tests.stores.base", "tests.stores.site")
