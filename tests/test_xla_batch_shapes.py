"""On a TPU, every training path of the course feeds XLA a few batch shapes, each compiled once.

XLA compiles a graph for every new input shape. With plain dynamic padding every batch can have its own
length, and a short last batch its own size: a TPU would spend its time compiling. The course's rule on
an `xla` device kind, which these tests check on each chapter's own data path:

- every batch length is a multiple of 64 (MRPC's pairs fit in 64 or 128; at most 8 lengths up to 512);
- every training batch is full (the short last one is dropped), except under the `Trainer`, whose short
  last batch adds one more shape;
- evaluation keeps every example, so it may end with one shorter batch.

So a training path compiles at most (number of lengths) x 2 shapes, here on the tiny fixtures 1 or 2 for
training and 1 or 2 for evaluation. The chapters' cells are executed in this process (`chapter_cells.run_cells`)
with `env.device_kind()` answering "xla"; no TPU is needed to build the batches.
"""

from collections import Counter

import pytest
import torch

from chapter_cells import chapter, run_cells
from course_utils import environment
from script_module import load_script

LENGTH_BUCKET = 64


@pytest.fixture
def as_on_a_tpu(monkeypatch, tmp_path):
    """env.device_kind() says "xla" (the model stays on the CPU; seeding skips the XLA generator, which
    test_mixed_precision.py checks); cells write their files into tmp_path."""
    monkeypatch.setattr(environment, "device_kind", lambda: "xla")
    monkeypatch.setattr(environment, "pick_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(environment, "set_seed", _seed_without_xla)
    monkeypatch.chdir(tmp_path)


def _seed_without_xla(seed):
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def shapes(dataloader) -> Counter:
    return Counter(tuple(batch["input_ids"].shape) for batch in dataloader)


def assert_few_shapes(train, evaluation, train_batch_size, eval_batch_size, short_last_train_batch=False):
    """The rule in the module docstring, on the shapes counted over one pass of each dataloader."""
    assert train and evaluation
    for name, counted in [("train", train), ("eval", evaluation)]:
        lengths = {length for _, length in counted}
        assert all(length % LENGTH_BUCKET == 0 for length in lengths), f"{name} lengths {sorted(lengths)}"
    train_sizes = {size for size, _ in train}
    if short_last_train_batch:
        assert len(train_sizes) <= 2 and max(train_sizes) == train_batch_size, train
    else:
        assert train_sizes == {train_batch_size}, f"a short training batch was kept: {train}"
    eval_sizes = {size for size, _ in evaluation}
    assert max(eval_sizes) == eval_batch_size and len(eval_sizes) <= 2, evaluation
    assert sum(n for (size, _), n in evaluation.items() if size != eval_batch_size) <= 1, evaluation


def test_xla_batch_shapes_trainer_chapter(as_on_a_tpu):
    ns = run_cells(chapter("trainer"), stop_before="train_output = trainer.train()")
    trainer = ns["trainer"]
    assert_few_shapes(shapes(trainer.get_train_dataloader()), shapes(trainer.get_eval_dataloader()),
                      trainer.args.per_device_train_batch_size, trainer.args.per_device_eval_batch_size,
                      short_last_train_batch=True)


def test_xla_batch_shapes_training_loop_chapter(as_on_a_tpu):
    ns = run_cells(chapter("training_loop"), stop_before="for epoch in range(num_epochs)")
    assert_few_shapes(shapes(ns["train_dataloader"]), shapes(ns["eval_dataloader"]), 8, 8)


def test_xla_batch_shapes_accelerate_chapter(as_on_a_tpu):
    ns = run_cells(chapter("accelerate"), stop_before="notebook_launcher(training_function")
    train_dataloader, eval_dataloader = ns["make_dataloaders"](on_tpu=True)
    assert_few_shapes(shapes(train_dataloader), shapes(eval_dataloader), 8, 16)


def test_xla_batch_shapes_yelp_chapter_trainer_and_native_loop(as_on_a_tpu):
    ns = run_cells(chapter("yelp_reviews"), stop_before="train_output = trainer.train()",
                   also=("train_torch = train_tokenized.remove_columns", "train_dataloader = DataLoader(train_torch"))
    trainer = ns["trainer"]
    assert_few_shapes(shapes(trainer.get_train_dataloader()), shapes(trainer.get_eval_dataloader()), 8, 8,
                      short_last_train_batch=True)
    assert_few_shapes(shapes(ns["train_dataloader"]), shapes(ns["eval_dataloader"]), 8, 8)


def test_xla_batch_shapes_nsmc_chapter_custom_head_loop(as_on_a_tpu):
    ns = run_cells(chapter("nsmc_korean"), stop_before="model, history = train_once(")
    make_loader = ns["make_loader"]
    assert_few_shapes(shapes(make_loader(ns["train_ds"], shuffle=True)),
                      shapes(make_loader(ns["val_ds"], shuffle=False)), 8, 8)  # the tutorial's batch size


def test_xla_batch_shapes_sharing_chapter_trainer(as_on_a_tpu):
    ns = run_cells(chapter("sharing_models"), stop_before="trainer.train()")
    trainer = ns["trainer"]
    assert_few_shapes(shapes(trainer.get_train_dataloader()), shapes(trainer.get_eval_dataloader()),
                      trainer.args.per_device_train_batch_size, trainer.args.per_device_eval_batch_size,
                      short_last_train_batch=True)


@pytest.mark.parametrize("options, lengths", [([], None), (["--pad-to-max-length", "--max-length", "128"], {128})])
def test_xla_batch_shapes_train_mrpc_script(as_on_a_tpu, options, lengths):
    from pathlib import Path

    from transformers import AutoTokenizer

    from course_utils import data

    script = load_script(Path(__file__).resolve().parents[1] / "scripts" / "train_mrpc.py")
    args = script.parse_args(options)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    tokenized = data.load_course_dataset("nyu-mll/glue", "mrpc").map(
        lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True, max_length=args.max_length), batched=True)
    tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"]).rename_column("label", "labels")
    tokenized.set_format("torch")
    train, evaluation = (shapes(dl) for dl in script.make_dataloaders(tokenized, tokenizer, args, on_tpu=True))
    assert_few_shapes(train, evaluation, args.batch_size, args.eval_batch_size)
    if lengths is not None:
        assert {length for _, length in train | evaluation} == lengths
    # ... and off a TPU the same function keeps plain dynamic padding and every training example.
    train_off, _ = script.make_dataloaders(tokenized, tokenizer, args, on_tpu=False)
    assert sum(len(b["labels"]) for b in train_off) == len(tokenized["train"])
