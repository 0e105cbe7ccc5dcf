"""Bad batches, bad model outputs, bad arguments and bad checkpoint files in `course_utils.training`: a clear
error in words (or the right result when harmless), never a failure deep inside torch, never another
run's weights where the caller loads "the best of this run", never a temporary file left behind.

One tiny model (an embedding bag and a linear layer, like the NSMC chapter's custom module) and one
batch of 8 toy examples serve every case.
"""

import os
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn
from transformers.modeling_outputs import BaseModelOutput, SequenceClassifierOutput

from bad_input import Accepted, Case, Error, cases
from course_utils import training

VOCAB, HIDDEN, BATCH = 16, 8, 8


class Tiny(nn.Module):
    def __init__(self, num_labels=2, output=None):
        super().__init__()
        self.embed = nn.EmbeddingBag(VOCAB, HIDDEN)
        self.head = nn.Linear(HIDDEN, num_labels)
        self.output = output  # how to shape what forward returns, for the bad-output cases

    def forward(self, input_ids, attention_mask=None):
        logits = self.head(self.embed(input_ids))
        return self.output(logits) if self.output else logits


def batch(**changes):
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(2, VOCAB, (BATCH, 5), generator=g)
    good = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": torch.arange(BATCH) % 2}
    return {k: v for k, v in {**good, **changes}.items() if v is not None}


def evaluate_on(b, model=None):
    torch.manual_seed(0)
    return training.evaluate(model or Tiny(), [b], progress=False)


def one_training_step(b):
    torch.manual_seed(0)
    model = Tiny()
    return training.train_epoch(model, [b], torch.optim.SGD(model.parameters(), lr=0.1), progress=False)


def same_as_good_batch(result):
    return result["loss"] == pytest.approx(evaluate_on(batch())["loss"])


BATCHES = [
    Case("label-instead-of-labels", batch(labels=None, label=torch.arange(BATCH) % 2),
         Error(ValueError, r"has 'label', but .* read 'labels'.*rename_column\('label', 'labels'\).*"
                           r"DataCollatorWithPadding\(tokenizer\), which renames it")),
    Case("no-labels", batch(labels=None), Error(ValueError, r"no 'labels' \(its keys: \['input_ids', 'attention_mask'\]\)")),
    Case("tuple-batch", (torch.zeros(BATCH, 5, dtype=torch.long), torch.zeros(BATCH, dtype=torch.long)),
         Error(TypeError, r"A batch must be a dict of tensors, as DataLoader\(.*DataCollatorWithPadding.*got a tuple")),
    Case("text-column-left-in", batch(sentence=["a review"] * BATCH),
         Error(TypeError, r"batch\['sentence'\] is a list, not a tensor\. Remove the text columns")),
    Case("numpy-labels", batch(labels=np.arange(BATCH) % 2), Error(TypeError, r"batch\['labels'\] is a ndarray, not a tensor")),
    Case("one-example-not-a-batch", {"input_ids": torch.arange(2, 7), "labels": torch.tensor(1)},
         Error(ValueError, r"single number: the loop got one example, not a batch.*DataLoader")),
    Case("one-hot-labels", batch(labels=nn.functional.one_hot(torch.arange(BATCH) % 2)),
         Error(ValueError, r"shape \(8, 2\); .* one class id per example.*argmax")),
    Case("float-labels", batch(labels=(torch.arange(BATCH) % 2).float()),
         Error(ValueError, r"holds torch\.float32 values; class ids must be integers.*cast_column")),
    Case("bool-labels", batch(labels=torch.arange(BATCH) % 2 == 1), Error(ValueError, r"holds torch\.bool values")),
    Case("label-too-large", batch(labels=torch.tensor([0, 1, 2, 0, 1, 0, 1, 4])),
         Error(ValueError, r"label 4, but the model has 2 outputs, so labels must be 0\.\.1.*num_labels=5")),
    Case("hidden-label-minus-one", batch(labels=torch.tensor([0, 1, -1, 0, 1, 0, 1, 0])),
         Error(ValueError, r"label -1, but .* -1 marks a hidden label .* validation split")),
    Case("int32-labels", batch(labels=(torch.arange(BATCH) % 2).int()), Accepted(same_as_good_batch)),
    Case("uint8-labels", batch(labels=(torch.arange(BATCH) % 2).to(torch.uint8)), Accepted(same_as_good_batch)),
    Case("extra-tensor-the-model-ignores-not", batch(), Accepted(same_as_good_batch)),
]


@pytest.mark.parametrize("case", **cases(BATCHES))
def test_batches(case):
    case.outcome.check(lambda: evaluate_on(case.input))
    if isinstance(case.outcome, Error):  # training goes through the same check
        case.outcome.check(lambda: one_training_step(case.input))


def test_labels_are_checked_on_the_host_before_they_move(monkeypatch):
    """On a GPU or TPU, reading labels back each step would be a device sync: the range is measured on the
    host by to_device, so the check after the forward reads nothing from the device."""
    moved = training.to_device(batch(labels=torch.tensor([0, 1, 0, 1, 0, 1, 0, 5])), "cpu")

    def device_read(*args, **kwargs):
        pytest.fail("read the labels back from the device")

    for name in ("min", "max", "tolist", "item", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, device_read)
    Error(ValueError, r"label 5, but the model has 2 outputs").check(lambda: training.logits_and_loss(Tiny(), moved))


MODEL_OUTPUTS = [
    Case("per-token-logits", lambda logits: logits[:, None, :].expand(-1, 5, -1),
         Error(ValueError, r"logits of shape \(8, 5, 2\) for a batch of 8 labels.*per token.*hidden\[:, 0\]")),
    Case("squeezed-logits", lambda logits: logits[:, 0], Error(ValueError, r"logits of shape \(8,\) for a batch of 8")),
    Case("one-row-short", lambda logits: logits[1:], Error(ValueError, r"logits of shape \(7, 2\) for a batch of 8 labels")),
    Case("tuple-of-logits-and-hidden", lambda logits: (logits, logits),
         Error(TypeError, r"returned a tuple, not logits.*\(batch, num_labels\).*\.logits")),
    Case("encoder-output-no-head", lambda logits: BaseModelOutput(last_hidden_state=logits),
         Error(TypeError, r"returned a BaseModelOutput, not logits.*AutoModelForSequenceClassification")),
    Case("transformers-output", lambda logits: SequenceClassifierOutput(logits=logits), Accepted(same_as_good_batch)),
]


@pytest.mark.parametrize("case", **cases(MODEL_OUTPUTS))
def test_model_outputs(case):
    case.outcome.check(lambda: evaluate_on(batch(), Tiny(output=case.input)))


def test_more_model_outputs_than_labels_need_is_fine():
    assert evaluate_on(batch(), Tiny(num_labels=3))["predictions"].shape == (BATCH,)


def fit_once(tmp_path, **overrides):
    torch.manual_seed(0)
    model = Tiny()
    kwargs = dict(optimizer=torch.optim.AdamW(model.parameters(), lr=0.05), num_epochs=1, progress=False)
    kwargs.update(overrides)
    return training.fit(model, [batch()], [batch()], **kwargs)


FIT_ARGS = [
    Case("zero-epochs", {"num_epochs": 0}, Error(ValueError, r"num_epochs must be at least 1, got 0")),
    Case("fractional-epochs", {"num_epochs": 2.5}, Error(TypeError, r"num_epochs must be a whole number, got 2\.5")),
    Case("numpy-epochs", {"num_epochs": np.int64(2)}, Accepted(lambda history: len(history) == 2)),
    Case("scheduler-as-optimizer", {"optimizer": None},
         Error(TypeError, r"optimizer must be a torch optimizer, e\.g\. torch\.optim\.AdamW.*got a NoneType")),
    Case("checkpoint-path-is-a-folder", {"checkpoint_path": "."},
         Error(IsADirectoryError, r"is a folder; give the checkpoint a file name, e\.g\. .*best\.pt")),
    Case("checkpoint-folder-is-a-file", {"checkpoint_path": "notes.txt/best.pt"},
         Error(NotADirectoryError, r"Cannot save .*best\.pt: .*notes\.txt is a file, not a folder")),
    Case("checkpoint-path-as-text", {"checkpoint_path": "out/best.pt"}, Accepted(lambda history: history[0]["best"])),
]


@pytest.mark.parametrize("case", **cases(FIT_ARGS))
def test_fit_arguments(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("mine")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    case.outcome.check(lambda: fit_once(tmp_path, **case.input))
    if isinstance(case.outcome, Error):
        assert sorted(p.name for p in tmp_path.rglob("*")) == before, "a refused call writes nothing"


def state_of(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def states_equal(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


SAVE_ARGS = [
    Case("whole-model", lambda: Tiny(), Error(TypeError, r"takes the model's weights, not the model: "
                                                        r"save_checkpoint\(model\.state_dict\(\), path\)")),
    Case("list-of-tensors", lambda: list(Tiny().parameters()), Error(TypeError, r"takes a state dict, .* not a list")),
    Case("ordered-dict", lambda: OrderedDict(Tiny().state_dict()), Accepted()),
    Case("dict-with-more-than-weights", lambda: {"model": Tiny().state_dict(), "epoch": 3}, Accepted()),
]


@pytest.mark.parametrize("case", **cases(SAVE_ARGS))
def test_save_checkpoint_arguments(case, tmp_path):
    path = tmp_path / "best.pt"
    case.outcome.check(lambda: training.save_checkpoint(case.input(), path))
    assert path.exists() == isinstance(case.outcome, Accepted)


def write_text(path):
    path.write_text("these are not weights")


def write_truncated(path):
    torch.save(Tiny().state_dict(), path)
    path.write_bytes(path.read_bytes()[:300])


CHECKPOINT_FILES = [
    Case("text-file", write_text, Error(ValueError, r"best\.pt cannot be read as a checkpoint .*damaged or not a torch file")),
    Case("truncated", write_truncated, Error(ValueError, r"cannot be read as a checkpoint")),
    Case("empty", lambda path: path.write_bytes(b""), Error(ValueError, r"cannot be read as a checkpoint")),
    Case("pickled-whole-model", lambda path: torch.save(Tiny(), path),
         Error(ValueError, r"holds a pickled Python object \(a whole model\?\), not a state dict.*model\.state_dict\(\)")),
    Case("a-tensor", lambda path: torch.save(torch.zeros(3), path), Error(ValueError, r"holds a Tensor, not a state dict")),
    Case("three-class-head", lambda path: torch.save(Tiny(num_labels=3).state_dict(), path),
         Error(ValueError, r"does not fit this Tiny \(other shape: head\.weight, head\.bias\).*num_labels")),
    Case("another-architecture", lambda path: torch.save(nn.Linear(2, 2).state_dict(), path),
         Error(ValueError, r"does not fit this Tiny \(missing: embed\.weight, head\.weight, head\.bias; unexpected: weight, bias\)")),
    Case("saved-by-save_checkpoint", lambda path: training.save_checkpoint(Tiny().state_dict(), path), Accepted()),
]


@pytest.mark.parametrize("case", **cases(CHECKPOINT_FILES))
def test_checkpoint_files(case, tmp_path):
    path = tmp_path / "best.pt"
    torch.manual_seed(1)
    case.input(path)
    case.outcome.check(lambda: training.load_checkpoint(Tiny(), path))


def test_load_checkpoint_with_its_arguments_swapped(tmp_path):
    Error(TypeError, r"load_checkpoint\(model, path\): the first argument is the model.*got a PosixPath|got a WindowsPath").check(
        lambda: training.load_checkpoint(tmp_path / "best.pt", Tiny()))


# --- fit and the checkpoint of another run ------------------------------------------------------

def earlier_run(path):
    """What an earlier run left at `path`: its own best weights."""
    torch.manual_seed(123)
    training.save_checkpoint(Tiny().state_dict(), path)
    return path.read_bytes()


def nan_outputs(logits):
    return logits * float("nan")


def crash_in_training(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "train_epoch", interrupted)


@pytest.mark.parametrize("how", ["saves-nothing", "interrupted-before-saving"])
def test_fit_never_leaves_another_runs_checkpoint_where_this_runs_best_is_loaded(how, tmp_path, monkeypatch):
    path = tmp_path / "best.pt"
    old = earlier_run(path)
    torch.manual_seed(0)
    model = Tiny(output=nan_outputs if how == "saves-nothing" else None)
    if how == "interrupted-before-saving":
        crash_in_training(monkeypatch)
    try:
        training.fit(model, [batch()], [batch()], torch.optim.SGD(model.parameters(), lr=0.1), 2,
                     checkpoint_path=path, progress=False)
    except (KeyboardInterrupt, ValueError, RuntimeError, FloatingPointError):
        pass  # a run that stops on a non-finite loss is fine too: what matters is what it leaves on disk
    assert not path.exists(), "the earlier run's weights must not wait where this run's best is loaded"
    assert (tmp_path / "best.pt.previous").read_bytes() == old, "... and they are not lost either"
    Error(FileNotFoundError, r"No checkpoint at .*best\.pt \(the checkpoint of an earlier run is at .*best\.pt\.previous\)"
          ).check(lambda: training.load_checkpoint(Tiny(), path))


def test_fit_replaces_another_runs_checkpoint_once_it_saves_its_own(tmp_path):
    path = tmp_path / "best.pt"
    earlier_run(path)
    torch.manual_seed(0)
    model = Tiny()
    training.fit(model, [batch()], [batch()], torch.optim.SGD(model.parameters(), lr=0.1), 1,
                 checkpoint_path=path, progress=False)
    assert states_equal(torch.load(path, weights_only=True), model.state_dict())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


def test_a_crash_while_saving_keeps_this_runs_previous_best(tmp_path, monkeypatch):
    path = tmp_path / "best.pt"
    earlier_run(path)
    saved = []
    real_save = torch.save

    def second_save_crashes(obj, f, *args, **kwargs):
        if saved:
            f.write(b"PK half")
            raise KeyboardInterrupt
        saved.append({k: v.clone() for k, v in obj.items()})
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", second_save_crashes)
    monkeypatch.setattr(training, "evaluate", lambda *a, **k: {"loss": 3.0 - len(saved), "accuracy": 0.5})
    torch.manual_seed(0)
    model = Tiny()
    with pytest.raises(KeyboardInterrupt):
        training.fit(model, [batch()], [batch()], torch.optim.SGD(model.parameters(), lr=0.1), 3,
                     checkpoint_path=path, progress=False)
    monkeypatch.setattr(torch, "save", real_save)
    assert states_equal(torch.load(path, weights_only=True), saved[0]), "epoch 1's best of this run survives"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt"]


# --- permissions and temporary files ------------------------------------------------------------

@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
@pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed-temporary", "named-temporary"])
def test_checkpoints_get_the_permissions_torch_save_gives(unnamed, tmp_path, monkeypatch, umask_022):
    monkeypatch.setattr(training, "_NO_UNNAMED_FILES", set())
    if not unnamed:
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    state = Tiny().state_dict()
    torch.save(state, tmp_path / "plain.pt")
    training.save_checkpoint(state, tmp_path / "best.pt")
    assert oct((tmp_path / "best.pt").stat().st_mode & 0o777) == oct((tmp_path / "plain.pt").stat().st_mode & 0o777) == "0o644"
    os.chmod(tmp_path / "best.pt", 0o600)  # a private checkpoint stays private when replaced, as with torch.save
    training.save_checkpoint(state, tmp_path / "best.pt")
    assert (tmp_path / "best.pt").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed-temporary", "named-temporary"])
def test_no_temporary_file_outlives_a_save(unnamed, tmp_path, monkeypatch):
    monkeypatch.setattr(training, "_NO_UNNAMED_FILES", set())
    if not unnamed:
        monkeypatch.delattr(os, "O_TMPFILE", raising=False)
    seen_while_writing = []
    real_save = torch.save

    def look_then_crash(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        seen_while_writing.extend(p.name for p in tmp_path.iterdir())
        raise RuntimeError("the process dies here")

    monkeypatch.setattr(torch, "save", look_then_crash)
    with pytest.raises(RuntimeError):
        training.save_checkpoint(Tiny().state_dict(), tmp_path / "best.pt")
    assert list(tmp_path.iterdir()) == [], "nothing left after the crash"
    if unnamed and hasattr(os, "O_TMPFILE"):
        # Linux: the file being written has no name, so even `kill -9` at this moment leaves nothing behind
        assert seen_while_writing == []
    else:
        assert all(name.startswith(".best.pt.") and name.endswith(".tmp") for name in seen_while_writing)


def test_a_named_temporary_left_by_a_killed_save_is_removed_later(tmp_path):
    stale = tmp_path / ".best.pt.0badc0de.tmp"
    stale.write_bytes(b"half")
    os.utime(stale, (1, 1))  # long ago
    fresh = tmp_path / ".best.pt.1234abcd.tmp"  # another save, still running
    fresh.write_bytes(b"busy")
    training.save_checkpoint(Tiny().state_dict(), tmp_path / "best.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best.pt.1234abcd.tmp", "best.pt"]


# --- make_compute_metrics -------------------------------------------------------------------------

class Accuracy:
    def compute(self, predictions, references):
        return {"accuracy": float(np.mean(np.asarray(predictions) == np.asarray(references)))}


LOGITS = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])

METRIC_ARGS = [
    Case("metric-name-instead-of-metric", ("accuracy",),
         Error(TypeError, r"takes loaded metrics, e\.g\. evaluate\.load\('accuracy'\), not a str")),
    Case("metric-function", (lambda predictions, references: {},), Error(TypeError, r"takes loaded metrics.*not a function")),
    Case("no-metric", (), Error(ValueError, r"Pass at least one metric")),
    Case("logits-with-hidden-states", (Accuracy(),),
         Accepted(lambda compute: compute(((LOGITS, np.zeros((3, 4))), np.array([1, 0, 0]))) == {"accuracy": 2 / 3})),
]


@pytest.mark.parametrize("case", **cases(METRIC_ARGS))
def test_make_compute_metrics_arguments(case):
    case.outcome.check(lambda: training.make_compute_metrics(*case.input))
