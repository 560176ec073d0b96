"""What a test does when something it needs is missing: under CI (`CI=true`) it fails, since
.ci/run installs everything the suite needs; elsewhere it skips, saying what is missing."""
import os

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str, provided_by: str) -> None:
    """Fail under CI (naming what provides the missing piece there), else skip."""
    if IN_CI:
        pytest.fail(f"{reason}; under CI this test must run ({provided_by})")
    pytest.skip(reason)
