from datetime import datetime, timezone

from emulator.metrics import MetricCollector, definitions_for

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def final(algorithm, lines, requested=()):
    collector = MetricCollector(definitions_for(algorithm, requested))
    for line in lines:
        collector.feed(line, T0)
    return {m.name: m.value for m in collector.final()}


def test_image_classification_lines_last_value_wins():
    lines = ["[11/27/2026 10:00:00 INFO 140] Epoch[0] Train-accuracy=0.375000",
             "Epoch[0] Validation-accuracy=0.5", "Epoch[1] Train-accuracy=0.6",
             "Epoch[1] Validation-accuracy=0.771429", "Epoch[1] Validation-top_k_accuracy_5=0.9",
             "Epoch[1] Time cost=14.863"]
    assert final("image-classification", lines) == {
        "train:accuracy": 0.6, "validation:accuracy": 0.771429, "validation:top_k_accuracy": 0.9}


def test_object_detection_lines():
    lines = ["#quality_metric: host=algo-1, epoch=3, validation mAP <score>=(0.5)",
             "#quality_metric: host=algo-1, epoch=3, batch=10 train cross_entropy <loss>=(1.25)",
             "#throughput_metric: host=algo-1, train throughput=12.5 records/second",
             "#progress_metric: host=algo-1, completed 40 %"]
    result = final("object-detection", lines)
    assert result["validation:mAP"] == 0.5 and result["train:throughput"] == 12.5
    assert result["train:progress"] == 40.0
    assert "train:cross_entropy" not in result  # "(1.25)" is not a number for this regex


def test_semantic_segmentation_lines():
    lines = ["#quality_metric: host=algo-1, epoch=3, validation mIOU <score>=(0.5)",
             "#quality_metric: host=algo-1, epoch=3, validation pixel_accuracy <score>=(0.9)",
             "#quality_metric: host=algo-1, epoch=3, train loss <loss>=(0.25)",
             "#throughput_metric: host=algo-1, train throughput=(12.5) records/second"]
    assert final("semantic-segmentation", lines) == {
        "validation:mIOU": 0.5, "validation:pixel_accuracy": 0.9, "train:loss": 0.25, "train:throughput": 12.5}


def test_request_definitions_replace_the_builtins():
    result = final("image-classification", ["loss: 0.42", "Epoch[0] Train-accuracy=0.5"],
                   requested=(("train:loss", r"loss: (\S+)"),))
    assert result == {"train:loss": 0.42}


def test_non_numbers_and_nan_are_ignored():
    assert final(None, ["loss: nan", "loss: abc"], requested=(("loss", r"loss: (\S+)"),)) == {}
