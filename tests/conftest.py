import logging

import pytest

from tests.s3_fixtures import s3_bucket, s3_env, s3_server  # noqa: F401 - fixtures for `s3` tests


@pytest.fixture(autouse=True)
def _capture_algorithm_log(caplog):
    """The image's logger does not propagate to root (its lines go to stdout in the built-in
    format), so hand pytest's capture handler to it directly."""
    logger = logging.getLogger("smlocal")
    logger.addHandler(caplog.handler)
    yield
    logger.removeHandler(caplog.handler)
