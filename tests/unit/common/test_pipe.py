"""Pipe-mode reading: FIFOs opened epoch by epoch, RecordIO streams, augmented-manifest lines."""
import os
import threading
import time

import pytest

from algorithms.common.pipe import PipeChannel, PipeInterrupted, group_attributes
from container.errors import ClientError
from container.stop import StopSignal
from emulator.recordio import encode_record

JPEG = b"\xff\xd8\xff\xe0" + b"jpeg-bytes"
PNG = b"\x89PNG\r\n\x1a\n" + b"png-bytes"


def feed(folder, channel, epochs, delay=0.0):
    """Act like the platform: create <channel>_<n>, write, close, remove, next."""
    def run():
        for epoch, data in enumerate(epochs):
            path = folder / f"{channel}_{epoch}"
            time.sleep(delay)
            os.mkfifo(path)
            with open(path, "wb") as pipe:  # blocks until the reader opens it
                pipe.write(data)
            path.unlink()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_epochs_are_read_in_order_waiting_for_each_fifo(tmp_path):
    records = [b"a" * 5, b"b" * 4 + encode_record(b"")[:4] + b"tail", b""]  # one payload holds the magic word
    stream = b"".join(encode_record(r) for r in records)
    writer = feed(tmp_path, "train", [stream, b"", stream], delay=0.3)
    channel = PipeChannel(tmp_path, "train")
    assert list(channel.records()) == records
    assert list(channel.records()) == []          # an empty epoch is just that
    assert list(channel.records()) == records
    assert channel.epoch == 3
    writer.join(5)


def test_spool_copies_an_epoch_whole(tmp_path):
    data = os.urandom(3 << 20)
    writer = feed(tmp_path, "train", [data])
    target = tmp_path / "work" / "epoch0.rec"
    assert PipeChannel(tmp_path, "train").spool_next(target) == len(data)
    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["epoch0.rec"]
    writer.join(5)


def test_sigterm_ends_waiting_for_the_next_fifo(tmp_path):
    stop = StopSignal()
    threading.Timer(0.3, stop.request).start()
    started = time.monotonic()
    with pytest.raises(PipeInterrupted):
        PipeChannel(tmp_path, "train", stop).open_next()
    assert time.monotonic() - started < 3


def test_sigterm_ends_a_read_that_waits_for_data(tmp_path):
    os.mkfifo(tmp_path / "train_0")
    writer_fd = []
    opener = threading.Thread(target=lambda: writer_fd.append(os.open(tmp_path / "train_0", os.O_WRONLY)))
    opener.start()
    stop = StopSignal()
    target = tmp_path / "work" / "epoch0.rec"
    threading.Timer(0.5, stop.request).start()
    with pytest.raises(PipeInterrupted):
        PipeChannel(tmp_path, "train", stop).spool_next(target)  # the writer is connected but silent
    assert not target.parent.exists() or list(target.parent.iterdir()) == []  # nothing half-written
    opener.join(5)
    os.close(writer_fd[0])


def test_corrupt_stream_names_the_fifo(tmp_path):
    writer = feed(tmp_path, "validation", [b"plain bytes, not RecordIO"])
    with pytest.raises(ClientError, match=r"Corrupt RecordIO stream validation_0 of channel 'validation': "
                                          r"bad magic number at byte 0"):
        list(PipeChannel(tmp_path, "validation").records())
    writer.join(5)


def test_augmented_manifest_lines_group_image_then_label(tmp_path):
    stream = b"".join(encode_record(r) for r in [JPEG, b"1", PNG, b"[0, 2]"])
    writer = feed(tmp_path, "train", [stream])
    examples = list(PipeChannel(tmp_path, "train").examples(2))
    assert [(e.number, e.image, e.label) for e in examples] == [(0, JPEG, b"1"), (1, PNG, b"[0, 2]")]
    assert examples[1].label_json("here") == [0, 2]
    writer.join(5)


@pytest.mark.parametrize("records, message", [
    ([b"1", JPEG], "line 0 does not start with an image"),               # AttributeNames in the wrong order
    ([JPEG, b"1", JPEG], "ended in the middle of line 1"),               # an attribute missing
    ([encode_record(JPEG), b"1"], "wrapped in RecordIO records: set RecordWrapperType to None"),
])
def test_malformed_augmented_manifests_are_client_errors(records, message):
    with pytest.raises(ClientError, match=message):
        list(group_attributes(iter(records), 2, "stream train_0 of channel 'train'"))


def test_a_label_that_is_not_json_is_a_client_error():
    example = next(group_attributes(iter([JPEG, b"\xff\xfe"]), 2, "s"))
    with pytest.raises(ClientError, match="label attribute of line 0 is not JSON"):
        example.label_json("s")
