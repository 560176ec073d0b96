import pytest

from tests.ic_jobs import make_data


@pytest.fixture(scope="session")
def dist_data(tmp_path_factory):
    return make_data(tmp_path_factory.mktemp("dist-data"))
