"""Native PyTorch training helpers: one epoch of training, an evaluation pass, a loop that keeps the
best checkpoint, and `compute_metrics` for the Trainer.

Chapter 12 (NSMC) writes `train_epoch` and `evaluate` out in its cells, as the tutorial's train and
evaluate functions corrected; the functions here are the same code, and tests/test_one_source.py
checks that the two stay the same (same syntax tree, docstrings and type annotations aside).
They work with any model that returns either a transformers output (with `.logits`, and `.loss`
when labels are passed) or a plain tensor of logits, as a custom `nn.Module` does.
"""

from __future__ import annotations

import glob
import math
import operator
import os
import pickle
import secrets
import shutil
import stat
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import environment as env


def logits_and_loss(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's logits for a batch and their cross-entropy loss, after checking the batch and the logits."""
    _check_batch(batch)
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    output = model(**inputs)
    logits = output.logits if hasattr(output, "logits") else output
    _check_logits(logits, labels)
    return logits, F.cross_entropy(logits, labels.long())  # int32 labels are fine too


def to_device(batch: dict, device) -> dict:
    """The batch with every tensor on `device`, after checking that it is a batch the helpers can train on."""
    _check_batch(batch)
    moved = {k: v.to(device) for k, v in batch.items()}
    _note_label_range(batch["labels"], moved["labels"])
    return moved


# The smallest and largest label of the batch last moved to the device, measured while it was still on
# the host: _check_logits compares them with the model's number of outputs without reading anything back
# from a GPU or TPU (a device sync every step). (weak reference to the labels on the device, min, max)
_label_range: tuple = (None, 0, 0)


def _note_label_range(host_labels: torch.Tensor, device_labels: torch.Tensor) -> None:
    global _label_range
    if host_labels.device.type == "cpu" and host_labels.numel():
        _label_range = (weakref.ref(device_labels), host_labels.min().tolist(), host_labels.max().tolist())


_COLLATE = "DataLoader(dataset, batch_size=8, collate_fn=DataCollatorWithPadding(tokenizer))"


def _check_batch(batch) -> None:
    """The usual batch mistakes, said in words here rather than deep inside the model or torch."""
    if not isinstance(batch, Mapping):
        raise TypeError(f"A batch must be a dict of tensors, as {_COLLATE} yields; got a {type(batch).__name__}.")
    if "labels" not in batch:
        if "label" in batch:
            raise ValueError("The batch has 'label', but the training helpers (like the models) read 'labels'. "
                             "Rename the column before building the DataLoader, "
                             "dataset = dataset.rename_column('label', 'labels'), or batch with "
                             "DataCollatorWithPadding(tokenizer), which renames it for you.")
        raise ValueError(f"The batch has no 'labels' (its keys: {list(batch)}): training and evaluation need "
                         "the class ids. Keep the label column in the dataset, named 'labels'.")
    for key, value in batch.items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"batch[{key!r}] is a {type(value).__name__}, not a tensor. Remove the text columns "
                            "before batching (dataset.remove_columns([...])) and batch with "
                            "DataCollatorWithPadding(tokenizer), or call dataset.set_format('torch').")
    labels = batch["labels"]
    if labels.dim() == 0:
        raise ValueError("batch['labels'] is a single number: the loop got one example, not a batch. "
                         f"Iterate over a DataLoader, not the dataset: {_COLLATE}.")
    if labels.dim() != 1:
        raise ValueError(f"batch['labels'] has shape {tuple(labels.shape)}; the helpers expect one class id per "
                         "example, shape (batch,). One-hot labels? Use labels.argmax(-1).")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"batch['labels'] holds {labels.dtype} values; class ids must be integers. Convert the "
                         "column before batching, e.g. dataset = dataset.cast_column('labels', Value('int64')).")


def _check_logits(logits, labels: torch.Tensor) -> None:
    """The model's output must be one row of class scores per example, and every label one of its classes."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"The model returned a {type(logits).__name__}, not logits. The helpers need a model "
                        "whose forward returns a tensor of shape (batch, num_labels), or an output with .logits "
                        "(AutoModelForSequenceClassification).")
    if logits.dim() != 2 or logits.shape[0] != labels.shape[0]:
        hint = (" A (batch, tokens, ...) output is per token: classify the [CLS] vector, hidden[:, 0]."
                if logits.dim() == 3 else "")
        raise ValueError(f"The model returned logits of shape {tuple(logits.shape)} for a batch of "
                         f"{labels.shape[0]} labels; the helpers need one row of class scores per example, "
                         f"shape ({labels.shape[0]}, num_labels).{hint}")
    # Checked before the loss: on a GPU an out-of-range label is a device-side assert that kills the CUDA
    # context (restart the kernel), not an error.
    ref, low, high = _label_range
    if ref is None or ref() is not labels:  # not moved by to_device: measure here if that costs no sync
        if labels.device.type != "cpu" or labels.numel() == 0:
            return
        low, high = labels.min().tolist(), labels.max().tolist()
    num_labels = logits.shape[1]
    if low < 0 or high >= num_labels:
        bad = low if low < 0 else high
        hint = (" -1 marks a hidden label (GLUE test splits): evaluate on the validation split." if bad == -1 else
                f" Load the model with num_labels={high + 1} (from_pretrained(checkpoint, num_labels={high + 1})), "
                "or fix the labels.")
        raise ValueError(f"The batch has label {bad}, but the model has {num_labels} outputs, so labels must be "
                         f"0..{num_labels - 1}.{hint}")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite: the weights are no longer usable."""


def stop_if_not_finite(first_bad_step: torch.Tensor, desc: str) -> None:
    """Raise NonFiniteLossError if a step's loss was NaN or infinite (`first_bad_step` >= 0): one read from the device."""
    step = int(first_bad_step)  # reads the value back from the device
    if step >= 0:
        raise NonFiniteLossError(
            f"{desc}: the training loss became NaN or infinite at step {step} of this epoch, so training stops "
            "here (the weights are no longer usable, and nothing of this epoch was saved). Usual causes: a learning "
            "rate far too high (try 10 times lower), fp16 overflow (use bf16 or full precision), or labels the "
            "model cannot take.") from None


def train_epoch(model: torch.nn.Module, dataloader: Iterable[dict], optimizer: torch.optim.Optimizer,
                scheduler=None, device="cpu", progress: bool = True, desc: str = "train",
                max_grad_norm: float | None = 1.0, sync_every: int = 20) -> dict[str, float]:
    """One pass over `dataloader`. Returns the mean loss and the accuracy on the training batches.

    Per batch: forward, loss, backward, gradient clipping to `max_grad_norm` (the Trainer's default,
    1.0; None turns it off), optimizer and scheduler steps. The running loss and accuracy stay on the
    device: reading a number back (`.item()`) makes the host wait for the GPU or TPU, so it happens only
    every `sync_every` steps, to update the progress bar and to stop at once if the loss is no longer
    finite (`NonFiniteLossError`, naming the step). On a TPU each step ends with `mark_step`.
    """
    model.train()
    device = torch.device(device)
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    first_bad_step = torch.full((), -1, dtype=torch.long, device=device)
    seen = 0
    bar = tqdm(dataloader, desc=desc, disable=not progress, leave=False)
    for step, batch in enumerate(bar, start=1):
        batch = to_device(batch, device)
        logits, loss = logits_and_loss(model, batch)
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad()
        env.mark_step(device)

        n = batch["labels"].size(0)
        loss = loss.detach().float()
        total_loss += loss * n
        correct += (logits.argmax(dim=-1) == batch["labels"]).sum()
        first_bad_step = torch.where((first_bad_step < 0) & ~torch.isfinite(loss), step, first_bad_step)
        seen += n
        if step % sync_every == 0:
            stop_if_not_finite(first_bad_step, desc)
            if progress:
                bar.set_postfix(loss=f"{total_loss.item() / seen:.4f}", acc=f"{correct.item() / seen:.3f}")
    if seen == 0:
        raise ValueError("The training dataloader produced no batches: is the dataset empty?")
    stop_if_not_finite(first_bad_step, desc)
    return {"loss": total_loss.item() / seen, "accuracy": correct.item() / seen}


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataloader: Iterable[dict], device="cpu", progress: bool = True,
             desc: str = "eval") -> dict:
    """Mean loss, accuracy, and the predictions and labels (NumPy arrays) over `dataloader`.

    Predictions and labels stay on the device until the end: one transfer, not one per batch.
    """
    model.eval()
    device = torch.device(device)
    total_loss = torch.zeros((), device=device)
    predictions, labels = [], []
    for batch in tqdm(dataloader, desc=desc, disable=not progress, leave=False):
        batch = to_device(batch, device)
        logits, loss = logits_and_loss(model, batch)
        total_loss += loss.float() * batch["labels"].size(0)
        predictions.append(logits.argmax(dim=-1))
        labels.append(batch["labels"])
        env.mark_step(device)
    if not labels:
        raise ValueError("The evaluation dataloader produced no batches: is the dataset empty?")
    predictions, labels = torch.cat(predictions).cpu().numpy(), torch.cat(labels).cpu().numpy()
    return {"loss": total_loss.item() / len(labels), "accuracy": float((predictions == labels).mean()),
            "predictions": predictions, "labels": labels}


def fit(model: torch.nn.Module, train_dataloader, eval_dataloader, optimizer, num_epochs: int,
        scheduler=None, device="cpu", checkpoint_path: str | os.PathLike | None = None,
        progress: bool = True) -> list[dict[str, float]]:
    """Train for `num_epochs`, evaluating after each; keep the weights with the lowest validation loss.

    Returns the history, one dict per epoch. With `checkpoint_path`, the best weights of this run are
    saved there (atomically: see `save_checkpoint`). A file an earlier run left at that path is first
    moved aside to `<path>.previous`, and deleted once this run has saved its own best: the path never
    holds another run's weights while this one trains, and a run that saves nothing loses nothing.
    """
    num_epochs = _whole_number(num_epochs, "num_epochs")
    if num_epochs < 1:
        raise ValueError(f"num_epochs must be at least 1, got {num_epochs}.")
    if not (callable(getattr(optimizer, "step", None)) and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"optimizer must be a torch optimizer, e.g. torch.optim.AdamW(model.parameters(), lr=2e-5); "
                        f"got a {type(optimizer).__name__}.")
    previous = None
    if checkpoint_path is not None:
        checkpoint_path = _checkpoint_file(checkpoint_path)
        if checkpoint_path.exists():
            previous = _previous(checkpoint_path)
            os.replace(checkpoint_path, previous)
    history, best_loss = [], math.inf
    for epoch in range(1, num_epochs + 1):
        train = train_epoch(model, train_dataloader, optimizer, scheduler, device, progress, f"epoch {epoch}")
        val = evaluate(model, eval_dataloader, device, progress)
        row = {"epoch": epoch, "train_loss": train["loss"], "train_accuracy": train["accuracy"],
               "val_loss": val["loss"], "val_accuracy": val["accuracy"]}
        if val["loss"] < best_loss:
            best_loss = val["loss"]
            row["best"] = True
            if checkpoint_path is not None:
                save_checkpoint(model.state_dict(), checkpoint_path)
                if previous is not None:
                    previous.unlink(missing_ok=True)  # this run has its own best now
                    previous = None
        history.append(row)
        if progress:
            note = ("  (best, saved)" if checkpoint_path is not None else "  (best so far)") if row.get("best") else ""
            print(f"epoch {epoch}: train loss {train['loss']:.4f} acc {train['accuracy']:.3f} | "
                  f"val loss {val['loss']:.4f} acc {val['accuracy']:.3f}" + note)
    return history


def _whole_number(value, name: str) -> int:
    """An int from an int, a NumPy integer or a one-element integer tensor; a clear error otherwise."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be a whole number, got {value!r} ({type(value).__name__}).") from None


def _previous(path: Path) -> Path:
    return path.with_name(path.name + ".previous")


def _checkpoint_file(path) -> Path:
    """`path` as a Path to a file that can be written: not a folder, and no file where a folder must be."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"A checkpoint path must be a file name such as 'checkpoints/best.pt', not a "
                        f"{type(path).__name__}.")
    path = Path(path).expanduser()
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; give the checkpoint a file name, e.g. {path / 'best.pt'}.")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise NotADirectoryError(f"Cannot save {path}: {blocker} is a file, not a folder. Choose another path.")
    return path


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """`torch.save(state, path)`, but a crash half-way never leaves a broken file at `path`.

    The state is written to a temporary file in the same folder, flushed to disk, and only then
    renamed over `path` (a rename within one file system is atomic): `path` always holds either the
    previous checkpoint or the new one, complete. On Linux the temporary file has no name until it
    is complete, so even a killed process leaves nothing behind. The file gets the permissions
    `torch.save` would give it (those of the file it replaces, or the usual ones for a new file).
    """
    if isinstance(state, torch.nn.Module):
        raise TypeError("save_checkpoint takes the model's weights, not the model: "
                        "save_checkpoint(model.state_dict(), path).")
    if not isinstance(state, Mapping):
        raise TypeError(f"save_checkpoint takes a state dict, e.g. model.state_dict(), not a {type(state).__name__}.")
    path = _checkpoint_file(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    mode = stat.S_IMODE(path.stat().st_mode) if path.exists() else None
    fd, tmp = _open_temporary(path)
    try:
        with os.fdopen(fd, "w+b") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
            if tmp is None:  # unnamed until now: give it a name in the folder, then rename it over `path`
                tmp = _name_unnamed(f, path)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


_NO_UNNAMED_FILES: set[int] = set()  # devices where O_TMPFILE or linking it failed once: use named files


def _temporary_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _open_temporary(path: Path) -> tuple[int, Path | None]:
    """A file to write the checkpoint into: unnamed where Linux allows (O_TMPFILE), else a hidden temporary."""
    folder = path.parent
    if hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd") and folder.stat().st_dev not in _NO_UNNAMED_FILES:
        try:
            return os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o666), None  # 0o666 & ~umask, as for open()
        except OSError:
            _NO_UNNAMED_FILES.add(folder.stat().st_dev)
    while True:
        tmp = _temporary_name(path)
        try:
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue


def _name_unnamed(f, path: Path) -> Path:
    """Link the complete unnamed file into the folder; where linking is refused, copy it to a named temporary."""
    tmp = _temporary_name(path)
    try:
        os.link(f"/proc/self/fd/{f.fileno()}", tmp)
        return tmp
    except OSError:
        _NO_UNNAMED_FILES.add(path.parent.stat().st_dev)
    fd, tmp = _open_temporary(path)
    try:
        with os.fdopen(fd, "wb") as copy:
            f.seek(0)
            shutil.copyfileobj(f, copy)
            copy.flush()
            os.fsync(copy.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _remove_stale_temporaries(path: Path, older_than: float = 3600.0) -> None:
    """Named temporaries of a save that was killed (where unnamed files are not available)."""
    now = time.time()
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        try:
            if now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
        except OSError:
            pass


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); not possible, nor needed, on Windows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike, device="cpu") -> torch.nn.Module:
    """Load weights saved by `save_checkpoint` into `model` and return it."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"load_checkpoint(model, path): the first argument is the model to load the weights into, "
                        f"got a {type(model).__name__}.")
    path = Path(path)
    if not path.is_file():
        moved = f" (the checkpoint of an earlier run is at {_previous(path)})" if _previous(path).is_file() else ""
        raise FileNotFoundError(f"No checkpoint at {path}{moved}. Train first (fit(..., checkpoint_path=...)).")
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        if "Weights only load failed" in str(err):
            raise ValueError(f"{path} holds a pickled Python object (a whole model?), not a state dict, and is not "
                             "loaded without trust. Save checkpoints with save_checkpoint(model.state_dict(), path)."
                             ) from None
        raise ValueError(f"{path} is not a checkpoint saved by torch.save ({err}).") from None
    except Exception as err:  # torch.load fails in many ways on a file that is not a checkpoint
        reason = (str(err).splitlines() or [""])[0][:120] or type(err).__name__
        raise ValueError(f"{path} cannot be read as a checkpoint ({reason}): it is damaged or not a torch file. "
                         "Train again to write a new one.") from None
    if not isinstance(state, Mapping):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict. "
                         "Save checkpoints with save_checkpoint(model.state_dict(), path).")
    own = model.state_dict()
    missing, unexpected = [k for k in own if k not in state], [k for k in state if k not in own]
    resized = [k for k in own if k in state and hasattr(state[k], "shape") and state[k].shape != own[k].shape]
    if missing or unexpected or resized:
        details = "; ".join(f"{what}: {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}" for what, keys in
                            [("missing", missing), ("unexpected", unexpected), ("other shape", resized)] if keys)
        raise ValueError(f"{path} does not fit this {type(model).__name__} ({details}). Build the model exactly "
                         "as when it was saved: the same class, checkpoint and num_labels.")
    model.load_state_dict(state)
    return model
def make_compute_metrics(*metrics) -> Callable:
    """A `compute_metrics` for `Trainer`: argmax of the logits, then each `evaluate` metric.

    Example: `make_compute_metrics(evaluate.load("glue", "mrpc"))` or
    `make_compute_metrics(evaluate.load("accuracy"))`.
    """
    if not metrics:
        raise ValueError("Pass at least one metric, e.g. make_compute_metrics(evaluate.load('accuracy')).")
    for metric in metrics:
        if not callable(getattr(metric, "compute", None)):
            example = f"evaluate.load({metric!r})" if isinstance(metric, str) else "evaluate.load('accuracy')"
            raise TypeError(f"make_compute_metrics takes loaded metrics, e.g. {example}, not a "
                            f"{type(metric).__name__} ({metric!r:.40}).")

    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        if isinstance(logits, tuple):  # a model that also returns hidden states or attentions: logits first
            logits = logits[0]
        predictions = np.argmax(logits, axis=-1)
        results = {}
        for metric in metrics:
            results.update(metric.compute(predictions=predictions, references=labels))
        return results

    return compute_metrics
