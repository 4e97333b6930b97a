from __future__ import annotations

import pytest

from tests.unit.fakes import World


@pytest.fixture
def world() -> World:
    """Every port faked in memory, with the use cases wired to them."""
    return World()
