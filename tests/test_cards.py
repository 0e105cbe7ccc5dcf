"""course_utils.cards: a model card filled in from a real (tiny) Trainer run, parsed back by huggingface_hub."""

import math
import re
from pathlib import Path

import evaluate
import pytest
from huggingface_hub import ModelCard, metadata_load
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    Trainer,
    TrainingArguments,
)

from course_utils import cards, data, training
from course_utils.environment import set_seed

CKPT = "google-bert/bert-base-uncased"  # the smoke cache's tiny stand-in (conftest sets HF_HOME)
TEXTS = dict(model_description="A test model.", intended_uses="Tests only.", limitations="Tiny and random.",
             training_data="A few MRPC fixture rows.")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One short Trainer run on fixture rows: the trainer and what `trainer.evaluate()` returned."""
    raw = data.load_course_dataset("nyu-mll/glue", "mrpc")
    tokenizer = AutoTokenizer.from_pretrained(CKPT)
    encoded = raw.map(lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True), batched=True)
    set_seed(7)
    model = AutoModelForSequenceClassification.from_pretrained(CKPT, num_labels=2)
    args = TrainingArguments(str(tmp_path_factory.mktemp("out")), num_train_epochs=2, learning_rate=3e-4,
                             per_device_train_batch_size=4, per_device_eval_batch_size=5, seed=7,
                             lr_scheduler_type="cosine", eval_strategy="epoch", save_strategy="no",
                             report_to="none", disable_tqdm=True)
    trainer = Trainer(model, args, train_dataset=encoded["train"].select(range(16)),
                      eval_dataset=encoded["validation"], data_collator=DataCollatorWithPadding(tokenizer),
                      processing_class=tokenizer,
                      compute_metrics=training.make_compute_metrics(evaluate.load("glue", "mrpc")))
    trainer.train()
    return trainer, trainer.evaluate()


def make_card(trainer, metrics, **overrides):
    kwargs = dict(model_name="bert-finetuned-mrpc-test", base_model=CKPT, dataset_id="nyu-mll/glue",
                  dataset_config="mrpc", **TEXTS)
    return cards.model_card_from_trainer(trainer, metrics, **{**kwargs, **overrides})


def test_card_metadata_holds_the_runs_metrics_and_hyperparameters(run, tmp_path):
    trainer, metrics = run
    path = tmp_path / "README.md"
    make_card(trainer, metrics).save(path)

    back = ModelCard.load(path)  # huggingface_hub parses it back: YAML block, model-index and all
    assert back.data.base_model == CKPT and back.data.datasets == ["nyu-mll/glue"]
    assert back.data.model_name == "bert-finetuned-mrpc-test"
    # Evaluation results: exactly the run's own eval_* quality metrics, no runtime or loss.
    assert cards.eval_results_of(back) == {"accuracy": metrics["eval_accuracy"], "f1": metrics["eval_f1"]}
    assert back.data.metrics == ["accuracy", "f1"]
    for result in back.data.eval_results:
        assert (result.task_type, result.dataset_type, result.dataset_config, result.dataset_split) == (
            "text-classification", "nyu-mll/glue", "mrpc", "validation")
    # Hyperparameters: the run's TrainingArguments and step count.
    hyper = back.data["training_hyperparameters"]
    args = trainer.args
    assert hyper["learning_rate"] == args.learning_rate == 3e-4
    assert (hyper["train_batch_size"], hyper["eval_batch_size"]) == (4, 5)
    assert hyper["seed"] == args.seed == 7
    assert hyper["num_epochs"] == args.num_train_epochs == 2
    assert hyper["lr_scheduler_type"] == "cosine"
    assert hyper["optimizer"] == args.optim.value
    assert hyper["mixed_precision"] == "no"
    assert hyper["optimizer_steps"] == trainer.state.global_step == 2 * math.ceil(16 / 4)
    # The same metadata through the plain-dict reader.
    meta = metadata_load(path)
    assert meta["training_hyperparameters"] == hyper
    assert meta["model-index"][0]["results"][0]["metrics"][0] == {"type": "accuracy",
                                                                  "value": metrics["eval_accuracy"]}


def test_card_text_has_the_sections_and_versions(run):
    trainer, metrics = run
    card = make_card(trainer, metrics)
    text = card.text
    for heading in ["## Model description", "## Intended uses & limitations", "## Training data",
                    "## Training procedure", "## Evaluation results", "## Framework versions"]:
        assert heading in text
    for value in TEXTS.values():
        assert value in text
    import transformers

    assert f"transformers {transformers.__version__}" in text
    assert "learning_rate: 0.0003" in text
    assert ModelCard(str(card)).data.to_dict() == card.data.to_dict()  # round trip through the text


def test_missing_metrics_is_a_clear_error(run):
    trainer, _ = run
    with pytest.raises(ValueError, match="No evaluation metrics"):
        make_card(trainer, {})
    with pytest.raises(ValueError, match="trainer.evaluate"):
        make_card(trainer, {"eval_loss": 0.69, "eval_runtime": 0.1, "epoch": 1.0})


def test_quality_metrics_keeps_only_compute_metrics_results():
    metrics = {"eval_loss": 0.5, "eval_accuracy": 0.75, "eval_f1": 0.8, "eval_runtime": 0.2,
               "eval_samples_per_second": 80.0, "eval_steps_per_second": 10.0, "epoch": 3.0}
    assert cards.quality_metrics(metrics) == {"accuracy": 0.75, "f1": 0.8}
    assert cards.quality_metrics({"test_accuracy": 0.6}, prefix="test_") == {"accuracy": 0.6}


def test_hyperparameters_follow_max_steps_and_accumulation(tmp_path):
    args = TrainingArguments(str(tmp_path), max_steps=10, gradient_accumulation_steps=4, report_to="none")
    hyper = cards.training_hyperparameters(args)
    assert hyper["max_steps"] == 10 and "num_epochs" not in hyper
    assert hyper["gradient_accumulation_steps"] == 4
    assert "optimizer_steps" not in hyper


def test_the_course_card_fills_what_the_trainers_own_card_leaves_out(run):
    """Chapter 13 shows `trainer.create_model_card()` first and keeps the course's builder for its gaps only."""
    trainer, metrics = run
    trainer.create_model_card(model_name="bert-finetuned-mrpc-test", license="apache-2.0",  # a licence: no Hub lookup
                              dataset_tags="nyu-mll/glue", dataset_args="mrpc")
    draft = ModelCard.load(Path(trainer.args.output_dir) / "README.md")
    assert draft.data.base_model == CKPT and cards.eval_results_of(draft) == cards.eval_results_of(
        make_card(trainer, metrics))  # the same run's results in both
    gaps = re.findall(r"^## (.+)\n\nMore information needed", draft.text, flags=re.MULTILINE)
    assert gaps == ["Model description", "Intended uses & limitations", "Training and evaluation data"]
    assert "training_hyperparameters" not in draft.data.to_dict()  # the draft has them as prose only

    ours = make_card(trainer, metrics)
    assert "More information needed" not in ours.text
    assert all(text in ours.text for text in TEXTS.values())
    assert ours.data["training_hyperparameters"]["learning_rate"] == trainer.args.learning_rate
