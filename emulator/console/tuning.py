"""Training → Hyperparameter tuning jobs: the list and a tuning job's page (its training jobs,
with their tuned hyperparameters and objective values, best first)."""
from __future__ import annotations

from flask import Blueprint, abort, render_template

from emulator.console.backend import ConsoleBackend
from emulator.validation import RequestValidationError

LIST_SIZE = 100


def create_blueprint(backend: ConsoleBackend) -> Blueprint:
    bp = Blueprint("tuning", __name__)

    @bp.get("/tuning-jobs")
    def tuning_jobs():
        found = backend.sm("ListHyperParameterTuningJobs", MaxResults=LIST_SIZE)
        return render_template("tuning_jobs.html", jobs=found["HyperParameterTuningJobSummaries"])

    @bp.get("/tuning-jobs/<name>")
    def tuning_job(name: str):
        try:
            job = backend.sm("DescribeHyperParameterTuningJob", HyperParameterTuningJobName=name)
        except RequestValidationError:
            abort(404)
        trials = backend.sm("ListTrainingJobsForHyperParameterTuningJob", HyperParameterTuningJobName=name,
                            MaxResults=LIST_SIZE, SortBy="FinalObjectiveMetricValue")["TrainingJobSummaries"]
        ranked = {t["TrainingJobName"] for t in trials}
        unranked = [t for t in backend.sm("ListTrainingJobsForHyperParameterTuningJob",
                                          HyperParameterTuningJobName=name, MaxResults=LIST_SIZE)
                    ["TrainingJobSummaries"] if t["TrainingJobName"] not in ranked]
        return render_template("tuning_job.html", job=job, trials=trials + unranked)

    return bp
