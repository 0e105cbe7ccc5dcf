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
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, DataCollatorWithPadding, get_scheduler

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
