"""The console inside the API's app: its writes need the session's CSRF token and the console's
own origin, its reads work from links, it never loads from another site, and the form goes
through the API's own CreateTrainingJob handler and validation."""
import json
import re
import sys
from pathlib import Path

import pytest

from emulator.api.server import ApiConfig, build

REPO = Path(__file__).resolve().parents[3]
FAKE_ALGORITHM = REPO / "tests" / "functional" / "emulator" / "fake_algorithm.py"
HOST = {"Host": "127.0.0.1:8777"}
OWN_ORIGIN = {**HOST, "Origin": "http://127.0.0.1:8777", "Sec-Fetch-Site": "same-origin"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setenv("SMLOCAL_PROCESS_COMMAND", f"{sys.executable} {FAKE_ALGORITHM}")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        patch.delenv(name, raising=False)
    built, service, hosting, tuning = build(ApiConfig(home=tmp_path_factory.mktemp("home"), runner="process"))
    yield built
    tuning.shutdown()
    service.shutdown(5)
    hosting.shutdown(1)
    patch.undo()


@pytest.fixture
def browser(app):
    """A test client with the console's session cookie, and the token its pages carry."""
    client = app.test_client()
    page = client.get("/console/training-jobs/create", headers=HOST)
    assert page.status_code == 200
    client.token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.get_data(as_text=True))[1]
    return client


def message(answer) -> str:
    """The AWS-shaped refusal's message (`{"__type": ..., "message": ...}`)."""
    return json.loads(answer.get_data())["message"]


def form(tmp_path, name="console-unit", **fields):
    data_dir = tmp_path / "train"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "a.txt").write_text("alpha")
    values = {"job_name": name, "role_arn": "arn:aws:iam::123456789012:role/SageMakerRole", "algorithm": "custom",
              "image_uri": "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1",
              "input_mode": "File", "instance_type": "ml.m5.large", "instance_count": "1", "volume_size": "1",
              "max_runtime": "600", "channel-0-name": "train", "channel-0-input_mode": "",
              "channel-0-distribution": "FullyReplicated", "channel-0-compression": "None",
              "channel-0-content_type": "", "channel-0-record_wrapper": "None", "channel-0-s3_data_type": "S3Prefix",
              "channel-0-s3_uri": data_dir.as_uri(), "output_path": (tmp_path / "out").as_uri(),
              "tag-0-key": "project", "tag-0-value": "console", "action": "create"}
    values.update(fields)
    return values


def test_a_cross_origin_post_is_refused_with_403_and_creates_nothing(browser, tmp_path):
    for origin in ({"Origin": "http://evil.example"}, {"Origin": "http://127.0.0.1:9999"},
                   {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        answer = browser.post("/console/training-jobs/create", headers={**HOST, **origin},
                              data={**form(tmp_path, "cross-site"), "csrf_token": browser.token})
        assert answer.status_code == 403, origin
        assert "Requests from web pages are refused" in message(answer)
    listing = browser.get("/console/training-jobs", headers=HOST).get_data(as_text=True)
    assert "cross-site" not in listing


def test_a_write_without_the_sessions_token_is_refused(app, browser, tmp_path):
    for token in ("", "0" * 64):
        answer = browser.post("/console/training-jobs/create", headers=OWN_ORIGIN,
                              data={**form(tmp_path, "no-token"), "csrf_token": token})
        assert answer.status_code == 403 and "form token" in message(answer)
    # The token of one session is no good in another (a new client has no cookie).
    stranger = app.test_client()
    answer = stranger.post("/console/training-jobs/create", headers=OWN_ORIGIN,
                           data={**form(tmp_path, "no-token"), "csrf_token": browser.token})
    assert answer.status_code == 403


def test_reads_work_from_links_on_other_sites_but_not_for_other_host_names(browser):
    assert browser.get("/console/training-jobs", headers={**HOST, "Sec-Fetch-Site": "cross-site"}).status_code == 200
    rebound = browser.get("/console/training-jobs", headers={"Host": "attacker.example:8777"})
    assert rebound.status_code == 403 and "DNS rebinding" in message(rebound)


def test_pages_load_nothing_from_elsewhere_and_cannot_be_framed(browser):
    answer = browser.get("/console/training-jobs", headers=HOST)
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    html = answer.get_data(as_text=True)
    assert not re.search(r'(src|href)="(https?:)?//', html)  # every asset is the server's own


def test_browsers_asking_for_the_root_go_to_the_console_and_clients_get_json(app):
    client = app.test_client()
    assert client.get("/", headers={**HOST, "Accept": "text/html,*/*;q=0.8"}).headers["Location"] == "/console/"
    answer = client.get("/", headers={**HOST, "Accept": "*/*"})
    assert answer.status_code == 200 and "CreateTrainingJob" in answer.get_json()["operations"]["SageMaker"]


def test_refusals_of_the_api_come_back_next_to_their_field(browser, tmp_path):
    answer = browser.post("/console/training-jobs/create", headers=OWN_ORIGIN,
                          data={**form(tmp_path, "bad_name"), "csrf_token": browser.token})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="job_name-error"[^>]*>([^<]*)</p>', html)[1]
    assert error.startswith("Value &#39;bad_name&#39; at &#39;trainingJobName&#39; failed to satisfy constraint")
    assert 'id="job_name" name="job_name" type="text" value="bad_name"' in html  # the form keeps what was typed


def test_the_form_creates_the_job_through_the_apis_handler(app, browser, tmp_path):
    answer = browser.post("/console/training-jobs/create", headers=OWN_ORIGIN,
                          data={**form(tmp_path, "console-unit"), "csrf_token": browser.token})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console/training-jobs/console-unit")
    page = browser.get("/console/training-jobs/console-unit", headers=HOST).get_data(as_text=True)
    assert "arn:aws:sagemaker:us-east-1:123456789012:training-job/console-unit" in page
    assert 'id="job-tags"' in page and "project" in page
    # A second job of the same name: the API's ResourceInUse, next to the name.
    again = browser.post("/console/training-jobs/create", headers=OWN_ORIGIN,
                         data={**form(tmp_path, "console-unit"), "csrf_token": browser.token})
    assert again.status_code == 400
    assert re.search(r'id="job_name-error"[^>]*>Training job names must be unique', again.get_data(as_text=True))
    # As the user types: the same checks, nothing created.
    checked = browser.post("/console/training-jobs/create/check", headers={**OWN_ORIGIN, "X-CSRF-Token": browser.token},
                           data=form(tmp_path, "console-typed", **{"channel-0-s3_uri": "ftp://x"}))
    assert list(checked.get_json()["errors"]) == ["channel-0-s3_uri"]
    assert "console-typed" not in browser.get("/console/training-jobs", headers=HOST).get_data(as_text=True)


def test_the_session_cookie_is_out_of_reach_of_scripts_and_other_sites(app):
    cookie = app.test_client().get("/console/training-jobs", headers=HOST).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
