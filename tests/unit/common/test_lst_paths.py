"""A .lst file names images inside its channel; nothing it lists may be read from elsewhere."""
import os

import pytest

from algorithms.common.recordio import ListEntry, pack_lst
from container.errors import ClientError

JPEG_LIKE = b"\xff\xd8 not decoded while packing"


@pytest.fixture
def channel(tmp_path):
    root = tmp_path / "data" / "train"
    (root / "cats").mkdir(parents=True)
    (root / "cats" / "a.jpg").write_bytes(JPEG_LIKE)
    (tmp_path / "secret.jpg").write_bytes(b"outside the channel")
    os.symlink(tmp_path / "secret.jpg", root / "link.jpg")
    os.symlink(root / "cats" / "a.jpg", root / "inside-link.jpg")
    return root


@pytest.mark.parametrize("listed", ["../../secret.jpg", "cats/../../../secret.jpg", "link.jpg", "/etc/passwd",
                                    "{tmp}/secret.jpg"])
def test_paths_that_leave_the_channel_are_refused(channel, tmp_path, listed):
    listed = listed.format(tmp=tmp_path)
    with pytest.raises(ClientError, match=r"train.lst lists .*, which is outside the channel: paths in a \.lst "
                                          r"file must be relative to the channel folder"):
        pack_lst([ListEntry(0, (0.0,), listed)], channel, tmp_path / "work" / "train.rec", "train.lst")
    assert not (tmp_path / "work" / "train.rec").exists()


def test_paths_inside_the_channel_are_packed(channel, tmp_path):
    entries = [ListEntry(0, (0.0,), "cats/a.jpg"), ListEntry(1, (1.0,), "cats/./../cats/a.jpg"),
               ListEntry(2, (1.0,), "inside-link.jpg")]
    rec = pack_lst(entries, channel, tmp_path / "work" / "train.rec", "train.lst")
    assert rec.read_bytes().count(JPEG_LIKE) == 3


def test_a_missing_image_is_named(channel, tmp_path):
    with pytest.raises(ClientError, match="train.lst lists 'cats/b.jpg', which is not in the channel"):
        pack_lst([ListEntry(0, (0.0,), "cats/b.jpg")], channel, tmp_path / "train.rec", "train.lst")
