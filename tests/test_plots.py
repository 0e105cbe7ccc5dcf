"""The shared plots: confusion matrix counts, learning-curve series from both kinds of history and how they are drawn
(legend clear of the curves, whole-number ticks, no stray summary point), token-length cut share, benchmark bars."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from course_utils import benchmark, plots

# What `trainer.state.log_history` holds after TrainingArguments(eval_strategy="epoch", logging_strategy="epoch"),
# 3 epochs of 8 steps (copied from a real run of transformers 5.23, values rounded).
TRAINER_LOG = [
    {"loss": 1.6093, "grad_norm": 0.63, "learning_rate": 3.54e-05, "epoch": 1.0, "step": 8},
    {"eval_loss": 1.6095, "eval_accuracy": 0.2, "eval_runtime": 0.55, "eval_samples_per_second": 36.2,
     "eval_steps_per_second": 5.4, "epoch": 1.0, "step": 8},
    {"loss": 1.6097, "grad_norm": 0.78, "learning_rate": 1.88e-05, "epoch": 2.0, "step": 16},
    {"eval_loss": 1.6094, "eval_accuracy": 0.25, "eval_runtime": 0.42, "eval_samples_per_second": 47.7,
     "eval_steps_per_second": 7.2, "epoch": 2.0, "step": 16},
    {"loss": 1.6101, "grad_norm": 0.58, "learning_rate": 2.08e-06, "epoch": 3.0, "step": 24},
    {"eval_loss": 1.6090, "eval_accuracy": 0.3, "eval_runtime": 0.19, "eval_samples_per_second": 104.1,
     "eval_steps_per_second": 15.6, "epoch": 3.0, "step": 24},
    {"train_runtime": 13.4, "train_samples_per_second": 13.4, "train_steps_per_second": 1.79,
     "total_flos": 498275760.0, "train_loss": 1.6097, "epoch": 3.0, "step": 24},
]
# What `training.fit` returns.
FIT_HISTORY = [
    {"epoch": 1, "train_loss": 1.2, "train_accuracy": 0.4, "val_loss": 1.1, "val_accuracy": 0.5, "best": True},
    {"epoch": 2, "train_loss": 0.9, "train_accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.55, "best": True},
    {"epoch": 3, "train_loss": 0.6, "train_accuracy": 0.8, "val_loss": 1.05, "val_accuracy": 0.58},
]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_confusion_matrix_counts_each_pair_and_sums_to_n():
    labels = [0, 0, 1, 2, 2, 2, 4]
    predictions = [0, 1, 1, 2, 3, 2, 4]
    matrix = plots.confusion_matrix(labels, predictions, num_classes=5)
    assert matrix.shape == (5, 5)
    assert matrix.sum() == len(labels)
    assert matrix[0, 0] == 1 and matrix[0, 1] == 1 and matrix[2, 2] == 2 and matrix[2, 3] == 1
    assert matrix.trace() == 5
    assert matrix.sum(axis=1).tolist() == [2, 1, 3, 0, 1]  # rows are the true classes


def test_confusion_matrix_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        plots.confusion_matrix([0, 1, 2], [0, 1], num_classes=3)


def test_plot_confusion_matrix_returns_the_matrix_with_named_axes():
    names = ["1 star", "2 star", "3 stars", "4 stars", "5 stars"]
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 5, 40), rng.integers(0, 5, 40)
    ax, matrix = plots.plot_confusion_matrix(labels, predictions, names)
    assert matrix.sum() == 40
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert len(ax.texts) == 25  # one count written in every cell


def test_learning_curves_from_a_trainer_log_history_use_steps_and_leave_out_the_summary():
    series = plots.learning_curves(TRAINER_LOG)
    # The last row's train_loss is the mean over the whole run (with train_runtime ...): not a point of a curve.
    assert set(series) == {"loss", "eval_loss", "eval_accuracy"}
    assert series["loss"] == ([8, 16, 24], [1.6093, 1.6097, 1.6101])
    assert series["eval_accuracy"] == ([8, 16, 24], [0.2, 0.25, 0.3])


def test_learning_curves_from_fit_history_use_epochs_and_skip_the_best_flag():
    series = plots.learning_curves(FIT_HISTORY)
    assert set(series) == {"train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert series["val_loss"] == ([1, 2, 3], [1.1, 1.0, 1.05])


def test_learning_curves_without_metrics_say_so():
    with pytest.raises(ValueError, match="logging_steps"):
        plots.learning_curves([{"train_runtime": 3.0, "epoch": 1.0, "step": 5}])


def test_plot_learning_curves_puts_losses_left_and_metrics_right():
    ax = plots.plot_learning_curves(TRAINER_LOG)
    assert sorted(line.get_label() for line in ax.get_lines()) == ["eval_loss", "loss"]
    assert ax.get_xlabel() == "step"
    right = [other for other in ax.figure.axes if other is not ax]
    assert [line.get_label() for line in right[0].get_lines()] == ["eval_accuracy"]


@pytest.mark.parametrize("history", [TRAINER_LOG, FIT_HISTORY], ids=["trainer", "fit"])
def test_the_legend_names_every_curve_and_covers_none(history):
    ax = plots.plot_learning_curves(history)
    ax.figure.canvas.draw()
    legends = [other.get_legend() for other in ax.figure.axes if other.get_legend() is not None]
    assert len(legends) == 1, "one legend for the losses and the metrics"
    assert sorted(t.get_text() for t in legends[0].get_texts()) == sorted(plots.learning_curves(history))
    plot_area = ax.get_window_extent()
    assert not legends[0].get_window_extent().overlaps(plot_area), "the legend sits on the curves"
    assert plot_area.height > 0.5 * ax.figure.bbox.height, "the curves keep most of the figure"


def test_the_epoch_axis_has_whole_epochs():
    ax = plots.plot_learning_curves(FIT_HISTORY)
    ax.figure.canvas.draw()
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    assert ticks == [1, 2, 3]
    assert [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high] == ["1", "2", "3"]


def test_benchmark_bar_labels_stay_inside_the_plot():
    results = [{"recipe": "pad to 512", "examples_per_s": 3.4, "peak_memory_mb": 1914.2},
               {"recipe": "dynamic padding", "examples_per_s": 55.1, "peak_memory_mb": None}]  # None: not measured
    axes = benchmark.plot(results)
    axes[0].figure.canvas.draw()
    for axis in axes:
        top = axis.get_window_extent().y1
        labels = [t for t in axis.texts if t.get_text()]
        assert len(labels) == 2
        assert all(t.get_window_extent().y1 < top - 2 for t in labels), "a bar label touches the top edge"
    assert [t.get_text() for t in axes[1].texts] == ["1,914.2", "n/a"]


def test_plot_token_lengths_reports_the_share_cut_by_max_length():
    lengths = [10, 50, 200, 511, 512, 513, 900, 40]
    ax, share = plots.plot_token_lengths(lengths, max_length=512)
    assert share == pytest.approx(2 / 8)  # 513 and 900; 512 itself fits
    assert "max_length=512" in ax.get_legend().get_texts()[0].get_text()
    _, shorter = plots.plot_token_lengths(lengths, max_length=100)
    assert shorter == pytest.approx(5 / 8)
    _, none = plots.plot_token_lengths(lengths)
    assert none == 0.0


def test_plot_token_lengths_needs_lengths():
    with pytest.raises(ValueError):
        plots.plot_token_lengths([])
