"""Native PyTorch training helpers: one epoch of training, an evaluation pass, a loop that keeps the
best checkpoint, and `compute_metrics` for the Trainer.

The MRPC chapter writes this loop out cell by cell; later chapters call these helpers instead.
They work with any model that returns either a transformers output (with `.logits`, and `.loss`
when labels are passed) or a plain tensor of logits, as a custom `nn.Module` does.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from . import environment


def _logits_and_loss(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
    labels = batch["labels"]
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    output = model(**inputs)
    logits = output.logits if hasattr(output, "logits") else output
    return logits, F.cross_entropy(logits, labels)


def _to_device(batch: dict, device) -> dict:
    return {k: v.to(device) for k, v in batch.items()}


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite: the weights are no longer usable."""


def _stop_if_not_finite(first_bad_step: torch.Tensor, desc: str) -> None:
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
    device = torch.device(device) if isinstance(device, str) else device
    total_loss = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    first_bad_step = torch.full((), -1, dtype=torch.long, device=device)
    seen = 0
    bar = tqdm(dataloader, desc=desc, disable=not progress, leave=False)
    for step, batch in enumerate(bar, start=1):
        batch = _to_device(batch, device)
        logits, loss = _logits_and_loss(model, batch)
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        optimizer.zero_grad()
        environment.mark_step(device)

        n = batch["labels"].size(0)
        loss = loss.detach().float()
        total_loss += loss * n
        correct += (logits.argmax(dim=-1) == batch["labels"]).sum()
        first_bad_step = torch.where((first_bad_step < 0) & ~torch.isfinite(loss), step, first_bad_step)
        seen += n
        if step % sync_every == 0:
            _stop_if_not_finite(first_bad_step, desc)
            if progress:
                bar.set_postfix(loss=f"{total_loss.item() / seen:.4f}", acc=f"{correct.item() / seen:.3f}")
    if seen == 0:
        raise ValueError("The training dataloader produced no batches: is the dataset empty?")
    _stop_if_not_finite(first_bad_step, desc)
    return {"loss": total_loss.item() / seen, "accuracy": correct.item() / seen}


@torch.no_grad()
def evaluate(model: torch.nn.Module, dataloader: Iterable[dict], device="cpu", progress: bool = True,
             desc: str = "eval") -> dict:
    """Mean loss, accuracy, and the predictions and labels (NumPy arrays) over `dataloader`.

    Predictions and labels stay on the device until the end: one transfer, not one per batch.
    """
    model.eval()
    device = torch.device(device) if isinstance(device, str) else device
    total_loss = torch.zeros((), device=device)
    predictions, labels = [], []
    for batch in tqdm(dataloader, desc=desc, disable=not progress, leave=False):
        batch = _to_device(batch, device)
        logits, loss = _logits_and_loss(model, batch)
        total_loss += loss.float() * batch["labels"].size(0)
        predictions.append(logits.argmax(dim=-1))
        labels.append(batch["labels"])
        environment.mark_step(device)
    if not labels:
        raise ValueError("The evaluation dataloader produced no batches: is the dataset empty?")
    predictions, labels = torch.cat(predictions).cpu().numpy(), torch.cat(labels).cpu().numpy()
    return {"loss": total_loss.item() / len(labels), "accuracy": float((predictions == labels).mean()),
            "predictions": predictions, "labels": labels}


def fit(model: torch.nn.Module, train_dataloader, eval_dataloader, optimizer, num_epochs: int,
        scheduler=None, device="cpu", checkpoint_path: str | os.PathLike | None = None,
        progress: bool = True) -> list[dict[str, float]]:
    """Train for `num_epochs`, evaluating after each; keep the weights with the lowest validation loss.

    Returns the history, one dict per epoch. With `checkpoint_path`, the best weights are saved there
    (atomically: see `save_checkpoint`).
    """
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
        history.append(row)
        if progress:
            note = ("  (best, saved)" if checkpoint_path is not None else "  (best so far)") if row.get("best") else ""
            print(f"epoch {epoch}: train loss {train['loss']:.4f} acc {train['accuracy']:.3f} | "
                  f"val loss {val['loss']:.4f} acc {val['accuracy']:.3f}" + note)
    return history


def save_checkpoint(state: dict, path: str | os.PathLike) -> Path:
    """`torch.save(state, path)`, but a crash half-way never leaves a broken file at `path`.

    The state is written to a temporary file in the same folder, flushed to disk, and only then
    renamed over `path` (a rename within one file system is atomic): `path` always holds either the
    previous checkpoint or the new one, complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(model: torch.nn.Module, path: str | os.PathLike, device="cpu") -> torch.nn.Module:
    """Load weights saved by `save_checkpoint` into `model` and return it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. Train first (fit(..., checkpoint_path=...)).")
    model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    return model


def make_compute_metrics(*metrics) -> Callable:
    """A `compute_metrics` for `Trainer`: argmax of the logits, then each `evaluate` metric.

    Example: `make_compute_metrics(evaluate.load("glue", "mrpc"))` or
    `make_compute_metrics(evaluate.load("accuracy"))`.
    """
    if not metrics:
        raise ValueError("Pass at least one metric, e.g. make_compute_metrics(evaluate.load('accuracy')).")

    def compute_metrics(eval_pred):
        logits, labels = eval_pred
        predictions = np.argmax(logits, axis=-1)
        results = {}
        for metric in metrics:
            results.update(metric.compute(predictions=predictions, references=labels))
        return results

    return compute_metrics
