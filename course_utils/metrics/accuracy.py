"""Accuracy: the fraction of predictions equal to the references (the course's offline copy of evaluate's)."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Accuracy = (number of correct predictions) / (number of predictions)."


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION)
class Accuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description="predictions and references: lists of integer class ids",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references, normalize=True, sample_weight=None):
        correct = (np.asarray(predictions) == np.asarray(references)).astype(float)
        if sample_weight is not None:
            correct = correct * np.asarray(sample_weight, dtype=float)
        total = correct.sum()
        return {"accuracy": float(total / (np.sum(sample_weight) if sample_weight is not None else len(correct)))
                if normalize else float(total)}
