"""With credentials, the API checks every request's signature, so the console asks for the same
credentials before it shows or changes anything."""
import pytest

from tests.unit.console.conftest import HOST, OWN_ORIGIN, console_token, running_app

KEY, SECRET = "AKIDCONSOLETEST", "console/secret"


@pytest.fixture(scope="module")
def signed_app(tmp_path_factory):
    with running_app(tmp_path_factory.mktemp("home"), access_key=KEY, secret_key=SECRET) as built:
        yield built


def test_nothing_is_shown_before_signing_in(signed_app):
    client = signed_app.test_client()
    for path in ("/console/training-jobs", "/console/models", "/console/create-training-job",
                 "/console/training-jobs/x/live"):
        answer = client.get(path, headers=HOST)
        assert answer.status_code == 303 and "/console/sign-in?next=" in answer.headers["Location"], path
    token = console_token(client)
    write = client.post("/console/create-training-job", headers=OWN_ORIGIN, data={"csrf_token": token})
    assert write.status_code == 303 and "/console/sign-in" in write.headers["Location"]


def test_the_servers_credentials_sign_the_session_in_and_out(signed_app):
    client = signed_app.test_client()
    token = console_token(client)
    wrong = client.post("/console/sign-in", headers=OWN_ORIGIN, data={
        "csrf_token": token, "access_key": KEY, "secret_key": "guess", "next": "/console/models"})
    assert wrong.status_code == 403 and "is not the one this server checks" in wrong.get_data(as_text=True)
    assert client.get("/console/models", headers=HOST).status_code == 303
    right = client.post("/console/sign-in", headers=OWN_ORIGIN, data={
        "csrf_token": token, "access_key": KEY, "secret_key": SECRET, "next": "/console/models"})
    assert right.status_code == 303 and right.headers["Location"] == "/console/models"
    assert client.get("/console/models", headers=HOST).status_code == 200
    # Another browser (another session) is still outside.
    assert signed_app.test_client().get("/console/models", headers=HOST).status_code == 303
    out = client.post("/console/sign-out", headers=OWN_ORIGIN, data={"csrf_token": token})
    assert out.status_code == 303 and client.get("/console/models", headers=HOST).status_code == 303


def test_after_signing_in_it_goes_only_to_console_pages(signed_app):
    client = signed_app.test_client()
    token = console_token(client)
    for target in ("https://evil.example/", "//evil.example/console/", "/elsewhere"):
        answer = client.post("/console/sign-in", headers=OWN_ORIGIN, data={
            "csrf_token": token, "access_key": KEY, "secret_key": SECRET, "next": target})
        assert answer.headers["Location"] == "/console/", target
