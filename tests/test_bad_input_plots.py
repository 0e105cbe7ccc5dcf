"""Confusion matrices from bad labels or predictions: a hidden label (-1) or an id past the last class is a
clear error, never counted as a class; harmless types (tensors, NumPy integers, 1.0, True) are counted right.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from bad_input import Accepted, Case, Error, cases
from course_utils import plots

LABELS, PREDICTIONS = [0, 1, 2, 2], [0, 2, 2, 1]
EXPECTED = np.array([[1, 0, 0], [0, 0, 1], [0, 1, 1]])


def is_expected(matrix):
    return np.array_equal(matrix, EXPECTED)


CONFUSION_INPUTS = [
    Case("hidden-label-minus-one", ([0, 1, -1, 2], PREDICTIONS, 3),
         Error(ValueError, r"labels\[2\] is -1, not a class id 0\.\.2 \(-1 marks a hidden label.*validation split\)")),
    Case("prediction-past-the-last-class", (LABELS, [0, 3, 2, 1], 3),
         Error(ValueError, r"predictions\[1\] is 3, not a class id 0\.\.2; 1 of 4 predictions are outside")),
    Case("stars-1-to-5", ([1, 5, 3], [1, 2, 3], 5), Error(ValueError, r"labels\[1\] is 5, not a class id 0\.\.4")),
    Case("probabilities", (LABELS, [0.9, 0.2, 0.6, 0.4], 3), Error(ValueError, r"predictions must be class ids.*argmax")),
    Case("label-names", (["neg", "pos"], [0, 1], 2), Error(ValueError, r"labels must be class ids \(integers\), got <U3")),
    Case("logits-instead-of-predictions", (LABELS, np.zeros((4, 3)), 3),
         Error(ValueError, r"differ in shape: \(4,\) vs \(4, 3\) \(predictions look like logits: pass logits\.argmax\(-1\)\)")),
    Case("zero-classes", (LABELS, PREDICTIONS, 0), Error(ValueError, r"num_classes must be a positive whole number, got 0")),
    Case("classes-as-float", (LABELS, PREDICTIONS, 3.0), Error(ValueError, r"num_classes must be a positive whole number, got 3\.0")),
    Case("tensors", (torch.tensor(LABELS), torch.tensor(PREDICTIONS), 3), Accepted(is_expected)),
    Case("numpy-ints-and-class-count", (np.array(LABELS, dtype=np.int32), np.array(PREDICTIONS), np.int64(3)),
         Accepted(is_expected)),
    Case("integral-floats", ([0.0, 1.0, 2.0, 2.0], PREDICTIONS, 3), Accepted(is_expected)),
    Case("booleans", ([False, True], [True, True], 2), Accepted(lambda m: np.array_equal(m, [[0, 1], [0, 1]]))),
    Case("nothing-yet", ([], [], 2), Accepted(lambda m: np.array_equal(m, np.zeros((2, 2))))),
]


@pytest.mark.parametrize("case", **cases(CONFUSION_INPUTS))
def test_confusion_matrix_inputs(case):
    case.outcome.check(lambda: plots.confusion_matrix(*case.input))


def test_the_plot_refuses_a_hidden_label_too():
    Error(ValueError, r"labels\[0\] is -1").check(
        lambda: plots.plot_confusion_matrix([-1, 0], [0, 0], ["negative", "positive"]))
    plt.close("all")
