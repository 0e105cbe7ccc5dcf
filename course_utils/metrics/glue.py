"""GLUE metrics for the classification tasks (the course's offline copy of evaluate's `glue`)."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "GLUE: accuracy for every task, plus F1 for MRPC and QQP."
_TASKS = ["sst2", "mnli", "mnli_mismatched", "mnli_matched", "qnli", "rte", "wnli", "hans", "mrpc", "qqp"]


def _accuracy(predictions, references):
    return float(np.mean(predictions == references))


def _f1(predictions, references):
    tp = np.sum((predictions == 1) & (references == 1))
    fp = np.sum((predictions == 1) & (references == 0))
    fn = np.sum((predictions == 0) & (references == 1))
    return 0.0 if tp == 0 else float(2 * tp / (2 * tp + fp + fn))


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION)
class Glue(evaluate.Metric):
    def _info(self):
        if self.config_name not in _TASKS:
            raise KeyError(f"The course's offline glue metric knows {_TASKS}, not {self.config_name!r}.")
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description="predictions and references: lists of integer class ids",
            features=datasets.Features({"predictions": datasets.Value("int64"),
                                        "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        predictions, references = np.asarray(predictions), np.asarray(references)
        result = {"accuracy": _accuracy(predictions, references)}
        if self.config_name in ("mrpc", "qqp"):
            result["f1"] = _f1(predictions, references)
        return result
