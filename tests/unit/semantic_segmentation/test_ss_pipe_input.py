"""Writing an epoch's augmented-manifest lines out as image/mask pairs."""
import pytest

from algorithms.common.pipe import Example
from algorithms.semantic_segmentation import pipe_input
from container.errors import ClientError
from emulator.sample_data import make_segmentation_set

SOURCE = "stream train_0 of channel 'train'"


class Lines:
    """Stands in for a PipeChannel: examples() yields the given lines."""

    def __init__(self, lines):
        self.lines = lines

    def examples(self, attributes):
        assert attributes == 2
        yield from (Example(number, pair) for number, pair in enumerate(self.lines))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    sample = make_segmentation_set(tmp_path_factory.mktemp("ss") / "set", 3, 2, size=(20, 28), seed=4, fmt="PNG")
    return [(image.read_bytes(), (sample["annotations"] / f"{image.stem}.png").read_bytes())
            for image in sorted(sample["images"].iterdir())]


def test_lines_become_file_mode_pairs(tmp_path, pairs):
    jpeg = b"\xff\xd8\xff\xe0 a JPEG"
    written = pipe_input.write_pairs(Lines([pairs[0], (jpeg, pairs[1][1])]), tmp_path / "train-epoch0", SOURCE)
    assert [(i.name, m.name) for i, m in written] == [("line-0.png", "line-0.png"), ("line-1.jpg", "line-1.png")]
    assert written[0][0].read_bytes() == pairs[0][0] and written[0][1].read_bytes() == pairs[0][1]
    assert written[1][0].read_bytes() == jpeg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-epoch0"]


@pytest.mark.parametrize("line, message", [
    ("json-label", "the label attribute of line 1 is not a PNG mask"),
    ("gif-image", "the image of line 1 is neither JPEG nor PNG"),
])
def test_bad_lines_leave_nothing_behind(tmp_path, pairs, line, message):
    bad = (pairs[1][0], b'{"class": 1}') if line == "json-label" else (b"GIF89a...", pairs[1][1])
    with pytest.raises(ClientError, match=message):
        pipe_input.write_pairs(Lines([pairs[0], bad]), tmp_path / "train-epoch0", SOURCE)
    assert list(tmp_path.iterdir()) == []


def test_an_empty_stream_is_refused(tmp_path):
    with pytest.raises(ClientError, match="holds no manifest lines"):
        pipe_input.write_pairs(Lines([]), tmp_path / "train-epoch0", SOURCE)
    assert list(tmp_path.iterdir()) == []
