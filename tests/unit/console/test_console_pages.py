"""The console's pages over the API's operations: a job's actions (Stop, Clone, incremental
training), its live view, and the inference and tuning pages."""
import re
import time

from tests.unit.console.conftest import HOST, OWN_ORIGIN, form


def create(browser, tmp_path, name: str, **fields) -> None:
    answer = browser.post("/console/create-training-job", headers=OWN_ORIGIN,
                          data={**form(tmp_path, name, **fields), "csrf_token": browser.token})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]


def live(browser, name: str) -> dict:
    answer = browser.get(f"/console/training-jobs/{name}/live", headers=HOST)
    assert answer.status_code == 200
    return answer.get_json()


def wait_until(browser, name: str, statuses: tuple[str, ...], timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while (state := live(browser, name))["status"] not in statuses:
        assert time.monotonic() < deadline, state["status"]
        time.sleep(0.1)
    return state


def test_stop_ends_a_running_job_and_the_page_says_so(browser, tmp_path):
    create(browser, tmp_path, "console-stop", **{"hpx-0-key": "sleep", "hpx-0-value": "60",
                                                 "hpx-1-key": "lines", "hpx-1-value": '["started"]'})
    wait_until(browser, "console-stop", ("InProgress",))
    page = browser.get("/console/training-jobs/console-stop", headers=HOST).get_data(as_text=True)
    assert 'action="/console/training-jobs/console-stop/stop"' in page
    answer = browser.post("/console/training-jobs/console-stop/stop", headers=OWN_ORIGIN,
                          data={"csrf_token": browser.token})
    assert answer.status_code == 303
    state = wait_until(browser, "console-stop", ("Stopped",))
    assert state["terminal"] and "Training job stopped" in state["status_html"]
    # Stopping it again: the API's refusal, on the page.
    again = browser.post("/console/training-jobs/console-stop/stop", headers=OWN_ORIGIN,
                         data={"csrf_token": browser.token})
    assert again.status_code == 400
    assert "The request was rejected because the training job is in status Stopped." in again.get_data(as_text=True)


def test_the_live_view_carries_new_log_lines_after_the_token_it_gave(browser, tmp_path):
    create(browser, tmp_path, "console-live", **{"hpx-0-key": "lines", "hpx-0-value": '["line one", "line two"]'})
    state = wait_until(browser, "console-live", ("Completed",))
    (tail,) = [t for t in state["logs"] if t["host"] == "algo-1"]
    assert "line one" in tail["lines"] and "line two" in tail["lines"]
    after = browser.get(f"/console/training-jobs/console-live/live?token:{tail['stream']}={tail['token']}",
                        headers=HOST).get_json()
    assert [t["lines"] for t in after["logs"] if t["stream"] == tail["stream"]] == [[]]


def test_clone_and_incremental_training_prefill_the_form(browser, tmp_path):
    create(browser, tmp_path, "console-source")
    wait_until(browser, "console-source", ("Completed",))
    page = browser.get("/console/training-jobs/console-source", headers=HOST).get_data(as_text=True)
    artifact = re.search(r'<code id="model-artifact">([^<]+)</code>', page)[1]
    assert artifact.endswith("/console-source/output/model.tar.gz")
    assert "Create incremental training job from this model" in page
    clone = browser.get("/console/create-training-job?from=console-source", headers=HOST).get_data(as_text=True)
    assert 'value="console-source-copy"' in clone and 'value="model"' not in clone
    incremental = browser.get("/console/create-training-job?from=console-source&incremental=1",
                              headers=HOST).get_data(as_text=True)
    assert 'value="console-source-incremental"' in incremental
    assert 'id="channel-1-name" name="channel-1-name" type="text" value="model"' in incremental
    assert f'id="channel-1-s3_uri" name="channel-1-s3_uri" type="text" value="{artifact}"' in incremental


def test_the_list_filters_sorts_and_pages_on_the_server(browser, tmp_path):
    for name in ("console-list-b", "console-list-a"):
        create(browser, tmp_path, name)
    page = browser.get("/console/training-jobs?name=console-list&sort=Name&order=Ascending",
                       headers=HOST).get_data(as_text=True)
    assert re.findall(r'<tr data-job="([^"]+)"', page) == ["console-list-a", "console-list-b"]
    rows = browser.get("/console/training-jobs?name=console-list&fragment=rows", headers=HOST).get_data(as_text=True)
    assert "<html" not in rows and re.findall(r'<tr data-job="([^"]+)"', rows) == ["console-list-a", "console-list-b"]
    assert re.findall(r'<tr data-job="', browser.get("/console/training-jobs?name=console-list&page=2",
                                                     headers=HOST).get_data(as_text=True)) == []


def test_inference_and_tuning_pages_answer_for_what_exists(browser):
    for path, heading in (("/console/models", "Models"), ("/console/endpoints", "Endpoints"),
                          ("/console/tuning-jobs", "Hyperparameter tuning jobs")):
        answer = browser.get(path, headers=HOST)
        assert answer.status_code == 200 and f"<h1>{heading}</h1>" in answer.get_data(as_text=True)
    for path in ("/console/models/none", "/console/endpoints/none", "/console/tuning-jobs/none",
                 "/console/training-jobs/none", "/console/create-training-job?from=none"):
        assert browser.get(path, headers=HOST).status_code == 404, path


def test_every_job_name_has_its_page_even_names_of_console_pages(browser, tmp_path):
    create(browser, tmp_path, "create")
    page = browser.get("/console/training-jobs/create", headers=HOST)
    assert page.status_code == 200 and "training-job/create</code>" in page.get_data(as_text=True)
