from container.entry import main, train
from container.errors import ClientError, failure_message, write_failure


def test_unknown_algorithm_is_reported_in_the_failure_file(tmp_path):
    code = train({"SAGEMAKER_BASE_DIR": str(tmp_path), "SAGEMAKER_ALGORITHM": "xgboost"})
    assert code != 0
    assert (tmp_path / "output" / "failure").read_text().startswith("ClientError: SAGEMAKER_ALGORITHM='xgboost'")


def test_failure_file_keeps_the_first_message_and_is_capped(tmp_path):
    path = tmp_path / "failure"
    write_failure(path, "first " + "x" * 2000)
    write_failure(path, "second")
    text = path.read_text()
    assert text.startswith("first") and len(text.strip()) == 1024


def test_messages_are_prefixed_by_kind():
    assert failure_message(ClientError("bad")) == "ClientError: bad"
    assert failure_message(RuntimeError("boom")) == "AlgorithmError: RuntimeError: boom"


def test_usage_without_a_command():
    assert main([]) == 64
