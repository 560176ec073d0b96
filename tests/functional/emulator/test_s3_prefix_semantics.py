"""How an S3Prefix selects objects and where each lands, in every input mode, against a real S3
server (SeaweedFS): the rule of docs/emulator.md, "Channels".

A prefix is a key prefix, not a folder: `s3://b/p/train` selects `p/train/...`, the sibling
prefix `p/train_annotation/...` and the object `p/train.csv`. An object below `<prefix>/` lands
at its key below it; any other selected object lands at its key below the prefix's folder
(`p/`). The fake algorithm reports the files of each File/FastFile channel and the SHA-256 of
each Pipe epoch.
"""
import hashlib
import json
import tarfile

import pytest

pytestmark = pytest.mark.s3

OBJECTS = {
    "p/train/a.jpg": b"image a",
    "p/train/sub/b.jpg": b"image b",
    "p/train_annotation/a.png": b"mask a",
    "p/train.csv": b"csv",
    "p/trainee/c.jpg": b"not matched by p/train/",
    "p/other/d.jpg": b"never matched",
}


def _channel(name: str, uri: str, mode: str) -> dict:
    return {"ChannelName": name, "InputMode": mode,
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def bucket_with_siblings(s3_env, s3_bucket):
    client = s3_env.client()
    for key, body in OBJECTS.items():
        client.put_object(Bucket=s3_bucket, Key=key, Body=body)
    return s3_bucket


def _seen(job) -> dict:
    assert job.result.status == "Completed", job.result.failure_reason
    with tarfile.open(job.result.output_artifacts) as tar:
        return json.loads(tar.extractfile("seen-algo-1.json").read())


@pytest.mark.parametrize("mode", ["File", "FastFile"])
def test_file_modes_place_each_object_by_the_prefix_rule(make_request, run_job, bucket_with_siblings, mode):
    b = bucket_with_siblings
    channels = [_channel("no_slash", f"s3://{b}/p/train", mode),
                _channel("slash", f"s3://{b}/p/train/", mode),
                _channel("one_object", f"s3://{b}/p/train.csv", mode),
                _channel("partial_name", f"s3://{b}/p/tra", mode)]
    seen = _seen(run_job(make_request(name=f"prefix-{mode.lower()}", InputDataConfig=channels)))["channels"]

    def files(channel):
        return {path: info["sha256"] for path, info in seen[channel].items()}

    # Below `p/train/`: at the key below it. Siblings of the text prefix: below the folder `p/`.
    assert files("no_slash") == {"a.jpg": _sha(b"image a"), "sub/b.jpg": _sha(b"image b"),
                                 "train_annotation/a.png": _sha(b"mask a"), "train.csv": _sha(b"csv"),
                                 "trainee/c.jpg": _sha(b"not matched by p/train/")}
    assert files("slash") == {"a.jpg": _sha(b"image a"), "sub/b.jpg": _sha(b"image b")}
    assert files("one_object") == {"train.csv": _sha(b"csv")}
    # A prefix that ends inside a name: every match keeps its path from the folder `p/` on.
    assert set(files("partial_name")) == {"train/a.jpg", "train/sub/b.jpg", "train_annotation/a.png", "train.csv",
                                          "trainee/c.jpg"}
    if mode == "FastFile":
        assert not any(info["writable"] for channel in seen.values() for info in channel.values())


def test_pipe_mode_streams_every_object_the_prefix_matches_in_key_order(make_request, run_job,
                                                                         bucket_with_siblings):
    b = bucket_with_siblings
    channels = [_channel("no_slash", f"s3://{b}/p/train", "Pipe"), _channel("slash", f"s3://{b}/p/train/", "Pipe")]
    seen = _seen(run_job(make_request(name="prefix-pipe", InputDataConfig=channels,
                                      AlgorithmSpecification={"TrainingInputMode": "Pipe",
                                                              "AlgorithmName": "image-classification"})))["pipes"]
    matched = sorted(key for key in OBJECTS if key.startswith("p/train"))
    assert seen["no_slash"] == [_sha(b"".join(OBJECTS[k] for k in matched))]
    below = [k for k in matched if k.startswith("p/train/")]
    assert seen["slash"] == [_sha(b"".join(OBJECTS[k] for k in below))]
