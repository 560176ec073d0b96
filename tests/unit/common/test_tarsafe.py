"""safe_extract as an API: what it extracts, where, with which modes and limits. The corpus of
hostile archives (escapes through links, bombs, special files) is in tests/security/."""
import io
import os
import stat
import tarfile

import pytest

from container.errors import ClientError
from container.tarsafe import (
    EXPANSION_FLOOR, GIB, ArchiveLimits, Budget, archive_limits, human_size, safe_extract,
)


def _tar(path, members, mode="w:gz"):
    with tarfile.open(path, mode) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x", mode=0o644):
    info = tarfile.TarInfo(name)
    info.mode = mode
    return info, data


def _dir(name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, mode
    return info, None


def _link(name, target, kind=tarfile.SYMTYPE):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, None


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_files_folders_and_inside_links_extract_from_every_compression(tmp_path, mode):
    archive = _tar(tmp_path / "model.tar", [_dir("a"), _file("a/b.txt", b"hi"), _link("a/c", "b.txt"),
                                            _link("d", "a/b.txt", tarfile.LNKTYPE)], mode)
    out = safe_extract(archive, tmp_path / "out")
    assert out == (tmp_path / "out").resolve()
    assert (out / "a" / "b.txt").read_bytes() == b"hi"
    assert os.readlink(out / "a" / "c") == "b.txt" and (out / "a" / "c").read_bytes() == b"hi"
    assert os.path.samefile(out / "d", out / "a" / "b.txt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.tar", "out"]  # no staging left


def test_a_later_member_replaces_an_earlier_one_without_writing_into_it(tmp_path):
    """`h` first is a hard link to `f`; the regular `h` after it must be a new file, leaving `f`."""
    archive = _tar(tmp_path / "m.tar.gz", [_file("f", b"original"), _link("h", "f", tarfile.LNKTYPE),
                                           _file("h", b"replacement")])
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "f").read_bytes() == b"original"
    assert (out / "h").read_bytes() == b"replacement"


def test_permissions_never_widen(tmp_path):
    archive = _tar(tmp_path / "m.tar.gz", [_dir("d", 0o7777), _file("d/suid", b"#!", 0o6777),
                                           _file("private", b"p", 0o600), _file("unreadable", b"u", 0o000)])
    old_umask = os.umask(0o022)
    try:
        out = safe_extract(archive, tmp_path / "out")
    finally:
        os.umask(old_umask)
    modes = {name: stat.S_IMODE(os.stat(out / name).st_mode) for name in ("d", "d/suid", "private", "unreadable")}
    assert modes == {"d": 0o755, "d/suid": 0o755, "private": 0o600, "unreadable": 0o400}


def test_the_target_appears_only_when_the_whole_archive_was_accepted(tmp_path):
    archive = _tar(tmp_path / "m.tar.gz", [_file("good.params", b"x" * 1000), _file("/etc/evil")])
    (tmp_path / "out").mkdir()  # an empty target is allowed and stays as it was
    with pytest.raises(ClientError, match="absolute path"):
        safe_extract(archive, tmp_path / "out")
    assert list((tmp_path / "out").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tar.gz", "out"]


def test_a_non_empty_target_is_a_programming_error(tmp_path):
    archive = _tar(tmp_path / "m.tar.gz", [_file("a")])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old").write_text("x")
    with pytest.raises(FileExistsError):
        safe_extract(archive, tmp_path / "out")


def test_limits_take_the_tightest_bound_and_name_it(tmp_path):
    archive = _tar(tmp_path / "m.tar.gz", [_file("a")])
    limits = archive_limits(archive, tmp_path / "out", (Budget(5 * GIB, "the volume"),), environ={})
    assert (limits.max_bytes, limits.bytes_reason) == (EXPANSION_FLOOR, limits.bytes_reason)
    assert "100 times the archive's" in limits.bytes_reason
    tight = archive_limits(archive, tmp_path / "out", (Budget(1000, "the volume"),), environ={})
    assert (tight.max_bytes, tight.bytes_reason) == (1000, "the volume")
    more = archive_limits(archive, tmp_path / "out", environ={"SMLOCAL_ARCHIVE_MAX_EXPANSION": "5000",
                                                             "SMLOCAL_ARCHIVE_MAX_MEMBERS": "7"})
    assert more.max_members == 7 and "5000 times" in more.bytes_reason
    with pytest.raises(ClientError, match="SMLOCAL_ARCHIVE_MAX_MEMBERS='many' must be a whole number"):
        archive_limits(archive, tmp_path / "out", environ={"SMLOCAL_ARCHIVE_MAX_MEMBERS": "many"})


def test_bytes_and_member_limits(tmp_path):
    archive = _tar(tmp_path / "m.tar.gz", [_file(f"f{i}", b"z" * 600) for i in range(5)])
    with pytest.raises(ClientError, match=r"expands to more than 2.0 KiB, the limit set by the volume: "
                                          r"member 'f3' \(600 bytes\) would bring it to 2.3 KiB"):
        safe_extract(archive, tmp_path / "a", ArchiveLimits(2000, "the volume"))
    with pytest.raises(ClientError, match="more than 4 members.*SMLOCAL_ARCHIVE_MAX_MEMBERS"):
        safe_extract(archive, tmp_path / "b", ArchiveLimits(GIB, "x", max_members=4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.tar.gz"]
    assert safe_extract(archive, tmp_path / "c", ArchiveLimits(3000, "x", max_members=5)).is_dir()


def test_names_in_messages_are_cut_short(tmp_path):
    archive = _tar(tmp_path / "m.tar.gz", [_link("l", "/" + "x" * 5000)])
    with pytest.raises(ClientError) as caught:
        safe_extract(archive, tmp_path / "out")
    assert "(5001 characters)" in str(caught.value) and len(str(caught.value)) < 400


def test_human_size():
    assert [human_size(n) for n in (5, 2048, 3 << 20, 4 * GIB)] == ["5 bytes", "2.0 KiB", "3.0 MiB", "4.0 GiB"]
