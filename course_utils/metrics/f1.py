"""F1: harmonic mean of precision and recall (the course's offline copy of evaluate's)."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "F1 = 2 * (precision * recall) / (precision + recall)."


def _binary_f1(predictions, references, positive):
    tp = np.sum((predictions == positive) & (references == positive))
    fp = np.sum((predictions == positive) & (references != positive))
    fn = np.sum((predictions != positive) & (references == positive))
    return 0.0 if tp == 0 else float(2 * tp / (2 * tp + fp + fn))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION)
class F1(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description="predictions and references: lists of integer class ids",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, labels=None, pos_label=1, average="binary", sample_weight=None):
        predictions, references = np.asarray(predictions), np.asarray(references)
        if average == "binary":
            return {"f1": _binary_f1(predictions, references, pos_label)}
        classes = labels if labels is not None else np.union1d(predictions, references)
        scores = np.array([_binary_f1(predictions, references, c) for c in classes])
        if average == "macro":
            return {"f1": float(scores.mean())}
        if average == "weighted":
            support = np.array([np.sum(references == c) for c in classes])
            return {"f1": float(np.sum(scores * support) / max(support.sum(), 1))}
        if average == "micro":
            return {"f1": float(np.mean(predictions == references))}
        if average is None:
            return {"f1": scores}
        raise ValueError(f"average must be 'binary', 'micro', 'macro', 'weighted' or None, not {average!r}")
