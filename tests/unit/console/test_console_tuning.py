"""A tuning job's pages: the list, and its training jobs best first with their tuned values."""
import json
import re
import time

import pytest

from tests.unit.console.conftest import HOST, REPO, running_app

TUNING_ALGORITHM = REPO / "tests" / "functional" / "api" / "tuning_algorithm.py"  # accuracy = 1 - (x - 0.3)^2


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    root = tmp_path_factory.mktemp("tuning")
    (root / "train").mkdir()
    (root / "train" / "a.txt").write_text("alpha")
    with running_app(root / "home", TUNING_ALGORITHM, max_concurrent_jobs=2) as app:
        client = app.test_client()
        request = {"HyperParameterTuningJobName": "console-tune", "HyperParameterTuningJobConfig": {
            "Strategy": "Random", "RandomSeed": 7,
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}},
            "TrainingJobDefinition": {
                "AlgorithmSpecification": {"TrainingImage": "811284229777.dkr.ecr.us-east-1.amazonaws.com/"
                                                            "image-classification:1", "TrainingInputMode": "File"},
                "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
                "StaticHyperParameters": {"epochs": "2", "seconds_per_epoch": "0.1"},
                "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix", "S3Uri": (root / "train").as_uri()}}}],
                "OutputDataConfig": {"S3OutputPath": (root / "output").as_uri()},
                "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 600}}}
        answer = client.post("/", data=json.dumps(request), headers={
            **HOST, "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.CreateHyperParameterTuningJob"})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        deadline = time.monotonic() + 90
        while "Completed</span>" not in (page := client.get("/console/tuning-jobs", headers=HOST).get_data(as_text=True)):
            assert time.monotonic() < deadline, page
            time.sleep(0.2)
        yield client, page


def test_the_list_shows_the_tuning_job_and_its_progress(tuned):
    _, page = tuned
    row = re.search(r"<tr><td><a href=\"/console/tuning-jobs/console-tune\">console-tune</a></td>(.*?)</tr>", page, re.S)
    assert row and "Random" in row[1] and re.search(r"3\s*/\s*3", row[1])


def test_its_page_ranks_the_training_jobs_by_objective_with_their_tuned_values(tuned):
    client, _ = tuned
    page = client.get("/console/tuning-jobs/console-tune", headers=HOST).get_data(as_text=True)
    assert "Maximize <code>validation:accuracy</code>" in page
    names = re.findall(r'<tr><td><a href="/console/training-jobs/(console-tune-[^"]+)"', page)
    values = [float(v) for v in re.findall(r"</span></td>\s*<td>([0-9.]+)</td>", page)]
    tuned_x = [float(x) for x in re.findall(r"<code>x=([0-9.]+)</code>", page)]
    assert len(names) == 3 and len(values) == 3 and len(tuned_x) == 3
    assert values == sorted(values, reverse=True)
    assert values == pytest.approx([1 - (x - 0.3) ** 2 for x in tuned_x], abs=1e-4)
    best = re.search(r"Best training job</dt><dd><a href=\"/console/training-jobs/([^\"]+)\"", page)[1]
    assert best == names[0]
