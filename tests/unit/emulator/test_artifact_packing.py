import os
import tarfile

from emulator.packing import pack_and_store
from emulator.storage import Storage


def test_hosts_are_merged_first_host_wins_and_links_are_skipped(tmp_path):
    a, b = tmp_path / "algo-1", tmp_path / "algo-2"
    (a / "sub").mkdir(parents=True)
    b.mkdir()
    (a / "model.params").write_bytes(b"from-1")
    (a / "sub" / "x.json").write_text("{}")
    (b / "model.params").write_bytes(b"from-2")
    (b / "extra.txt").write_text("2")
    os.symlink("/etc/passwd", a / "link")
    os.mkfifo(b / "fifo")
    dest = tmp_path / "out" / "job" / "output" / "model.tar.gz"
    files = pack_and_store([a, b], str(dest), Storage(), tmp_path / "scratch")
    with tarfile.open(dest) as tar:
        names = sorted(m.name for m in tar.getmembers())
        assert tar.extractfile("model.params").read() == b"from-1"
        assert all(m.uid == 0 for m in tar.getmembers())
    assert names == ["extra.txt", "model.params", "sub", "sub/x.json"]
    assert files == 3
    assert sorted(p.name for p in dest.parent.iterdir()) == ["model.tar.gz"]  # no temporary leftovers


def test_empty_or_missing_folders_give_an_empty_tarball(tmp_path):
    dest = tmp_path / "model.tar.gz"
    assert pack_and_store([tmp_path / "none"], f"file://{dest}", Storage(), tmp_path / "scratch") == 0
    with tarfile.open(dest) as tar:
        assert tar.getmembers() == []


def test_partial_files_of_a_killed_job_are_neither_packed_nor_uploaded_as_checkpoints(tmp_path):
    """Artifacts are written as `*.tmp` (or in a `*.tmp` folder) and renamed when complete."""
    from emulator.checkpoints import CheckpointSync

    model = tmp_path / "model"
    (model / ".export-x1.tmp").mkdir(parents=True)
    (model / ".export-x1.tmp" / "model_algo_1-0000.params").write_bytes(b"half")
    (model / "model_algo_1-0000.params.tmp").write_bytes(b"half")
    (model / "model_algo_1-0000.params").write_bytes(b"complete")
    dest = tmp_path / "model.tar.gz"
    assert pack_and_store([model], str(dest), Storage(), tmp_path / "scratch") == 1
    with tarfile.open(dest) as tar:
        assert tar.getnames() == ["model_algo_1-0000.params"]

    remote = tmp_path / "remote"
    remote.mkdir()
    sync = CheckpointSync(Storage(), str(remote), [model])
    sync.stop()  # the final sync uploads everything complete
    assert [p.name for p in remote.iterdir()] == ["model_algo_1-0000.params"]
