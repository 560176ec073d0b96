import io
import tarfile

import pytest

from algorithms.common.tarsafe import safe_extract
from container.errors import ClientError


def _tar(path, members):
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


def test_regular_archive_extracts(tmp_path):
    archive = _tar(tmp_path / "ok.tar.gz", [_file("a/b.txt", b"hi"), _link("a/c", "b.txt")])
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "a" / "b.txt").read_bytes() == b"hi"
    assert (out / "a" / "c").read_bytes() == b"hi"


@pytest.mark.parametrize("member,text", [
    (_file("/etc/evil"), "absolute path"),
    (_file("../evil"), "outside the extraction directory"),
    (_file("a/../../evil"), "outside the extraction directory"),
    (_link("l", "/etc/passwd"), "links outside"),
    (_link("l", "../../etc/passwd"), "links outside"),
    (_link("h", "/etc/passwd", tarfile.LNKTYPE), "links outside"),
])
def test_unsafe_members_are_rejected_before_anything_is_written(tmp_path, member, text):
    archive = _tar(tmp_path / "bad.tar.gz", [_file("first.txt"), member])
    with pytest.raises(ClientError, match=text):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "out" / "first.txt").exists()
    assert not (tmp_path / "evil").exists()


def test_devices_are_rejected(tmp_path):
    info = tarfile.TarInfo("dev")
    info.type = tarfile.CHRTYPE
    archive = _tar(tmp_path / "dev.tar.gz", [(info, None)])
    with pytest.raises(ClientError, match="device"):
        safe_extract(archive, tmp_path / "out")


def test_not_an_archive(tmp_path):
    bogus = tmp_path / "model.tar.gz"
    bogus.write_bytes(b"nope")
    with pytest.raises(ClientError, match="Cannot read archive model.tar.gz"):
        safe_extract(bogus, tmp_path / "out")
