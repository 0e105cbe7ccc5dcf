"""Plots the chapters share: learning curves, a confusion matrix, a token-length histogram."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator
from sklearn import metrics


def confusion_matrix(labels: Sequence[int], predictions: Sequence[int], num_classes: int) -> np.ndarray:
    """Counts[i, j] = how many examples of true class i were predicted as class j (scikit-learn's
    `confusion_matrix`, after checking that both are class ids 0..num_classes-1)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    if labels.shape != predictions.shape:
        hint = " (predictions look like logits: pass logits.argmax(-1))" if predictions.ndim == labels.ndim + 1 else ""
        raise ValueError(f"labels and predictions differ in shape: {labels.shape} vs {predictions.shape}{hint}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive whole number, got {num_classes!r}.")
    labels, predictions = _class_ids("labels", labels, num_classes), _class_ids("predictions", predictions, num_classes)
    if labels.size == 0:  # nothing predicted yet (scikit-learn refuses empty input)
        return np.zeros((num_classes, num_classes), dtype=int)
    # labels=: every class gets a row and a column, even one that never occurs in this sample.
    return metrics.confusion_matrix(labels.ravel(), predictions.ravel(), labels=np.arange(num_classes))


def _class_ids(name: str, values: np.ndarray, num_classes: int) -> np.ndarray:
    """`values` as integer class ids 0..num_classes-1 (True/False and 1.0 are fine); a clear error otherwise."""
    if values.dtype == bool or (np.issubdtype(values.dtype, np.floating) and np.all(np.mod(values, 1) == 0)):
        values = values.astype(int)
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"{name} must be class ids (integers), got {values.dtype} values such as "
                         f"{values.flat[0]!r}: pass the argmax of the logits, not probabilities or names.")
    outside = (values < 0) | (values >= num_classes)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        hint = " (-1 marks a hidden label, as in GLUE test splits: use the validation split)" if values.flat[i] == -1 else ""
        raise ValueError(f"{name}[{i}] is {values.flat[i]}, not a class id 0..{num_classes - 1}{hint}; "
                         f"{int(outside.sum())} of {values.size} {name} are outside that range.")
    return values


def plot_confusion_matrix(labels, predictions, label_names: Sequence[str], ax=None):
    """Draw the confusion matrix with its counts (scikit-learn's ConfusionMatrixDisplay); returns (axes, matrix)."""
    matrix = confusion_matrix(labels, predictions, len(label_names))
    ax = ax or plt.subplots(figsize=(1.2 * len(label_names) + 2, 1.2 * len(label_names) + 1), layout="constrained")[1]
    display = metrics.ConfusionMatrixDisplay(matrix, display_labels=list(label_names))
    display.plot(ax=ax, cmap="Blues", colorbar=False, values_format="d")
    plt.setp(ax.get_xticklabels(), rotation=45, ha="right", rotation_mode="anchor")
    return ax, matrix


def learning_curves(history: Sequence[dict]) -> dict[str, tuple[list, list]]:
    """Series to plot from `trainer.state.log_history` or from `training.fit`'s history.

    Returns {name: (x, y)}: for the Trainer x is the step, for `fit` it is the epoch. The Trainer's last row
    (`train_runtime`, `train_loss` = the mean loss of the whole run, ...) is a summary, not a point of a curve,
    and is left out.
    """
    series: dict[str, tuple[list, list]] = {}
    for row in history:
        if "train_runtime" in row:  # the summary trainer.train() logs at the end
            continue
        x_key = "step" if "step" in row else "epoch"
        for name, value in row.items():
            if name in ("step", "epoch", "best") or not isinstance(value, (int, float)):
                continue
            if not name.endswith(("loss", "accuracy", "f1")):
                continue
            xs, ys = series.setdefault(name, ([], []))
            xs.append(row[x_key])
            ys.append(value)
    if not series:
        raise ValueError("No loss or metric values in this history: did training log anything? "
                         "(TrainingArguments(logging_steps=...) controls how often the Trainer logs.)")
    return series


def plot_learning_curves(history: Sequence[dict], ax=None):
    """Loss curves on the left axis, accuracy / F1 on a right axis, one legend under the plot (never over a
    curve), whole numbers on the x axis (steps, or epochs)."""
    series = learning_curves(history)
    ax = ax or plt.subplots(figsize=(7, 4), layout="constrained")[1]
    right = None
    for i, (name, (xs, ys)) in enumerate(series.items()):
        color = f"C{i}"  # one colour per series: the two axes would each start again at blue
        if name.endswith("loss"):
            ax.plot(xs, ys, marker="o", color=color, label=name)
        else:
            right = right or ax.twinx()
            right.plot(xs, ys, marker="s", linestyle="--", color=color, label=name)
    ax.set_xlabel("step" if any("step" in row for row in history) else "epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epoch 1, 2, 3: not 1.00, 1.25, ...
    ax.set_ylabel("loss")
    lines = ax.get_lines() + (right.get_lines() if right is not None else [])
    if right is not None:
        right.set_ylabel("metric")
    # Below the x axis label: inside the plot, a legend sits on whichever curve passes under it.
    ax.legend(lines, [line.get_label() for line in lines], loc="upper center", bbox_to_anchor=(0.5, -0.16),
              ncols=min(len(lines), 4), frameon=False)
    return ax


def plot_token_lengths(lengths: Sequence[int], max_length: int | None = None, ax=None):
    """Histogram of tokenized lengths, with the chosen `max_length` as a line; returns (axes, share truncated)."""
    lengths = np.asarray(lengths)
    if lengths.size == 0:
        raise ValueError("No lengths to plot.")
    ax = ax or plt.subplots(figsize=(7, 3.5))[1]
    ax.hist(lengths, bins=min(50, max(5, lengths.size // 5)))
    ax.set_xlabel("tokens per example")
    ax.set_ylabel("examples")
    truncated = 0.0
    if max_length is not None:
        truncated = float((lengths > max_length).mean())
        ax.axvline(max_length, color="red", linestyle="--", label=f"max_length={max_length} ({truncated:.1%} cut)")
        ax.legend()
    return ax, truncated
