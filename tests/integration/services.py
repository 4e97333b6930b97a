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


def installed(path: str, package: str) -> str:
    """`path`, a file a Debian package installs; skip the test when it is missing, or fail when
    services are required (CI installs the package)."""
    if os.path.exists(path):
        return path
    message = f"{path} is missing: this test needs Debian's {package} (apt-get install {package})"
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{message} and {REQUIRE}=1")
    pytest.skip(message)
