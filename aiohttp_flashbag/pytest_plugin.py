"""The ``flash_records`` fixture, registered through the ``pytest11`` entry point."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import FlashRecord, record_flashes

__all__ = ("flash_records",)


@pytest.fixture
def flash_records() -> Iterator[list[FlashRecord]]:
    """Every flash scope that ends during the test, as a :class:`FlashRecord`."""
    with record_flashes() as records:
        yield records
