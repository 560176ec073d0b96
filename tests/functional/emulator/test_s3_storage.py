"""emulator.storage against a real S3-compatible server (SeaweedFS on loopback)."""
import os
import threading

import pytest

from emulator.storage import ObjectInfo, Storage, StorageError

pytestmark = pytest.mark.s3


def put(client, bucket, key, body=b"x"):
    client.put_object(Bucket=bucket, Key=key, Body=body)


def test_prefix_listing_and_relative_paths(s3_env, s3_bucket):
    client = s3_env.client()
    for key in ("data/train/a.jpg", "data/train/sub/b.jpg", "data/train-01/c.jpg", "data/other/d.jpg",
                "data/train/folder/"):
        put(client, s3_bucket, key)
    storage = Storage()
    with_slash = {o.relative for o in storage.list_prefix(f"s3://{s3_bucket}/data/train/")}
    assert with_slash == {"a.jpg", "sub/b.jpg"}
    without = {o.relative for o in storage.list_prefix(f"s3://{s3_bucket}/data/train")}
    assert without == {"a.jpg", "sub/b.jpg", "train-01/c.jpg"}
    single = storage.list_prefix(f"s3://{s3_bucket}/data/train/a.jpg")
    assert [(o.relative, o.size) for o in single] == [("a.jpg", 1)]
    assert storage.list_prefix(f"s3://{s3_bucket}/nothing/") == []


def test_download_many_objects_in_parallel_with_progress(s3_env, s3_bucket, tmp_path):
    client = s3_env.client()
    for i in range(20):
        put(client, s3_bucket, f"many/{i:02d}.bin", bytes([i]) * (1000 + i))
    storage = Storage()
    objects = storage.list_prefix(f"s3://{s3_bucket}/many/")
    progress = []
    lock = threading.Lock()

    def count(n):
        with lock:
            progress.append(n)
    storage.download([(o, tmp_path / o.relative) for o in objects], count)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{i:02d}.bin" for i in range(20)]
    assert (tmp_path / "07.bin").read_bytes() == bytes([7]) * 1007
    assert sum(progress) == sum(o.size for o in objects)


def test_multipart_upload_round_trip(s3_env, s3_bucket, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024) * 20)  # 20 MiB > 16 MiB multipart threshold
    storage = Storage()
    uri = f"s3://{s3_bucket}/out/job/output/model.tar.gz"
    storage.upload(big, uri)
    head = s3_env.client().head_object(Bucket=s3_bucket, Key="out/job/output/model.tar.gz")
    assert head["ContentLength"] == big.stat().st_size
    assert "-" in head["ETag"]  # a multipart ETag: uploaded in parts, visible only once complete
    storage.download([(ObjectInfo(uri, "m.tar.gz", head["ContentLength"]), tmp_path / "back.bin")], lambda n: None)
    assert (tmp_path / "back.bin").read_bytes() == big.read_bytes()


def test_errors_name_the_location(s3_env):
    with pytest.raises(StorageError, match="s3://no-such-bucket-here/x"):
        Storage().list_prefix("s3://no-such-bucket-here/x")
