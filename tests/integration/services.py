"""Real backend servers for the tests: skipped with a reason when unset, required in CI."""

from __future__ import annotations

import os

import pytest

REQUIRE = "LW_TEST_REQUIRE_SERVICES"


def service_url(variable: str) -> str:
    """The URL in `variable`; skip the test when it is unset, or fail when services are required."""
    url = os.environ.get(variable)
    if url:
        return url
    message = f"{variable} is not set: this test needs a real server"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{message} and {REQUIRE}=1")
    pytest.skip(message)
