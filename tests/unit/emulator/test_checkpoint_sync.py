import pytest

from emulator.checkpoints import CheckpointSync
from emulator.storage import ObjectInfo, Storage, StorageError


def test_download_then_upload_only_stable_files_and_propagate_deletions(tmp_path):
    remote, local = tmp_path / "remote", tmp_path / "local"
    remote.mkdir()
    (remote / "old.ckpt").write_text("old")
    sync = CheckpointSync(Storage(), str(remote), [local])
    assert sync.download() == 1 and (local / "old.ckpt").read_text() == "old"

    (local / "new.ckpt").write_text("being written")
    sync.sync(final=False)
    assert not (remote / "new.ckpt").exists()          # seen once: may still be growing
    sync.sync(final=False)
    assert (remote / "new.ckpt").read_text() == "being written"   # unchanged between two scans

    (local / "old.ckpt").unlink()
    (local / "last.ckpt").write_text("at the end")
    sync.stop()                                         # final sync uploads regardless
    assert sorted(p.name for p in remote.iterdir()) == ["last.ckpt", "new.ckpt"]
    assert sync.uploaded == 2


def test_unchanged_restored_files_are_not_uploaded_again(tmp_path):
    remote, local = tmp_path / "remote", tmp_path / "local"
    (remote / "sub").mkdir(parents=True)
    (remote / "sub" / "a.ckpt").write_text("a")
    sync = CheckpointSync(Storage(), f"file://{remote}", [local])
    sync.download()
    sync.stop()
    assert sync.uploaded == 0 and (local / "sub" / "a.ckpt").exists()


def test_a_checkpoint_key_that_leaves_the_folder_is_refused_before_anything_is_written(tmp_path):
    class Listing(Storage):
        def list_tree(self, uri):
            return {"a.ckpt": ObjectInfo(uri + "/a.ckpt", "a.ckpt", 1),
                    "ckpt/../../outside": ObjectInfo(uri + "/ckpt/../../outside", "ckpt/../../outside", 1)}

        def download(self, items, progress, allow_links=True):
            raise AssertionError(f"nothing may be downloaded: {items}")

    with pytest.raises(StorageError, match=r"'s3://b/ckpt/ckpt/\.\./\.\./outside' cannot be placed inside"):
        CheckpointSync(Listing(), "s3://b/ckpt", [tmp_path / "local"]).download()
    assert not (tmp_path / "outside").exists()
