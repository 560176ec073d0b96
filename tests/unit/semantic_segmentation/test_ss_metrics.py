import math

import numpy as np

from algorithms.semantic_segmentation.metrics import ConfusionMatrix


def test_pixel_accuracy_and_miou_skip_ignored_pixels():
    labels = np.array([[0, 0, 1, 1], [2, 2, -1, -1]])
    predictions = np.array([[0, 1, 1, 1], [2, 0, 2, 2]])
    matrix = ConfusionMatrix(3)
    matrix.update(labels, predictions)
    # 4 of 6 labelled pixels right; IoU: class0 1/3, class1 2/3, class2 1/2
    assert math.isclose(matrix.pixel_accuracy(), 4 / 6)
    assert np.allclose(matrix.per_class_iou(), [1 / 3, 2 / 3, 1 / 2])
    assert math.isclose(matrix.mean_iou(), (1 / 3 + 2 / 3 + 1 / 2) / 3)


def test_classes_absent_from_labels_and_predictions_do_not_count():
    matrix = ConfusionMatrix(5)
    matrix.update(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1]))
    assert matrix.mean_iou() == 1.0 and matrix.pixel_accuracy() == 1.0


def test_a_predicted_class_that_never_occurs_counts_as_zero():
    matrix = ConfusionMatrix(3)
    matrix.update(np.array([0, 0, 0, 0]), np.array([0, 0, 0, 2]))
    assert np.isclose(matrix.mean_iou(), (3 / 4 + 0) / 2)


def test_updates_accumulate_until_reset():
    matrix = ConfusionMatrix(2)
    matrix.update(np.array([0, 1]), np.array([0, 1]))
    matrix.update(np.array([1, 1]), np.array([0, 0]))
    assert matrix.pixel_accuracy() == 0.5
    matrix.reset()
    assert math.isnan(matrix.pixel_accuracy()) and math.isnan(matrix.mean_iou())
