"""Training → Training jobs: the list, a job's page, Create training job, Stop, Clone, and
"Create incremental training job from this model".

Every read and write is an API operation (ListTrainingJobs, DescribeTrainingJob, ListTags,
CreateTrainingJob, StopTrainingJob; the Logs API's DescribeLogStreams and GetLogEvents) through
ConsoleBackend; the metric charts read the same time series GetMetricStatistics aggregates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for

from emulator import algorithms
from emulator.api.logs_ops import LOG_GROUP
from emulator.api.paging import encode_token
from emulator.console import hyperparameters as hp_check
from emulator.console.backend import ConsoleBackend
from emulator.console.formatting import sparkline
from emulator.console.job_form import (CHANNEL_CHOICES, CUSTOM_IMAGE, JOB_NAME_PATTERN, TRAINING_INPUT_MODES, JobForm,
                                       field_errors, instance_types)
from emulator.jobstate import TERMINAL
from emulator.spec import TrainingJobSpec, algorithm_of
from emulator.validation import RequestValidationError, operation_model, parse_input

PAGE_SIZE = 25
LOG_TAIL_EVENTS = 200
SORT_KEYS = ("CreationTime", "Name", "Status")
STATUSES = list(operation_model("sagemaker", "ListTrainingJobs").input_shape.members["StatusEquals"].enum)


@dataclass(frozen=True)
class ListQuery:
    """The list's filters, order and page, from the page's query string."""
    name: str = ""
    status: str = ""
    sort: str = "CreationTime"
    order: str = "Descending"
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "ListQuery":
        page = args.get("page", "1")
        return cls(args.get("name", "").strip(), args.get("status", ""),
                   args.get("sort") if args.get("sort") in SORT_KEYS else "CreationTime",
                   "Ascending" if args.get("order") == "Ascending" else "Descending",
                   int(page) if page.isdigit() and int(page) >= 1 else 1)

    def request(self) -> dict:
        params = {"MaxResults": PAGE_SIZE, "SortBy": self.sort, "SortOrder": self.order}
        if self.name:
            params["NameContains"] = self.name
        if self.status:
            params["StatusEquals"] = self.status
        if self.page > 1:  # ListTrainingJobs' own token for "after the first (page - 1) * PAGE_SIZE"
            params["NextToken"] = encode_token((self.page - 1) * PAGE_SIZE)
        return params

    def args(self, **changes) -> dict:
        values = {"name": self.name, "status": self.status, "sort": self.sort, "order": self.order,
                  "page": self.page, **changes}
        return {k: v for k, v in values.items() if v not in ("", None)}


def objective_metric(stored_request: dict) -> str | None:
    """The metric a job's sparkline shows: its built-in algorithm's objective, else its first metric definition."""
    spec = stored_request.get("AlgorithmSpecification", {})
    algorithm = algorithms.get(algorithm_of(None, spec.get("AlgorithmName"), spec.get("TrainingImage")))
    if algorithm is not None:
        return algorithm.objective
    definitions = spec.get("MetricDefinitions") or []
    return definitions[0]["Name"] if definitions else None


def metric_charts(backend: ConsoleBackend, job: str) -> list[dict]:
    """One chart per metric name, train and validation together (`train:accuracy` and
    `validation:accuracy` are the chart `accuracy`); points as [epoch seconds, value]."""
    charts: dict[str, dict] = {}
    for _, name in backend.store.metric_names(job):
        title = name.split(":", 1)[-1]
        points = [[p.timestamp, p.value] for p in backend.store.metric_values(job, name)]
        charts.setdefault(title, {"title": title, "series": []})["series"].append({"label": name, "points": points})
    return list(charts.values())


def log_tail(backend: ConsoleBackend, job: str, tokens: dict[str, str] | None = None) -> list[dict]:
    """The job's log streams (one per host), each with its newest events, or the events after
    `tokens[stream]` (a GetLogEvents forward token the page got before)."""
    streams = backend.call(backend.logs, "DescribeLogStreams",
                           {"logGroupName": LOG_GROUP, "logStreamNamePrefix": f"{job}/"})["logStreams"]
    tails = []
    for stream in streams:
        name = stream["logStreamName"]
        params = {"logGroupName": LOG_GROUP, "logStreamName": name, "limit": LOG_TAIL_EVENTS}
        if tokens and tokens.get(name):
            params.update(nextToken=tokens[name], startFromHead=True)
        else:
            params["startFromHead"] = False
        page = backend.call(backend.logs, "GetLogEvents", params)
        tails.append({"stream": name, "host": name.split("/", 1)[1].rsplit("-", 1)[0],
                      "lines": [e["message"] for e in page["events"]], "token": page["nextForwardToken"]})
    return tails


def create_blueprint(backend: ConsoleBackend) -> Blueprint:
    bp = Blueprint("training", __name__)

    # ---- the list ------------------------------------------------------------------------------

    def list_rows(query: ListQuery) -> tuple[list[dict], bool]:
        answer = backend.sm("ListTrainingJobs", **query.request())
        rows = []
        objectives: dict[str, str | None] = {}  # per algorithm: reading the manifest once per page, not per row
        for summary in answer["TrainingJobSummaries"]:
            stored = backend.store.job_by_arn(summary["TrainingJobArn"])  # the ARN is indexed
            spec = stored.request.get("AlgorithmSpecification", {}) if stored else {}
            key = json.dumps(spec, sort_keys=True, default=str)
            if key not in objectives:
                objectives[key] = objective_metric(stored.request) if stored else None
            metric = objectives[key]
            values = [p.value for p in backend.store.metric_values(stored.name, metric)] if metric else []
            rows.append({**summary, "metric": metric, "spark": sparkline(values),
                         "last_value": values[-1] if values else None})
        return rows, "NextToken" in answer

    @bp.get("/training-jobs")
    def training_jobs():
        query = ListQuery.from_args(request.args)
        error = None
        try:
            rows, has_next = list_rows(query)
        except RequestValidationError as exc:
            rows, has_next, error = [], False, exc.message
        template = "_training_rows.html" if request.args.get("fragment") == "rows" else "training_jobs.html"
        return render_template(template, rows=rows, query=query, has_next=has_next, statuses=STATUSES,
                               error=error, sort_keys=SORT_KEYS)

    # ---- a job's page --------------------------------------------------------------------------

    def describe(name: str) -> dict:
        try:
            return backend.sm("DescribeTrainingJob", TrainingJobName=name)
        except RequestValidationError:
            abort(404)

    def page_context(name: str) -> dict:
        job = describe(name)
        tags = backend.sm("ListTags", ResourceArn=job["TrainingJobArn"])["Tags"]
        return {"job": job, "tags": tags, "logs": log_tail(backend, name), "charts": metric_charts(backend, name),
                "terminal": job["TrainingJobStatus"] in TERMINAL}

    @bp.get("/training-jobs/<name>")
    def training_job(name: str):
        return render_template("training_job.html", **page_context(name))

    @bp.get("/training-jobs/<name>/live")
    def training_job_live(name: str):
        """What the page's script polls: the status section, new log lines, the charts' data."""
        job = describe(name)
        tokens = {k[len("token:"):]: v for k, v in request.args.items() if k.startswith("token:")}
        return jsonify(status=job["TrainingJobStatus"], terminal=job["TrainingJobStatus"] in TERMINAL,
                       status_html=render_template("_job_status.html", job=job),
                       logs=log_tail(backend, name, tokens), charts=metric_charts(backend, name))

    @bp.post("/training-jobs/<name>/stop")
    def stop_training_job(name: str):
        try:
            backend.sm("StopTrainingJob", TrainingJobName=name)
        except RequestValidationError as exc:
            return render_template("training_job.html", action_error=exc.message, **page_context(name)), 400
        return redirect(url_for("console.training.training_job", name=name), 303)

    # ---- Create training job -------------------------------------------------------------------

    def render_form(form: JobForm, errors: dict[str, str] | None = None, status: int = 200, source: str = ""):
        return render_template("create_training_job.html", form=form, errors=errors or {}, source=source,
                               builtins=algorithms.names(), custom=CUSTOM_IMAGE, instance_types=instance_types(),
                               input_modes=TRAINING_INPUT_MODES, channel_choices=CHANNEL_CHOICES,
                               name_pattern=JOB_NAME_PATTERN), status

    def problems(form: JobForm, *, create: bool) -> dict[str, str]:
        """The form's errors, each next to its field: the schema's for the hyperparameters and the
        API's checks of the request (botocore's model, the emulator's rules); with `create` and none
        of them, CreateTrainingJob itself, whose own refusals (a name in use, no data at a location)
        come back the same way."""
        schema = form.schema
        found = {f"hp.{k}": v for k, v in hp_check.problems(schema, form.hyperparameters).items()} if schema else {}
        body = form.request(backend.region)
        try:
            checked = parse_input(body, operation_model("sagemaker", "CreateTrainingJob").input_shape,
                                  backend.sagemaker.rules)
            checked.pop("Tags", None)
            TrainingJobSpec.from_request(checked)  # pure: creates nothing
        except RequestValidationError as exc:
            found.update(field_errors(exc.message, form))
        if create and not found:
            try:
                backend.sm("CreateTrainingJob", **body)
            except RequestValidationError as exc:
                found.update(field_errors(exc.message, form))
        return found

    @bp.get("/create-training-job")
    def create_training_job():
        source = request.args.get("from", "")
        if not source:
            return render_form(JobForm())
        job = describe(source)
        tags = backend.sm("ListTags", ResourceArn=job["TrainingJobArn"])["Tags"]
        incremental = request.args.get("incremental") == "1"
        if incremental and not job.get("ModelArtifacts"):
            abort(404)
        return render_form(JobForm.from_job(job, tags, incremental=incremental), source=source)

    @bp.post("/create-training-job")
    def submit_training_job():
        form = JobForm.from_form(request.form)
        action = request.form.get("action", "create")
        if action != "create":
            return render_form(form.changed(action))
        errors = problems(form, create=True)
        if errors:
            return render_form(form, errors, 400)
        return redirect(url_for("console.training.training_job", name=form.job_name), 303)

    @bp.post("/create-training-job/check")
    def check_training_job():
        """The form's errors as the user types (nothing is created)."""
        return jsonify(errors=problems(JobForm.from_form(request.form), create=False))

    return bp
