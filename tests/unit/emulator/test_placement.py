"""Which runner and image a job gets: SageMaker's built-in image URIs map to this project's images."""
import pytest

from emulator.runners.placement import Placer, builtin_algorithm
from emulator.runners.base import HostLayout, RunRequest
from emulator.spec import RequestValidationError, TrainingJobSpec


class FakeDocker:
    def __init__(self, engine=True, images=()):
        self._engine, self.images = engine, set(images)

    def engine(self):
        return self._engine

    def has_image(self, tag):
        return self._engine and tag in self.images


class FakeRunner:
    def __init__(self, name):
        self.name, self.sees_host_paths, self.started = name, name == "process", []

    def start(self, request, log):
        self.started.append(request)
        return "running"


def spec(image=None, algorithm=None, instance_type="ml.m5.large"):
    algo = {"TrainingInputMode": "File"}
    algo.update({"TrainingImage": image} if image else {"AlgorithmName": algorithm})
    return TrainingJobSpec.from_request({
        "TrainingJobName": "j", "RoleArn": "arn:aws:iam::123456789012:role/R", "AlgorithmSpecification": algo,
        "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 1}})


def placer(mode="auto", docker=None, gpus=0):
    return Placer(mode, docker=docker or FakeDocker(), gpu_count=lambda: gpus, runner_factory=FakeRunner)


@pytest.mark.parametrize("uri, algorithm", [
    ("811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1", "image-classification"),
    ("433757028032.dkr.ecr.us-west-2.amazonaws.com/object-detection:1", "object-detection"),
    ("685385470294.dkr.ecr.eu-west-1.amazonaws.com/semantic-segmentation:latest", "semantic-segmentation"),
    ("390948362332.dkr.ecr.cn-north-1.amazonaws.com.cn/image-classification:1", "image-classification"),
    ("811284229777.dkr.ecr.us-east-1.amazonaws.com/xgboost:1", None),
    ("my-registry/image-classification:1", None),
])
def test_builtin_image_uris_of_any_region_and_account(uri, algorithm):
    assert builtin_algorithm(spec(image=uri)) == algorithm


def test_auto_prefers_docker_when_the_engine_answers_and_the_image_exists():
    uri = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    placement = placer(docker=FakeDocker(images={"smlocal/image-classification:latest"})).place(spec(image=uri))
    assert (placement.kind, placement.image) == ("docker", "smlocal/image-classification:latest")
    assert placement.note == f"Runner: docker, image smlocal/image-classification:latest (for {uri})."


def test_auto_falls_back_to_processes_and_says_why():
    no_engine = placer(docker=FakeDocker(engine=False)).place(spec(algorithm="object-detection"))
    assert no_engine.kind == "process" and "no Docker engine answers" in no_engine.note
    no_image = placer(docker=FakeDocker(images=set())).place(spec(algorithm="object-detection"))
    assert no_image.kind == "process"
    assert "the Docker image smlocal/object-detection:latest does not exist on this machine" in no_image.note


def test_gpu_tag_only_with_gpus_and_the_image_built():
    images = {"smlocal/image-classification:latest", "smlocal/image-classification:gpu"}
    gpu_spec = spec(algorithm="image-classification", instance_type="ml.p3.2xlarge")
    assert placer(docker=FakeDocker(images=images), gpus=1).place(gpu_spec).image == "smlocal/image-classification:gpu"
    assert placer(docker=FakeDocker(images=images), gpus=0).place(gpu_spec).image == \
        "smlocal/image-classification:latest"


def test_bring_your_own_images_run_with_docker_and_a_forced_process_runner_refuses_them():
    placement = placer(docker=FakeDocker(engine=False)).place(spec(image="me/my-algo:3"))
    assert (placement.kind, placement.image) == ("docker", "me/my-algo:3")
    with pytest.raises(RequestValidationError, match="--runner process"):
        placer("process").place(spec(image="me/my-algo:3"))


def test_forced_runners():
    uri = "811284229777.dkr.ecr.us-east-1.amazonaws.com/semantic-segmentation:1"
    forced_docker = placer("docker", docker=FakeDocker(engine=False)).place(spec(image=uri))
    assert (forced_docker.kind, forced_docker.image) == ("docker", "smlocal/semantic-segmentation:latest")
    forced_process = placer("process", docker=FakeDocker(images={"smlocal/semantic-segmentation:latest"}))
    assert forced_process.place(spec(image=uri)).kind == "process"


def test_a_placement_is_a_runner_that_starts_the_local_image(tmp_path):
    uri = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
    placement = placer(docker=FakeDocker(images={"smlocal/image-classification:latest"})).place(spec(image=uri))
    request = RunRequest(job_name="j", algorithm="image-classification", image=uri, instance_type="ml.m5.large",
                         hosts=[HostLayout("algo-1", tmp_path)])
    assert placement.start(request, lambda host, line: None) == "running"
    assert placement.runner.started[0].image == "smlocal/image-classification:latest"
    assert (placement.name, placement.sees_host_paths) == ("docker", False)
