"""The course's training loop really learns, and repeats itself number for number with the same seed.

A tiny BERT (hidden 32, 2 layers, random weights) is trained from scratch with `course_utils.training`
on the SST-2 fixture, whose sentiment words ("badly written", "beautifully acted", ...) make it
learnable. Setting: AdamW at lr 3e-3 with a linear schedule, batch 8, 10 epochs of the 48 training
sentences = 60 optimizer steps (about a second on one CPU core). Measured on seeds 0, 1, 2 and 42:
the training loss falls from 0.69 to below 0.01 and validation accuracy ends at 0.875 to 1.0, where
always predicting the majority class scores 0.5.
"""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader
from transformers import (
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    DataCollatorWithPadding,
    get_scheduler,
)

from course_utils import data, environment, training

NUM_EPOCHS = 10
BATCH_SIZE = 8
LR = 3e-3


@pytest.fixture(scope="module")
def tokenizer():
    # The smoke cache's tokenizer for this id (a WordPiece vocabulary trained on the fixtures).
    return AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")


@pytest.fixture(scope="module")
def sst2(tokenizer):
    raw = data.load_course_dataset("nyu-mll/glue", "sst2")
    tokenized = raw.map(lambda batch: tokenizer(batch["sentence"], truncation=True), batched=True)
    tokenized = tokenized.remove_columns(["sentence", "idx"]).rename_column("label", "labels")
    tokenized.set_format("torch")
    return tokenized


def train_tiny_bert(tokenizer, sst2, seed):
    environment.set_seed(seed)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=64, num_labels=2,
                        pad_token_id=tokenizer.pad_token_id)
    model = BertForSequenceClassification(config)
    collator = DataCollatorWithPadding(tokenizer)
    train_dataloader = DataLoader(sst2["train"], shuffle=True, batch_size=BATCH_SIZE, collate_fn=collator,
                                  generator=torch.Generator().manual_seed(seed))
    eval_dataloader = DataLoader(sst2["validation"], batch_size=16, collate_fn=collator)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    num_training_steps = NUM_EPOCHS * len(train_dataloader)
    scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0, num_training_steps=num_training_steps)
    before = training.evaluate(model, train_dataloader, progress=False)
    history = training.fit(model, train_dataloader, eval_dataloader, optimizer, NUM_EPOCHS, scheduler=scheduler,
                           progress=False)
    after = training.evaluate(model, eval_dataloader, progress=False)
    return {"steps": num_training_steps, "loss_before": before["loss"], "history": history, "final": after}


@pytest.fixture(scope="module")
def run(tokenizer, sst2):
    return train_tiny_bert(tokenizer, sst2, seed=0)


def test_the_loop_takes_the_stated_number_of_steps(run):
    assert run["steps"] == 60  # 10 epochs x ceil(48 / 8) batches
    assert [row["epoch"] for row in run["history"]] == list(range(1, NUM_EPOCHS + 1))


def test_training_loss_falls(run):
    losses = [row["train_loss"] for row in run["history"]]
    assert run["loss_before"] == pytest.approx(np.log(2), abs=0.05)  # an untrained 2-class model
    assert losses[-1] < 0.5 * losses[0]
    assert losses[-1] < 0.2


def test_validation_accuracy_beats_the_majority_class(run, sst2):
    labels = np.asarray(sst2["validation"].with_format(None)["labels"])
    majority = np.bincount(labels).max() / len(labels)
    assert run["final"]["accuracy"] > majority + 0.2
    assert len(run["final"]["predictions"]) == len(labels)


def test_the_same_seed_gives_identical_numbers(run, tokenizer, sst2):
    again = train_tiny_bert(tokenizer, sst2, seed=0)
    assert again["history"] == run["history"]
    assert np.array_equal(again["final"]["predictions"], run["final"]["predictions"])
    # ... and the comparison can fail: another seed takes another path.
    other = train_tiny_bert(tokenizer, sst2, seed=1)
    assert other["history"] != run["history"]


# --- what the loop does on every device: clipping, host syncs, a loss that is no longer finite ----------

def linear_batches(scale=1.0, n_batches=6, batch_size=4):
    g = torch.Generator().manual_seed(0)
    return [{"x": torch.randn(batch_size, 3, generator=g) * scale, "labels": torch.randint(0, 2, (batch_size,), generator=g)}
            for _ in range(n_batches)]


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(3, 2)

    def forward(self, x):
        return self.layer(x)


def one_step_update(max_grad_norm, scale=100.0):
    """The size of one SGD step (lr 1) on inputs large enough to give a gradient norm well above 1."""
    model = Linear()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    training.train_epoch(model, linear_batches(scale, n_batches=1), optimizer, progress=False,
                         max_grad_norm=max_grad_norm)
    return torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.parameters(), before))).item()


def test_gradients_are_clipped_to_max_grad_norm_like_the_trainer():
    assert one_step_update(max_grad_norm=None) > 10  # the raw gradient is large ...
    assert one_step_update(max_grad_norm=1.0) == pytest.approx(1.0, rel=1e-4)  # ... the clipped step is norm 1
    assert one_step_update(max_grad_norm=0.5) == pytest.approx(0.5, rel=1e-4)


def test_train_epoch_reads_numbers_back_from_the_device_only_every_sync_every_steps(monkeypatch):
    """`.item()` (and `int()` on a tensor) make the host wait for the device; the loop does it rarely."""
    reads = {"n": 0}
    real_item, real_int = torch.Tensor.item, torch.Tensor.__int__

    def counting_item(self):
        reads["n"] += 1
        return real_item(self)

    def counting_int(self):
        reads["n"] += 1
        return real_int(self)

    monkeypatch.setattr(torch.Tensor, "item", counting_item)
    monkeypatch.setattr(torch.Tensor, "__int__", counting_int)
    model = Linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    training.train_epoch(model, linear_batches(n_batches=40), optimizer, progress=False, sync_every=20)
    # 40 steps: a finiteness check at steps 20 and 40 and at the end, and the two totals returned.
    assert reads["n"] <= 5, reads["n"]


def test_a_non_finite_loss_stops_training_and_names_the_step():
    model = Linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = linear_batches(n_batches=8)
    batches[2]["x"] = batches[2]["x"] * float("nan")
    with pytest.raises(training.NonFiniteLossError, match="at step 3 of this epoch"):
        training.train_epoch(model, batches, optimizer, progress=False, sync_every=20)


def test_fit_saves_nothing_from_an_epoch_whose_loss_became_nan(tmp_path):
    model = Linear()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = linear_batches(n_batches=4)
    batches[1]["x"] = batches[1]["x"] * float("inf")
    checkpoint = tmp_path / "best.pt"
    with pytest.raises(training.NonFiniteLossError):
        training.fit(model, batches, linear_batches(n_batches=2), optimizer, num_epochs=2,
                     checkpoint_path=checkpoint, progress=False)
    assert not checkpoint.exists()


def test_evaluate_copies_predictions_to_the_host_once(monkeypatch):
    copies = {"n": 0}
    real_cpu = torch.Tensor.cpu

    def counting_cpu(self, *args, **kwargs):
        copies["n"] += 1
        return real_cpu(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", counting_cpu)
    result = training.evaluate(Linear(), linear_batches(n_batches=10), progress=False)
    assert len(result["predictions"]) == 40
    assert copies["n"] == 2  # predictions and labels, once each, not once per batch
