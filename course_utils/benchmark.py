"""The cost of padding: the tutorial's data recipe against the course's, on the same reviews and model.

- "pad to 512": a torch Dataset that tokenizes each review in `__getitem__`, every time it is read, and
  pads it to 512 tokens (the recipe of the popular NSMC tutorial).
- "dynamic padding": tokenize once with a batched `Dataset.map`, then `DataCollatorWithPadding` pads
  each batch only to its own longest review.
- "dynamic + length groups": the same, with transformers' `LengthGroupedSampler` putting reviews of
  similar length in the same batch (what `TrainingArguments(group_by_length=True)` does).

`measure` runs one training pass (forward, backward, optimizer step, through `training.train_epoch`)
and returns examples per second and peak memory; `compare` measures each recipe in turn. The chapter
notebook and `benchmarks/padding.py` both use these functions.
"""

from __future__ import annotations

import ctypes
import gc
import time
from pathlib import Path

import datasets
import torch
from torch.utils.data import DataLoader
from transformers import BertConfig, BertForSequenceClassification, DataCollatorWithPadding
from transformers.trainer_pt_utils import LengthGroupedSampler

from . import training

RECIPES = ("pad to 512", "dynamic padding", "dynamic + length groups")


# --- the two recipes --------------------------------------------------------------------------

class TokenizeOnAccessDataset(torch.utils.data.Dataset):
    """The tutorial's recipe: tokenize in `__getitem__` (again on every epoch) and pad to `max_length`."""

    def __init__(self, texts, labels, tokenizer, max_length=512):
        self.texts, self.labels, self.tokenizer, self.max_length = list(texts), list(labels), tokenizer, max_length

    def __len__(self):
        return len(self.texts)

    def __getitem__(self, i):
        encoded = self.tokenizer(self.texts[i], padding="max_length", truncation=True,
                                 max_length=self.max_length, return_tensors="pt")
        item = {name: tensor.squeeze(0) for name, tensor in encoded.items()}
        item["labels"] = torch.tensor(self.labels[i])
        return item


def padded_loader(texts, labels, tokenizer, batch_size, seed=0):
    """DataLoader for the tutorial's recipe (num_workers=0, as in the course)."""
    return DataLoader(TokenizeOnAccessDataset(texts, labels, tokenizer), batch_size=batch_size, shuffle=True,
                      generator=torch.Generator().manual_seed(seed))


def dynamic_loader(texts, labels, tokenizer, batch_size, seed=0, group_by_length=False):
    """DataLoader for the course's recipe: one batched `map`, then padding per batch."""
    dataset = datasets.Dataset.from_dict({"text": list(texts), "label": list(labels)})
    dataset = dataset.map(lambda batch: tokenizer(batch["text"], truncation=True), batched=True,
                          remove_columns=["text"])
    generator = torch.Generator().manual_seed(seed)
    sampler = None
    if group_by_length:
        lengths = [len(ids) for ids in dataset["input_ids"]]
        sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)
    return DataLoader(dataset, batch_size=batch_size, shuffle=sampler is None, sampler=sampler,
                      generator=generator, collate_fn=DataCollatorWithPadding(tokenizer))


def make_loader(recipe, texts, labels, tokenizer, batch_size, seed=0):
    if recipe == "pad to 512":
        return padded_loader(texts, labels, tokenizer, batch_size, seed)
    if recipe in ("dynamic padding", "dynamic + length groups"):
        return dynamic_loader(texts, labels, tokenizer, batch_size, seed,
                              group_by_length=recipe == "dynamic + length groups")
    raise ValueError(f"Unknown recipe {recipe!r}; choose one of {RECIPES}.")


# --- the model and tokenizer of the benchmark ---------------------------------------------------

def train_tokenizer(texts, vocab_size=8000):
    """A Korean WordPiece tokenizer trained on `texts` (no accent stripping or lowercasing: that would
    split Hangul into jamo), capped at 512 tokens like the real BERT checkpoints."""
    from tokenizers import BertWordPieceTokenizer
    from transformers import BertTokenizer

    trainer = BertWordPieceTokenizer(lowercase=False, strip_accents=False)
    trainer.train_from_iterator(list(texts), vocab_size=vocab_size, min_frequency=2, show_progress=False,
                                special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    return BertTokenizer(vocab=trainer.get_vocab(), do_lower_case=False, strip_accents=False, model_max_length=512)


def bench_config(vocab_size, hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                 intermediate_size=1024) -> BertConfig:
    """A BERT of realistic width (BERT-mini size by default), so the timing measures compute."""
    return BertConfig(vocab_size=vocab_size, hidden_size=hidden_size, num_hidden_layers=num_hidden_layers,
                      num_attention_heads=num_attention_heads, intermediate_size=intermediate_size,
                      max_position_embeddings=512, num_labels=2)


# --- measuring -----------------------------------------------------------------------------------

def _release_free_memory() -> None:
    """Hand memory that is freed but still held by the C allocator back to the system (glibc only)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_peak_rss() -> bool:
    """Reset the process's peak resident memory (Linux: /proc/self/clear_refs). False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _memory_status(field: str) -> int:
    """A field of /proc/self/status (VmRSS: resident memory now, VmHWM: its peak), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise OSError(f"no {field} in /proc/self/status")


def _counting(loader, counts):
    for batch in loader:
        counts["examples"] += batch["labels"].numel()
        counts["tokens"] += batch["input_ids"].numel()
        yield batch


def measure(recipe, texts, labels, tokenizer, config, batch_size=16, seed=0, device=None) -> dict:
    """One training pass over `texts` with `recipe`; examples per second and peak memory.

    The clock covers everything the recipe does for one epoch: building the loader (the batched
    `map` for the course's recipe), tokenizing, padding, forward, backward and the optimizer step.
    Peak memory: on CUDA, `torch.cuda.max_memory_allocated` during the pass, above what was allocated
    before it. On CPU (Linux), the rise of the process's peak resident memory during the pass: memory
    the C allocator holds but no longer uses is handed back first (malloc_trim) and the peak (VmHWM)
    is reset, so an earlier recipe's memory cannot hide this one's. Elsewhere it is None.
    """
    device = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    # Warm-up on two short reviews: kernels load and the optimizer allocates its state outside the clock.
    warm = dict(tokenizer(list(texts[:2]), padding=True, return_tensors="pt"), labels=torch.tensor(list(labels[:2])))
    training.train_epoch(model, [warm], optimizer, device=device, progress=False)

    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        memory_kind = "peak CUDA memory allocated during the pass (torch.cuda.max_memory_allocated)"
    else:
        _release_free_memory()
        base = _memory_status("VmRSS") if _reset_peak_rss() else None
        memory_kind = ("rise of the process's peak resident memory (VmHWM) during the pass" if base is not None
                       else "not measured: resetting the peak resident memory needs Linux")
    counts = {"examples": 0, "tokens": 0}
    start = time.perf_counter()
    loader = make_loader(recipe, texts, labels, tokenizer, batch_size, seed)
    result = training.train_epoch(model, _counting(loader, counts), optimizer, device=device, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if base is None:
        peak_mb = None
    else:
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _memory_status("VmHWM")
        peak_mb = max(peak - base, 0) / 2**20
    return {"recipe": recipe, "examples": counts["examples"], "seconds": seconds,
            "examples_per_s": counts["examples"] / seconds, "tokens_per_example": counts["tokens"] / counts["examples"],
            "peak_memory_mb": peak_mb, "memory": memory_kind, "device": str(device),
            "train_loss": result["loss"]}


def compare(texts, labels, tokenizer, config, recipes=RECIPES, batch_size=16, seed=0, device=None) -> list[dict]:
    """`measure` each recipe in turn, on the same reviews, tokenizer, model config and seed."""
    return [measure(recipe, texts, labels, tokenizer, config, batch_size, seed, device) for recipe in recipes]


def speedup(results, fast="dynamic padding", slow="pad to 512") -> float:
    by_recipe = {r["recipe"]: r for r in results}
    return by_recipe[fast]["examples_per_s"] / by_recipe[slow]["examples_per_s"]


def plot(results, ax=None):
    """Two bar charts side by side: examples per second, and peak memory, per recipe."""
    import matplotlib.pyplot as plt

    axes = ax if ax is not None else plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")[1]
    names = [r["recipe"] for r in results]
    colors = ["tab:red", "tab:blue", "tab:green"][: len(results)]
    for axis, key, label in [(axes[0], "examples_per_s", "training examples / s (higher is better)"),
                             (axes[1], "peak_memory_mb", "peak memory, MB (lower is better)")]:
        values = [r[key] for r in results]
        bars = axis.bar(names, [v or 0 for v in values], color=colors)
        axis.bar_label(bars, labels=["n/a" if v is None else f"{v:,.1f}" for v in values], padding=3)
        axis.margins(y=0.2)  # room above the tallest bar for its label: the bottom stays at 0
        axis.set_title(label)
        axis.tick_params(axis="x", labelrotation=15)
    return axes
