"""The incremental-training guide's console flow, in a real browser against `smlocal api`:
the list, Create training job (an inline error first), the job reaching Completed, its metric
chart and artifact, then "Create incremental training job from this model" and the second job
warm-starting from the first. Every page is saved as a screenshot and checked for unlabelled
inputs."""
from __future__ import annotations

import re
import time

import pytest
try:
    from playwright.sync_api import Page, expect
except ImportError:  # the `browser` fixture then skips the tests, or fails them under CI (conftest.unavailable)
    Page = expect = None

from tests.browser.conftest import NUM_CLASSES
from tests.functional.api.conftest import IC_IMAGE

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 150_000
HYPERPARAMETERS = {"num_classes": "4", "num_training_samples": "64", "epochs": "2", "image_shape": "3,28,28",
                   "mini_batch_size": "16", "learning_rate": "0.05"}
# What the image-classification algorithm logs when it starts from a model channel.
WARM_START_LINE = "Incremental training: initialising from"

UNLABELLED_INPUTS = """() => [...document.querySelectorAll('input, select, textarea')]
    .filter(el => el.type !== 'hidden')
    .filter(el => el.labels.length === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map(el => el.outerHTML.slice(0, 120))"""


def visited(page: Page, artifacts, name: str) -> None:
    """Every page a test looks at: a screenshot, and every input has a label."""
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    assert page.evaluate(UNLABELLED_INPUTS) == [], f"inputs without a label on {name}"


def channel(page: Page, number: int):
    return page.get_by_role("group", name=re.compile(rf"^Channel {number}\b"))


def test_incremental_training_through_the_console(page: Page, console_server, ic_channels, artifacts):
    started = time.monotonic()
    page.goto(console_server.endpoint)  # a browser asking for / lands on the console
    expect(page).to_have_url(re.compile(r"/console/training-jobs$"))
    expect(page.get_by_role("heading", name="Training jobs")).to_be_visible()
    visited(page, artifacts, "01-training-jobs-empty")

    page.get_by_role("link", name="Create training job").click()
    expect(page.get_by_role("heading", name="Create training job")).to_be_visible()
    name_field = page.get_by_label("Job name", exact=True)
    name_error = page.locator("#job_name-error")

    # Checked as the user types, with the API's own words.
    name_field.fill("first_job!")
    expect(name_error).to_be_visible()
    expect(name_error).to_contain_text("Value 'first_job!' at 'trainingJobName' failed to satisfy constraint: "
                                       "Member must satisfy regular expression pattern")
    expect(name_field).to_have_attribute("aria-invalid", "true")
    visited(page, artifacts, "02-create-inline-error")
    name_field.fill("console-first")
    expect(name_error).to_be_hidden()

    expect(page.get_by_label("Instance type")).to_have_value("ml.m4.xlarge")
    expect(page.get_by_label("Instance count")).to_have_value("1")
    page.get_by_label("Additional volume per instance (GB)").fill("1")

    # A hyperparameter the schema refuses is shown next to it, in the schema's words.
    epochs = page.get_by_label("epochs", exact=True)
    epochs.fill("0")
    expect(page.locator("[id='hp.epochs-error']")).to_contain_text(
        "Invalid value '0' for hyperparameter 'epochs': expected an integer >= 1")
    for key, value in HYPERPARAMETERS.items():
        page.get_by_label(key, exact=True).fill(value)
    page.get_by_label("num_layers", exact=True).select_option("18")
    expect(page.locator("[id='hp.epochs-error']")).to_be_hidden()

    train = channel(page, 1)
    expect(train.get_by_label("Channel name")).to_have_value("train")
    train.get_by_label("Content type").fill("application/x-recordio")
    train.get_by_label("S3 location").fill(ic_channels["train"].as_uri())
    page.get_by_role("button", name="Add channel").click()
    validation = channel(page, 2)
    validation.get_by_label("Channel name").fill("validation")
    validation.get_by_label("Content type").fill("application/x-recordio")
    validation.get_by_label("S3 location").fill(ic_channels["validation"].as_uri())
    page.get_by_label("S3 output path").fill(ic_channels["output"].as_uri())
    page.get_by_role("button", name="Add tag").click()
    page.get_by_role("group", name="Tags").get_by_label("Key").fill("project")
    page.get_by_role("group", name="Tags").get_by_label("Value").fill("console")
    visited(page, artifacts, "03-create-filled")
    page.get_by_role("button", name="Create training job").click()

    # The job's page follows it live until it ends.
    expect(page).to_have_url(re.compile(r"/console/training-jobs/console-first$"))
    expect(page.locator("#job-status-value")).to_have_text("Completed", timeout=JOB_TIMEOUT_MS)
    charts = page.locator("#metric-charts")
    accuracy = charts.locator("figure.chart[data-title='accuracy']")
    expect(accuracy.locator("canvas").first).to_be_visible()
    expect(accuracy.locator(".u-legend")).to_contain_text("train:accuracy")
    expect(accuracy.locator(".u-legend")).to_contain_text("validation:accuracy")
    model_uri = f"{ic_channels['output'].as_uri()}/console-first/output/model.tar.gz"
    expect(page.locator("#model-artifact")).to_have_text(model_uri)
    expect(page.locator("table.history")).to_contain_text("Training job completed")
    expect(page.locator("#job-logs")).to_contain_text("Epoch[1] Validation-accuracy=")
    expect(page.locator("#job-tags")).to_contain_text("project")
    visited(page, artifacts, "04-job-completed")

    page.get_by_role("link", name="Training jobs").first.click()
    row = page.locator("tr[data-job='console-first']")
    expect(row).to_contain_text("Completed")
    expect(row.locator("svg.spark polyline")).to_have_count(1)
    visited(page, artifacts, "05-training-jobs")

    row.get_by_role("link", name="console-first").click()
    page.get_by_role("link", name="Clone").click()
    expect(page.get_by_label("Job name", exact=True)).to_have_value("console-first-copy")
    expect(channel(page, 2).get_by_label("S3 location")).to_have_value(ic_channels["validation"].as_uri())
    page.go_back()
    page.get_by_role("link", name="Create incremental training job from this model").click()
    expect(page.get_by_label("Job name", exact=True)).to_have_value("console-first-incremental")
    model = channel(page, 3)
    expect(model.get_by_label("Channel name")).to_have_value("model")
    expect(model.get_by_label("S3 location")).to_have_value(model_uri)
    expect(page.get_by_label("epochs", exact=True)).to_have_value("2")
    visited(page, artifacts, "06-create-incremental")
    page.get_by_role("button", name="Create training job").click()
    expect(page).to_have_url(re.compile(r"/console/training-jobs/console-first-incremental$"))

    # The list follows the new job without a reload.
    page.get_by_role("link", name="Training jobs").first.click()
    second = page.locator("tr[data-job='console-first-incremental']")
    expect(second).to_contain_text("InProgress")
    page.evaluate("window.notReloaded = true")
    expect(second).to_contain_text("Completed", timeout=JOB_TIMEOUT_MS)
    assert page.evaluate("window.notReloaded === true")

    second.get_by_role("link", name="console-first-incremental").click()
    expect(page.locator("#job-status-value")).to_have_text("Completed")
    expect(page.locator("#job-logs")).to_contain_text(WARM_START_LINE)
    expect(page.locator("table.channels")).to_contain_text(model_uri)
    visited(page, artifacts, "07-incremental-job")
    print(f"console flow took {time.monotonic() - started:.1f} s")
    read_without_javascript(page.context.browser, console_server, artifacts)
    deploy_and_predict(page, console_server, model_uri, ic_channels, artifacts)


def read_without_javascript(browser, console_server, artifacts) -> None:
    """The pages read without scripts: the rows, the status, the metric values, the log."""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{console_server.endpoint}/console/training-jobs?sort=Name&order=Ascending")
        expect(page.locator("tr[data-job]")).to_have_count(2)
        page.get_by_role("link", name="console-first", exact=True).click()
        expect(page.locator("#job-status-value")).to_have_text("Completed")
        expect(page.locator("figure.chart[data-title='accuracy'] table.chart-data")).to_contain_text(
            "validation:accuracy")
        expect(page.locator("#job-logs")).to_contain_text("Epoch[1] Train-accuracy=")
        visited(page, artifacts, "10-job-without-javascript")
    finally:
        context.close()


def deploy_and_predict(page: Page, console_server, model_uri: str, ic_channels, artifacts) -> None:
    """The first job's model behind an endpoint (made with boto3), then, in the console: the
    model's Primary container, and a test image sent from the endpoint's page."""
    sm = console_server.client("sagemaker")
    sm.create_model(ModelName="console-model", ExecutionRoleArn="arn:aws:iam::123456789012:role/SageMakerRole",
                    PrimaryContainer={"Image": IC_IMAGE, "ModelDataUrl": model_uri})
    sm.create_endpoint_config(EndpointConfigName="console-config", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "console-model", "InitialInstanceCount": 1,
        "InstanceType": "ml.m4.xlarge"}])
    sm.create_endpoint(EndpointName="console-endpoint", EndpointConfigName="console-config")

    page.get_by_role("link", name="Models").click()
    page.get_by_role("link", name="console-model").click()
    primary = page.locator("h2:text-is('Primary container') + dl")
    expect(primary).to_contain_text(IC_IMAGE)
    expect(primary).to_contain_text(model_uri)
    visited(page, artifacts, "08-model")

    sm.get_waiter("endpoint_in_service").wait(EndpointName="console-endpoint", WaiterConfig={"Delay": 1,
                                                                                             "MaxAttempts": 120})
    page.get_by_role("link", name="Endpoints").click()
    page.get_by_role("link", name="console-endpoint").click()
    image = sorted((ic_channels["validation_images"] / "2").glob("*.jpg"))[0]
    page.get_by_label("Test image").set_input_files(str(image))
    page.get_by_role("button", name="Send request").click()
    classes = page.locator("#top-classes tbody tr")
    expect(classes).to_have_count(NUM_CLASSES)
    probabilities = [float(v) for v in classes.locator("td:nth-child(2)").all_inner_texts()]
    assert probabilities == sorted(probabilities, reverse=True) and abs(sum(probabilities) - 1) < 1e-3
    expect(page.locator("#prediction-image")).to_be_visible()
    visited(page, artifacts, "09-endpoint-prediction")
    sm.delete_endpoint(EndpointName="console-endpoint")


def test_choosing_an_algorithm_shows_its_hyperparameters(page: Page, console_server, artifacts):
    page.goto(f"{console_server.endpoint}/console/create-training-job")
    page.get_by_label("Job name", exact=True).fill("kept-while-switching")
    expect(page.get_by_label("Image URI")).to_be_hidden()
    page.get_by_label("Algorithm", exact=True).select_option("object-detection")
    expect(page.get_by_label("base_network", exact=True)).to_be_visible()
    expect(page.get_by_label("num_layers", exact=True)).to_have_count(0)   # image classification's
    expect(page.get_by_label("Job name", exact=True)).to_have_value("kept-while-switching")
    visited(page, artifacts, "11-create-object-detection")
    page.get_by_label("Algorithm", exact=True).select_option("custom")
    expect(page.get_by_label("Image URI")).to_be_visible()
    expect(page.get_by_label("base_network", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name="Add hyperparameter")).to_be_visible()
    visited(page, artifacts, "12-create-own-container")
