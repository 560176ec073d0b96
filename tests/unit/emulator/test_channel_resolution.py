import json

import pytest

from emulator.channels import resolve_channels
from emulator.spec import RequestValidationError, TrainingJobSpec
from emulator.storage import Storage


def make_spec(channels, instance_count=1, volume=30):
    return TrainingJobSpec.from_request({
        "TrainingJobName": "resolve-job",
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingInputMode": "File", "AlgorithmName": "image-classification"},
        "OutputDataConfig": {"S3OutputPath": "/tmp/out"},
        "InputDataConfig": channels,
        "ResourceConfig": {"InstanceCount": instance_count, "VolumeSizeInGB": volume},
    })


def ch(name, uri, **options):
    s3 = {"S3DataType": options.pop("data_type", "S3Prefix"), "S3Uri": str(uri)}
    if "distribution" in options:
        s3["S3DataDistributionType"] = options.pop("distribution")
    return {"ChannelName": name, "DataSource": {"S3DataSource": s3}, **options}


@pytest.fixture
def files(tmp_path):
    folder = tmp_path / "train"
    folder.mkdir()
    for i in range(7):
        (folder / f"img{i}.jpg").write_bytes(b"x" * (i + 1))
    return folder


def test_sharded_by_s3_key_deals_objects_round_robin(files):
    spec = make_spec([ch("train", files, distribution="ShardedByS3Key")], instance_count=3)
    source = resolve_channels(spec, Storage(), "us-east-1")["train"]
    shards = [[o.relative for o in source.for_host(i, 3)] for i in range(3)]
    assert shards == [["img0.jpg", "img3.jpg", "img6.jpg"], ["img1.jpg", "img4.jpg"], ["img2.jpg", "img5.jpg"]]


def test_fully_replicated_gives_every_host_everything(files):
    spec = make_spec([ch("train", files)], instance_count=2)
    source = resolve_channels(spec, Storage(), "us-east-1")["train"]
    assert source.for_host(0, 2) == source.for_host(1, 2) and len(source.for_host(1, 2)) == 7


def test_shuffle_is_seeded_and_pipe_epochs_differ(files):
    spec = make_spec([ch("train", files, ShuffleConfig={"Seed": 3})])
    source = resolve_channels(spec, Storage(), "us-east-1")["train"]
    assert source.for_host(0, 1) == source.for_host(0, 1)
    assert [o.relative for o in source.for_host(0, 1)] != sorted(o.relative for o in source.items)
    epochs = {tuple(o.relative for o in source.for_host(0, 1, epoch=e)) for e in range(5)}
    assert len(epochs) > 1


def test_empty_local_source_fails_at_submission(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RequestValidationError, match="No files found at local path"):
        resolve_channels(make_spec([ch("train", tmp_path / "empty")]), Storage(), "us-east-1")


def test_volume_size_is_enforced_per_host(tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(2 * 1024 ** 3 + 1)  # sparse: no real disk used
    with pytest.raises(RequestValidationError, match=r"host algo-1 needs 2.00 GiB .*VolumeSizeInGB = 2"):
        resolve_channels(make_spec([ch("train", big)], volume=2), Storage(), "us-east-1")
    assert resolve_channels(make_spec([ch("train", big)], volume=3), Storage(), "us-east-1")


def test_manifest_file_lists_objects_relative_to_its_prefix(files, tmp_path):
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": f"{files}/"}, "img1.jpg", "img5.jpg"]))
    source = resolve_channels(make_spec([ch("train", manifest, data_type="ManifestFile")]), Storage(),
                              "us-east-1")["train"]
    assert [(o.relative, o.size) for o in source.items] == [("img1.jpg", 2), ("img5.jpg", 6)]


def test_manifest_naming_a_missing_object_fails(files, tmp_path):
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": f"{files}/"}, "nope.jpg"]))
    with pytest.raises(RequestValidationError, match="nope.jpg"):
        resolve_channels(make_spec([ch("train", manifest, data_type="ManifestFile")]), Storage(), "us-east-1")


def augmented(manifest, attributes):
    return {"ChannelName": "train", "InputMode": "Pipe", "RecordWrapperType": "RecordIO",
            "DataSource": {"S3DataSource": {"S3DataType": "AugmentedManifestFile", "S3Uri": str(manifest),
                                            "AttributeNames": attributes}}}


def test_augmented_manifest_keeps_the_attributes_in_order(tmp_path):
    manifest = tmp_path / "train.manifest"
    manifest.write_text('{"class": 1, "source-ref": "s3://b/a.jpg", "other": 5}\n\n'
                        '{"source-ref": "s3://b/b.jpg", "class": 0}\n')
    spec = make_spec([augmented(manifest, ["source-ref", "class"])])
    source = resolve_channels(spec, Storage(), "us-east-1")["train"]
    assert [list(line.items()) for line in source.items] == [
        [("source-ref", "s3://b/a.jpg"), ("class", 1)], [("source-ref", "s3://b/b.jpg"), ("class", 0)]]


def test_augmented_manifest_lines_need_every_attribute(tmp_path):
    manifest = tmp_path / "train.manifest"
    manifest.write_text('{"source-ref": "s3://b/a.jpg", "class": 1}\n{"source-ref": "s3://b/b.jpg"}\n')
    with pytest.raises(RequestValidationError, match="Attribute 'class' .* missing on line 2"):
        resolve_channels(make_spec([augmented(manifest, ["source-ref", "class"])]), Storage(), "us-east-1")
