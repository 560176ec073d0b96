import pytest

from tests.ic_jobs import make_data


@pytest.fixture(scope="session")
def pipe_data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("pipe-data"))
