import pytest

from emulator.storage import LocalStore, StorageError, join, local_path, normalize_location, s3_relative_path


@pytest.mark.parametrize("prefix, key, expected", [
    ("data/train/", "data/train/a.jpg", "a.jpg"),
    ("data/train/", "data/train/x/b.jpg", "x/b.jpg"),
    ("data/train", "data/train/a.jpg", "a.jpg"),
    ("data/train", "data/train-01/b.jpg", "train-01/b.jpg"),
    ("data/train", "data/train.csv", "train.csv"),
    ("out/job/output/model.tar.gz", "out/job/output/model.tar.gz", "model.tar.gz"),
    ("", "top/a.jpg", "top/a.jpg"),
])
def test_s3_prefix_relative_paths(prefix, key, expected):
    assert s3_relative_path(prefix, key) == expected


def test_local_listing_of_folder_file_and_nothing(tmp_path):
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a.txt").write_text("aa")
    (tmp_path / "d" / "sub" / "b.txt").write_text("bbb")
    store = LocalStore()
    listed = {(o.relative, o.size) for o in store.list_prefix(str(tmp_path / "d"))}
    assert listed == {("a.txt", 2), ("sub/b.txt", 3)}
    assert [(o.relative, o.size) for o in store.list_prefix(f"file://{tmp_path}/d/a.txt")] == [("a.txt", 2)]
    assert store.list_prefix(str(tmp_path / "missing")) == []


def test_local_upload_is_atomic_and_leaves_no_temporary_files(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    dest = tmp_path / "out" / "model.tar.gz"
    LocalStore().upload(src, str(dest))
    assert dest.read_bytes() == b"x" * 1000
    assert [p.name for p in dest.parent.iterdir()] == ["model.tar.gz"]


def test_locations():
    assert join("s3://b/out/", "job", "output") == "s3://b/out/job/output"
    assert join("/tmp/out", "job", "output") == "/tmp/out/job/output"
    assert local_path("file:///tmp/a%20b") == local_path("/tmp/a b")
    assert normalize_location("s3://b/x") == "s3://b/x"
    assert normalize_location("rel/path").startswith("/")
    with pytest.raises(StorageError):
        local_path("https://example.com/x")
