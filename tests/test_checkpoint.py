"""The best checkpoint is saved atomically, reloads exactly, and fit keeps the best by validation loss."""

import pytest
import torch
from torch import nn

from course_utils import training


class TinyClassifier(nn.Module):
    """A custom module returning a plain logits tensor, like the NSMC chapter's BertClassifier."""

    def __init__(self, vocab_size=16, hidden=8, num_labels=2):
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab_size, hidden)
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(hidden, num_labels)

    def forward(self, input_ids, attention_mask=None):
        return self.head(self.dropout(self.embed(input_ids)))


def toy_batches(seed, n_batches=6, batch_size=8):
    """A learnable task: label 1 when token 1 appears, else 0."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(n_batches):
        ids = torch.randint(2, 16, (batch_size, 5), generator=g)
        labels = torch.randint(0, 2, (batch_size,), generator=g)
        ids[labels == 1, 0] = 1
        batches.append({"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels})
    return batches


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError, OSError])
def test_an_interrupted_save_leaves_the_previous_best_intact(tmp_path, monkeypatch, error):
    path = tmp_path / "best.pt"
    torch.manual_seed(0)
    best = TinyClassifier().state_dict()
    training.save_checkpoint(best, path)
    before = path.read_bytes()
    real_save = torch.save

    def crash_half_way(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")  # some bytes reach the disk, then the process dies
        raise error("interrupted mid-save")

    monkeypatch.setattr(torch, "save", crash_half_way)
    torch.manual_seed(1)
    with pytest.raises(error):
        training.save_checkpoint(TinyClassifier().state_dict(), path)
    monkeypatch.setattr(torch, "save", real_save)

    assert path.read_bytes() == before  # byte for byte the previous best
    assert states_equal(torch.load(path, weights_only=True), best)
    assert [p.name for p in tmp_path.iterdir()] == ["best.pt"]  # no temporary file left behind


def test_save_replaces_the_previous_checkpoint(tmp_path):
    path = tmp_path / "sub" / "best.pt"  # the folder is created
    for seed in (0, 1):
        torch.manual_seed(seed)
        state = TinyClassifier().state_dict()
        training.save_checkpoint(state, path)
    assert states_equal(torch.load(path, weights_only=True), state)
    assert [p.name for p in path.parent.iterdir()] == ["best.pt"]


def test_load_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    trained = TinyClassifier()
    training.save_checkpoint(trained.state_dict(), tmp_path / "best.pt")
    torch.manual_seed(1)
    fresh = TinyClassifier()
    assert not states_equal(fresh.state_dict(), trained.state_dict())
    returned = training.load_checkpoint(fresh, tmp_path / "best.pt")
    assert returned is fresh and states_equal(fresh.state_dict(), trained.state_dict())
    batch = toy_batches(0)[0]
    trained.eval(), fresh.eval()
    assert torch.equal(trained(batch["input_ids"]), fresh(batch["input_ids"]))


def test_a_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="No checkpoint at .*Train first"):
        training.load_checkpoint(TinyClassifier(), tmp_path / "best.pt")


def run(seed, tmp_path, num_epochs=4):
    torch.manual_seed(seed)
    model = TinyClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    history = training.fit(model, toy_batches(seed), toy_batches(seed + 100, n_batches=2), optimizer,
                           num_epochs=num_epochs, checkpoint_path=tmp_path / f"best-{seed}.pt", progress=False)
    return model, history


def test_fit_learns_and_keeps_the_best_by_validation_loss(tmp_path):
    _model, history = run(0, tmp_path)
    assert len(history) == 4
    assert history[-1]["train_loss"] < history[0]["train_loss"]  # the toy task is learnable
    best = min(history, key=lambda row: row["val_loss"])
    assert best.get("best") and sum(bool(row.get("best")) for row in history) >= 1
    reloaded = training.load_checkpoint(TinyClassifier(), tmp_path / "best-0.pt")
    val = training.evaluate(reloaded, toy_batches(100, n_batches=2), progress=False)
    assert val["loss"] == pytest.approx(best["val_loss"])  # the file holds the best epoch, not the last


def test_same_seed_same_validation_numbers(tmp_path):
    _, first = run(0, tmp_path)
    _, second = run(0, tmp_path)
    _, other = run(1, tmp_path)
    assert first == second
    assert first != other


def test_fit_without_checkpoint_path_does_not_claim_it_saved(capsys):
    torch.manual_seed(0)
    model = TinyClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    history = training.fit(model, toy_batches(0), toy_batches(100, n_batches=2), optimizer, num_epochs=2)
    out = capsys.readouterr().out
    assert history[0]["best"] is True
    assert "saved" not in out and "(best so far)" in out


def test_fit_with_checkpoint_path_says_saved_and_writes_it(tmp_path, capsys):
    torch.manual_seed(0)
    model = TinyClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.05)
    training.fit(model, toy_batches(0), toy_batches(100, n_batches=2), optimizer, num_epochs=2,
                 checkpoint_path=tmp_path / "best.pt")
    assert "(best, saved)" in capsys.readouterr().out
    assert (tmp_path / "best.pt").is_file()
