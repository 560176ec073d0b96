"""The console inside the API's app: its writes need the session's CSRF token and the console's
own origin, its reads work from links, it never loads from another site, and the form goes
through the API's own CreateTrainingJob handler and validation."""
import re

from tests.unit.console.conftest import HOST, OWN_ORIGIN, form, message


def test_a_cross_origin_post_is_refused_with_403_and_creates_nothing(browser, tmp_path):
    for origin in ({"Origin": "http://evil.example"}, {"Origin": "http://127.0.0.1:9999"},
                   {"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}):
        answer = browser.post("/console/create-training-job", headers={**HOST, **origin},
                              data={**form(tmp_path, "cross-site"), "csrf_token": browser.token})
        assert answer.status_code == 403, origin
        assert "Requests from web pages are refused" in message(answer)
    listing = browser.get("/console/training-jobs", headers=HOST).get_data(as_text=True)
    assert "cross-site" not in listing


def test_a_write_without_the_sessions_token_is_refused(app, browser, tmp_path):
    for token in ("", "0" * 64):
        answer = browser.post("/console/create-training-job", headers=OWN_ORIGIN,
                              data={**form(tmp_path, "no-token"), "csrf_token": token})
        assert answer.status_code == 403 and "form token" in message(answer)
    # The token of one session is no good in another (a new client has no cookie).
    stranger = app.test_client()
    answer = stranger.post("/console/create-training-job", headers=OWN_ORIGIN,
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
    answer = browser.post("/console/create-training-job", headers=OWN_ORIGIN,
                          data={**form(tmp_path, "bad_name"), "csrf_token": browser.token})
    assert answer.status_code == 400
    html = answer.get_data(as_text=True)
    error = re.search(r'<p class="field-error" id="job_name-error"[^>]*>([^<]*)</p>', html)[1]
    assert error.startswith("Value &#39;bad_name&#39; at &#39;trainingJobName&#39; failed to satisfy constraint")
    assert 'id="job_name" name="job_name" type="text" value="bad_name"' in html  # the form keeps what was typed


def test_the_form_creates_the_job_through_the_apis_handler(app, browser, tmp_path):
    answer = browser.post("/console/create-training-job", headers=OWN_ORIGIN,
                          data={**form(tmp_path, "console-unit"), "csrf_token": browser.token})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/console/training-jobs/console-unit")
    page = browser.get("/console/training-jobs/console-unit", headers=HOST).get_data(as_text=True)
    assert "arn:aws:sagemaker:us-east-1:123456789012:training-job/console-unit" in page
    assert 'id="job-tags"' in page and "project" in page
    # A second job of the same name: the API's ResourceInUse, next to the name.
    again = browser.post("/console/create-training-job", headers=OWN_ORIGIN,
                         data={**form(tmp_path, "console-unit"), "csrf_token": browser.token})
    assert again.status_code == 400
    assert re.search(r'id="job_name-error"[^>]*>Training job names must be unique', again.get_data(as_text=True))
    # As the user types: the same checks, nothing created.
    checked = browser.post("/console/create-training-job/check", headers={**OWN_ORIGIN, "X-CSRF-Token": browser.token},
                           data=form(tmp_path, "console-typed", **{"channel-0-s3_uri": "ftp://x"}))
    assert list(checked.get_json()["errors"]) == ["channel-0-s3_uri"]
    assert "console-typed" not in browser.get("/console/training-jobs", headers=HOST).get_data(as_text=True)


def test_the_session_cookie_is_out_of_reach_of_scripts_and_other_sites(app):
    cookie = app.test_client().get("/console/training-jobs", headers=HOST).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
