"""A model card written from a real `Trainer` run, with `huggingface_hub`'s ModelCard support.

Everything measurable comes from the run's own objects, nothing is typed by hand:
- the hyperparameters from `trainer.args` (and the number of optimizer steps from `trainer.state`);
- the evaluation results from the metrics dict you pass, normally what `trainer.evaluate()` returned;
- the library versions from the running Python.
What only you know (what the model is for, its limits, the data) you pass as text.

The card's YAML metadata holds `base_model`, `datasets`, `metrics`, a `model-index` (the Hub's
format for evaluation results, shown on the model page) and, under `training_hyperparameters`,
the hyperparameters: the Hub keeps keys it does not know and shows them in the metadata, so a
script can read them back with `ModelCard.load(path).data["training_hyperparameters"]`.
"""

from __future__ import annotations

import enum
import importlib.metadata
import math
import numbers
import os
from collections.abc import Mapping, Sequence

import numpy as np
from huggingface_hub import EvalResult, ModelCard, ModelCardData

# Keys `Trainer.evaluate()` adds that describe the run's speed, not the model's quality.
_NOT_QUALITY = {"runtime", "samples_per_second", "steps_per_second", "loss", "epoch", "step"}
CARD_LIBRARIES = ["transformers", "torch", "datasets", "tokenizers", "evaluate", "huggingface_hub"]

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

This model is a fine-tuned version of [{{ base_model }}](https://huggingface.co/{{ base_model }}) on the
[{{ dataset_id }}](https://huggingface.co/datasets/{{ dataset_id }}) dataset{% if dataset_config %} (`{{ dataset_config }}` configuration){% endif %}.

## Model description

{{ model_description }}

## Intended uses & limitations

{{ intended_uses }}

**Limitations.** {{ limitations }}

## Training data

{{ training_data }}

## Training procedure

### Training hyperparameters

The following hyperparameters were used during training (read from the run's `TrainingArguments`):
{% for key, value in hyperparameters.items() %}
- {{ key }}: {{ value }}
{%- endfor %}

## Evaluation results

On the `{{ eval_split }}` split, after training:
{% for key, value in results.items() %}
- {{ key }}: {{ value }}
{%- endfor %}

## Framework versions
{% for name, version in versions.items() %}
- {{ name }} {{ version }}
{%- endfor %}
"""


def _plain(value):
    """YAML-friendly: enums (OptimizerNames, SchedulerType) become their string value."""
    return value.value if isinstance(value, enum.Enum) else value


def training_hyperparameters(args, global_step: int | None = None) -> dict:
    """The hyperparameters of a run, from its `TrainingArguments`, in the names the Hub's cards use."""
    if not hasattr(args, "learning_rate") and hasattr(args, "args"):
        args = args.args  # the Trainer itself: its TrainingArguments are trainer.args
    if not hasattr(args, "learning_rate"):
        raise TypeError(f"training_hyperparameters takes the run's TrainingArguments (trainer.args), not a "
                        f"{type(args).__name__}.")
    hyper = {
        "learning_rate": args.learning_rate,
        "train_batch_size": args.per_device_train_batch_size,
        "eval_batch_size": args.per_device_eval_batch_size,
        "seed": args.seed,
        "optimizer": _plain(args.optim),
        "adam_betas": [args.adam_beta1, args.adam_beta2],
        "adam_epsilon": args.adam_epsilon,
        "weight_decay": args.weight_decay,
        "lr_scheduler_type": _plain(args.lr_scheduler_type),
        "warmup_steps": args.warmup_steps,
        "mixed_precision": "bf16" if args.bf16 else "fp16" if args.fp16 else "no",
    }
    if args.gradient_accumulation_steps > 1:
        hyper["gradient_accumulation_steps"] = args.gradient_accumulation_steps
    if args.max_steps > 0:
        hyper["max_steps"] = args.max_steps
    else:
        hyper["num_epochs"] = args.num_train_epochs
    if global_step is not None:
        hyper["optimizer_steps"] = global_step
    return hyper


def quality_metrics(metrics: Mapping[str, float], prefix: str = "eval_") -> dict[str, float]:
    """`{'accuracy': 0.86, 'f1': 0.90}` from `trainer.evaluate()`'s `{'eval_accuracy': ..., 'eval_runtime': ...}`.

    Keeps the metrics your `compute_metrics` returned; drops loss, runtime, throughput and epoch.
    NumPy and torch scalars count as numbers; a metric that is not one finite number is an error.
    """
    if not isinstance(metrics, Mapping):
        hint = (" For trainer.predict(...), pass its .metrics, with prefix='test_'."
                if isinstance(getattr(metrics, "metrics", None), Mapping) else "")
        raise TypeError(f"metrics must be the dict trainer.evaluate() returned, not a {type(metrics).__name__}.{hint}")
    found = {}
    for key, value in metrics.items():
        name = key[len(prefix):] if isinstance(key, str) and key.startswith(prefix) else None
        if not name or name in _NOT_QUALITY:
            continue
        number = _number(value)
        if number is None:
            raise ValueError(f"{key} is {value!r:.60}, not one number: a model card reports one number per metric. "
                             "Return a single number from compute_metrics (e.g. f1 with average='macro'), or "
                             "leave this key out of the dict.")
        if not math.isfinite(number):
            raise ValueError(f"{key} is {number}: the evaluation produced no valid number (an empty evaluation set, "
                             "or a model whose loss diverged?). Fix the run before writing its card.")
        found[name] = number
    return found


def _number(value) -> float | None:
    """A float from an int, a float, or a NumPy / torch scalar; None for anything else (bools included)."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Real):  # int, float and NumPy's scalar types
        return float(value)
    if type(value).__module__.startswith(("numpy", "torch")) and getattr(value, "ndim", None) == 0:
        item = value.item()  # a 0-d array or tensor
        return None if isinstance(item, bool) else float(item) if isinstance(item, numbers.Real) else None
    return None


def model_card_from_trainer(trainer, metrics: Mapping[str, float], *, model_name: str, base_model: str,
                            dataset_id: str, dataset_config: str | None = None, dataset_name: str | None = None,
                            eval_split: str = "validation", task_type: str = "text-classification",
                            language: str | None = "en", license: str | None = "apache-2.0",
                            model_description: str, intended_uses: str, limitations: str,
                            training_data: str, tags: Sequence[str] = ()) -> ModelCard:
    """A `huggingface_hub.ModelCard` for the model `trainer` trained, filled in from the run itself.

    `metrics` is the dict `trainer.evaluate()` returned (pass it explicitly: the card reports exactly
    the evaluation you ran). Its `eval_*` quality metrics become the card's model-index results;
    `trainer.args` gives the hyperparameters. Raises ValueError when `metrics` holds no quality metric.
    """
    if not (hasattr(trainer, "args") and hasattr(trainer, "state")):
        raise TypeError(f"Pass the Trainer that trained the model (trainer), not a {type(trainer).__name__}: the card "
                        "reads the hyperparameters from trainer.args and the step count from trainer.state.")
    texts = dict(model_name=model_name, base_model=base_model, dataset_id=dataset_id,
                 model_description=model_description, intended_uses=intended_uses, limitations=limitations,
                 training_data=training_data)
    for field_name, text in texts.items():
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{field_name} must be a non-empty text, got {text!r:.40}: the card shows it to "
                             "everyone who opens the model's page.")
    tags = [tags] if isinstance(tags, str) else tags  # tags="course" means one tag, not six letters
    results = quality_metrics(metrics)
    if not results:
        raise ValueError(
            f"No evaluation metrics in {dict(metrics)!r}. Pass what `trainer.evaluate()` returned, from a "
            "Trainer built with compute_metrics=..., e.g. {'eval_accuracy': 0.86, 'eval_f1': 0.90}.")
    dataset_name = dataset_name or (f"{dataset_id} ({dataset_config})" if dataset_config else dataset_id)
    eval_results = [
        EvalResult(task_type=task_type, dataset_type=dataset_id, dataset_name=dataset_name,
                   dataset_config=dataset_config, dataset_split=eval_split, metric_type=name, metric_value=value)
        for name, value in results.items()
    ]
    hyperparameters = training_hyperparameters(trainer.args, trainer.state.global_step)
    versions = {}
    for name in CARD_LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    card_data = ModelCardData(
        model_name=model_name, base_model=base_model, datasets=[dataset_id], language=language,
        license=license, library_name="transformers", pipeline_tag=task_type, metrics=list(results),
        tags=list(tags) or None, eval_results=eval_results, training_hyperparameters=hyperparameters,
    )
    return ModelCard.from_template(
        card_data, template_str=TEMPLATE, model_name=model_name, base_model=base_model, dataset_id=dataset_id,
        dataset_config=dataset_config, eval_split=eval_split, model_description=model_description.strip(),
        intended_uses=intended_uses.strip(), limitations=limitations.strip(), training_data=training_data.strip(),
        hyperparameters=hyperparameters, results={k: round(v, 4) for k, v in results.items()}, versions=versions,
    )


def eval_results_of(card: ModelCard) -> dict[str, float]:
    """`{metric: value}` from a card's model-index, e.g. after `ModelCard.load(path)` parsed it back.

    A path to a card (README.md) works too: it is loaded first.
    """
    if isinstance(card, (str, os.PathLike)):
        card = ModelCard.load(card)
    if not hasattr(card, "data"):
        raise TypeError(f"eval_results_of takes a ModelCard, e.g. ModelCard.load('README.md'), not a "
                        f"{type(card).__name__}.")
    return {r.metric_type: r.metric_value for r in (card.data.eval_results or [])}
