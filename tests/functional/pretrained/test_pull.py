"""`smlocal pretrained pull` against a model zoo on loopback: download into the algorithms' layout,
resume after an interrupted transfer, refuse a checksum mismatch, and `list`."""
import json
import os

import pytest
from click.testing import CliRunner

from emulator.pretrained.cli import pretrained
from tests.functional.pretrained.zoo import LoopbackZoo, publish, zoo_path

SIZE = 3 * 1024 * 1024 + 17  # several read chunks, not a round number


@pytest.fixture
def zoo(tmp_path):
    with LoopbackZoo(tmp_path / "zoo") as server:
        yield server


@pytest.fixture
def weights(tmp_path):
    """Stand-in bytes: pull verifies them by sha1 only (the name/shape check is for zoos without one)."""
    path = tmp_path / "resnet50_v1s-25a187fa.params"
    path.write_bytes(os.urandom(SIZE))
    return path


def pull(zoo, store, checksums, *args):
    table = store.parent / "checksums.json"
    table.write_text(json.dumps(checksums))
    return CliRunner().invoke(pretrained, ["pull", *args, "--store", str(store), "--zoo-url", zoo.url,
                                     "--checksums", str(table)])


def test_pull_verifies_and_stores_where_the_algorithm_reads(zoo, weights, tmp_path):
    sha1 = publish(zoo.root, "resnet50_v1s", weights)
    store = tmp_path / "store"
    result = pull(zoo, store, {"resnet50_v1s": sha1}, "resnet50_v1s")
    assert result.exit_code == 0, result.output
    stored = store / "semantic-segmentation" / "resnet50_v1s.params"
    assert stored.read_bytes() == weights.read_bytes()
    record = json.loads((store / "semantic-segmentation" / "resnet50_v1s.params.source.json").read_text())
    assert record["sha1"] == sha1 and record["verified"] == "published sha1"
    assert record["origin"] == zoo.url + "gluon/models/resnet50_v1s-25a187fa.zip"
    assert not [p for p in (store / ".partial").iterdir() if not p.name.endswith(".lock")]

    again = pull(zoo, store, {"resnet50_v1s": sha1}, "semantic-segmentation")  # an algorithm name: all its weights
    assert again.exit_code != 0  # resnet101_v1s is not in this zoo ...
    assert "resnet50_v1s: already in the store" in again.output  # ... and resnet50_v1s is not fetched again
    assert [path for path, _ in zoo.requests].count(zoo_path("resnet50_v1s")) == 1
    assert "resnet101_v1s: FAILED: " + zoo.url + "gluon/models/resnet101_v1s-bd93a83c.zip answered HTTP 404" \
        in again.output

    listed = CliRunner().invoke(pretrained, ["list", "--store", str(store)])
    lines = listed.output.splitlines()
    assert lines[0] == f"Model store: {store}"
    row = next(line for line in lines if line.startswith("resnet50_v1s "))
    assert row.split()[:4] == ["resnet50_v1s", "present", "3.1", "MB"]
    assert row.endswith("semantic-segmentation backbone=resnet-50")
    assert f"from {zoo.url}gluon/models/resnet50_v1s-25a187fa.zip (verified: published sha1)" in listed.output
    missing = next(line for line in lines if line.startswith("imagenet1k-resnet-50 "))
    assert missing.split()[1] == "missing" and missing.endswith("image-classification num_layers=50")


def test_an_interrupted_transfer_resumes_where_it_stopped(zoo, weights, tmp_path):
    sha1 = publish(zoo.root, "resnet50_v1s", weights)
    path = zoo_path("resnet50_v1s")
    archive_size = (zoo.root / path).stat().st_size
    store = tmp_path / "store"
    zoo.cut_after[path] = 1_000_000
    first = pull(zoo, store, {"resnet50_v1s": sha1}, "resnet50_v1s", "--retries", "0")
    assert first.exit_code == 2
    assert "run the command again to resume" in first.output
    partial = store / ".partial" / "resnet50_v1s.zip.part"
    assert partial.stat().st_size == 1_000_000
    assert not (store / "semantic-segmentation" / "resnet50_v1s.params").exists()

    zoo.cut_after[path] = 500_000  # this run is cut as well: its own retry resumes once more
    second = pull(zoo, store, {"resnet50_v1s": sha1}, "resnet50_v1s")
    assert second.exit_code == 0, second.output
    assert zoo.requests == [(path, None), (path, "bytes=1000000-"), (path, "bytes=1500000-")]
    assert zoo.sent_bytes == archive_size  # every byte crossed the wire once
    assert (store / "semantic-segmentation" / "resnet50_v1s.params").read_bytes() == weights.read_bytes()
    assert not partial.exists()


def test_a_server_that_ignores_range_gives_a_whole_file(zoo, weights, tmp_path):
    sha1 = publish(zoo.root, "resnet50_v1s", weights)
    zoo.cut_after[zoo_path("resnet50_v1s")] = 1_000_000
    zoo.ignore_range = True
    result = pull(zoo, tmp_path / "store", {"resnet50_v1s": sha1}, "resnet50_v1s")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "store" / "semantic-segmentation" / "resnet50_v1s.params").read_bytes() == weights.read_bytes()


def test_a_checksum_mismatch_stores_nothing_and_keeps_no_partial_file(zoo, weights, tmp_path):
    publish(zoo.root, "resnet50_v1s", weights)
    store = tmp_path / "store"
    wrong = "0" * 40
    result = pull(zoo, store, {"resnet50_v1s": wrong}, "resnet50_v1s")
    assert result.exit_code == 2
    assert (f"gluon/models/resnet50_v1s-25a187fa.zip gave a file with sha1 " in result.output
            and f"but the published sha1 of resnet50_v1s is {wrong}; the download was removed" in result.output)
    assert not (store / "semantic-segmentation" / "resnet50_v1s.params").exists()
    assert not [p for p in (store / ".partial").iterdir() if not p.name.endswith(".lock")]
    pull(zoo, store, {"resnet50_v1s": wrong}, "resnet50_v1s")
    assert zoo.requests[-1][1] is None  # the next attempt starts afresh, nothing to resume


def test_a_damaged_archive_is_refused_and_not_resumed(zoo, tmp_path):
    (zoo.root / zoo_path("resnet50_v1")).parent.mkdir(parents=True)
    (zoo.root / zoo_path("resnet50_v1")).write_bytes(b"PK\x03\x04 not really a zip")
    result = pull(zoo, tmp_path / "store", {}, "resnet50_v1")
    assert result.exit_code == 2
    assert "resnet50_v1-cc729d95.zip (downloaded to " in result.output and "is not a complete zip archive" in result.output
    assert not (tmp_path / "store" / ".partial" / "resnet50_v1.zip.part").exists()


def test_names_are_checked_before_anything_is_downloaded(zoo, tmp_path):
    result = pull(zoo, tmp_path / "store", {}, "resnet50")
    assert result.exit_code == 2
    assert "Unknown pretrained weights 'resnet50': known are imagenet1k-resnet-18, " in result.output
    assert "(or an algorithm name: image-classification, object-detection, semantic-segmentation)" in result.output
    neither = CliRunner().invoke(pretrained, ["pull", "--store", str(tmp_path / "store")])
    assert neither.exit_code == 2 and "Name the weights (or algorithms) to pull, or pass --all" in neither.output
    assert zoo.requests == []
