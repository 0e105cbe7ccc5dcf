"""training.fit's epoch lines: "saved" only when a checkpoint was actually written."""

import torch
from torch.utils.data import DataLoader

from course_utils import training


def _toy_loaders():
    torch.manual_seed(0)
    x = torch.randn(32, 4)
    y = (x[:, 0] > 0).long()
    rows = [{"x": x[i], "labels": y[i]} for i in range(32)]
    return DataLoader(rows, batch_size=8, shuffle=True), DataLoader(rows, batch_size=8)


class Toy(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.linear(x)


def test_fit_without_checkpoint_path_does_not_claim_it_saved(capsys):
    train, val = _toy_loaders()
    model = Toy()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    history = training.fit(model, train, val, optimizer, num_epochs=2)
    out = capsys.readouterr().out
    assert history[0]["best"] is True
    assert "saved" not in out and "(best so far)" in out


def test_fit_with_checkpoint_path_says_saved_and_writes_it(tmp_path, capsys):
    train, val = _toy_loaders()
    model = Toy()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    training.fit(model, train, val, optimizer, num_epochs=2, checkpoint_path=tmp_path / "best.pt")
    assert "(best, saved)" in capsys.readouterr().out
    assert (tmp_path / "best.pt").is_file()
