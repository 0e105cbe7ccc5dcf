"""Model cards from unusual metrics and arguments: NumPy and torch scalars (what `trainer.evaluate()` can
return) are read as numbers, NaN or a per-class list is a clear error instead of `.nan` in a card, and a
model or an empty text where the card needs a Trainer or a sentence is refused.

The card only reads `trainer.args` and `trainer.state.global_step`, so a stand-in with real
`TrainingArguments` serves here; tests/test_cards.py writes a card from a real Trainer run.
"""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from huggingface_hub import ModelCard
from transformers import TrainingArguments
from transformers.trainer_utils import PredictionOutput

from bad_input import Accepted, Case, Error, cases
from course_utils import cards


def only(**expected):
    def check(found):
        assert found == expected and all(type(v) is float for v in found.values())
    return check


QUALITY_METRICS = [
    Case("numpy-float64", {"eval_accuracy": np.float64(0.75), "eval_runtime": 0.1}, Accepted(only(accuracy=0.75))),
    Case("numpy-float32", {"eval_f1": np.float32(0.5)}, Accepted(only(f1=0.5))),
    Case("numpy-int", {"eval_correct": np.int64(12)}, Accepted(only(correct=12.0))),
    Case("numpy-0d-array", {"eval_accuracy": np.array(0.25)}, Accepted(only(accuracy=0.25))),
    Case("torch-scalar", {"eval_accuracy": torch.tensor(0.5), "eval_loss": torch.tensor(0.7)}, Accepted(only(accuracy=0.5))),
    Case("nan-loss-is-not-reported", {"eval_loss": float("nan"), "eval_accuracy": 0.5}, Accepted(only(accuracy=0.5))),
    Case("nan-metric", {"eval_accuracy": 0.5, "eval_f1": float("nan")},
         Error(ValueError, r"eval_f1 is nan: the evaluation produced no valid number.*Fix the run")),
    Case("inf-metric", {"eval_perplexity": float("inf")}, Error(ValueError, r"eval_perplexity is inf")),
    Case("torch-nan", {"eval_accuracy": torch.tensor(float("nan"))}, Error(ValueError, r"eval_accuracy is nan")),
    Case("numpy-nan", {"eval_accuracy": np.float32("nan")}, Error(ValueError, r"eval_accuracy is nan")),
    Case("per-class-list", {"eval_f1": [0.5, 0.7, 0.9]},
         Error(ValueError, r"eval_f1 is \[0\.5, 0\.7, 0\.9\], not one number.*average='macro'")),
    Case("per-class-array", {"eval_f1": np.array([0.5, 0.7])}, Error(ValueError, r"eval_f1 is array\(.*not one number")),
    Case("text", {"eval_accuracy": "0.86"}, Error(ValueError, r"eval_accuracy is '0\.86', not one number")),
    Case("none", {"eval_accuracy": None}, Error(ValueError, r"eval_accuracy is None, not one number")),
    Case("bool", {"eval_accuracy": True}, Error(ValueError, r"eval_accuracy is True, not one number")),
    Case("prediction-output", PredictionOutput(np.zeros((2, 2)), np.zeros(2), {"test_accuracy": 0.5}),
         Error(TypeError, r"not a PredictionOutput\. For trainer\.predict\(\.\.\.\), pass its \.metrics, with prefix='test_'")),
    Case("list-of-pairs", [("eval_accuracy", 0.5)], Error(TypeError, r"must be the dict trainer\.evaluate\(\) returned, not a list")),
]


@pytest.mark.parametrize("case", **cases(QUALITY_METRICS))
def test_quality_metrics(case):
    case.outcome.check(lambda: cards.quality_metrics(case.input))


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    args = TrainingArguments(str(tmp_path_factory.mktemp("out")), learning_rate=3e-4, seed=7, report_to="none")
    return SimpleNamespace(args=args, state=SimpleNamespace(global_step=4))


TEXTS = dict(model_name="bert-finetuned-mrpc-test", base_model="google-bert/bert-base-uncased",
             dataset_id="nyu-mll/glue", dataset_config="mrpc", model_description="A test model.",
             intended_uses="Tests only.", limitations="Tiny and random.", training_data="A few fixture rows.")
METRICS = {"eval_accuracy": 0.75, "eval_f1": 0.8, "eval_loss": 0.5, "eval_runtime": 0.2}


def card_values(card):
    back = ModelCard(str(card))  # what a reader of the saved card gets
    return cards.eval_results_of(back), back.data.tags


CARD_ARGS = [
    Case("model-instead-of-trainer", {"trainer": torch.nn.Linear(2, 2)},
         Error(TypeError, r"Pass the Trainer that trained the model \(trainer\), not a Linear")),
    Case("empty-description", {"model_description": "  "}, Error(ValueError, r"model_description must be a non-empty text")),
    Case("no-limitations", {"limitations": None}, Error(ValueError, r"limitations must be a non-empty text, got None")),
    Case("nan-f1", {"metrics": {**METRICS, "eval_f1": float("nan")}}, Error(ValueError, r"eval_f1 is nan")),
    Case("tags-as-one-string", {"tags": "course"}, Accepted(lambda card: card_values(card)[1] == ["course"])),
    Case("numpy-and-torch-metrics", {"metrics": {"eval_accuracy": np.float64(0.75), "eval_f1": torch.tensor(0.5)}},
         Accepted(lambda card: card_values(card)[0] == {"accuracy": 0.75, "f1": 0.5} and "np." not in str(card))),
]


@pytest.mark.parametrize("case", **cases(CARD_ARGS))
def test_model_card_arguments(case, trainer):
    kwargs = {"trainer": trainer, "metrics": METRICS, **TEXTS, **case.input}
    case.outcome.check(lambda: cards.model_card_from_trainer(kwargs.pop("trainer"), kwargs.pop("metrics"), **kwargs))


def saved_card(tmp_path, trainer):
    path = tmp_path / "README.md"
    cards.model_card_from_trainer(trainer, METRICS, **TEXTS).save(path)
    return path


CARD_READERS = [  # (function, what the learner passes)
    Case("eval_results_of-a-path", (cards.eval_results_of, saved_card),
         Accepted(lambda found: found == {"accuracy": 0.75, "f1": 0.8})),
    Case("eval_results_of-the-metrics-dict", (cards.eval_results_of, lambda tmp_path, trainer: METRICS),
         Error(TypeError, r"eval_results_of takes a ModelCard, e\.g\. ModelCard\.load\('README\.md'\), not a dict")),
    Case("hyperparameters-of-the-trainer", (cards.training_hyperparameters, lambda tmp_path, trainer: trainer),
         Accepted(lambda hyper: hyper["learning_rate"] == 3e-4 and hyper["seed"] == 7)),
    Case("hyperparameters-of-a-dict", (cards.training_hyperparameters, lambda tmp_path, trainer: {"lr": 1e-3}),
         Error(TypeError, r"takes the run's TrainingArguments \(trainer\.args\), not a dict")),
]


@pytest.mark.parametrize("case", **cases(CARD_READERS))
def test_card_readers(case, trainer, tmp_path):
    function, make_input = case.input
    case.outcome.check(lambda: function(make_input(tmp_path, trainer)))
