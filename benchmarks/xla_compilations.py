"""How many graphs XLA compiles for the course's training loop: plain dynamic padding against the
course's TPU rule (lengths padded to a multiple of 64, no short last training batch, a step marked per batch).

    pip install torch==2.9.0 torch_xla==2.9.0      # in a separate environment: torch_xla pins its torch
    PJRT_DEVICE=CPU python benchmarks/xla_compilations.py

PyTorch/XLA's CPU backend (PJRT_DEVICE=CPU) compiles exactly as a TPU does, one graph per new input
shape, so the count measured here is the count a TPU would pay; only the time per compilation differs.
It trains a tiny BERT with `course_utils.training.train_epoch` and `evaluate` for two epochs on the
course's MRPC fixture (48 training pairs, 16 validation pairs, batches of 8), once per recipe, and prints
the number of compilations (torch_xla's `CompileTime` metric) and the distinct batch shapes per recipe.
Not part of `make test`: torch_xla needs its own torch version.

Measured on 2026-12-03 (torch 2.9.0, torch_xla 2.9.0, PJRT_DEVICE=CPU, 2-core x86_64 machine):
    dynamic padding (GPU/CPU recipe)       5 distinct batch shapes ->  22 XLA compilations
    course's TPU rule (64s, drop last)     1 distinct batch shapes ->   8 XLA compilations
With one batch shape the count no longer depends on the data: the 8 are the training step (its first
call, which creates AdamW's state, and the later ones), the evaluation step, and the few reads back to
the host (every 20 steps, and the totals at the end of an epoch).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

os.environ.setdefault("PJRT_DEVICE", "CPU")


def main() -> int:
    import datasets
    import torch
    import torch_xla
    import torch_xla.debug.metrics as met
    from torch.utils.data import DataLoader
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer, DataCollatorWithPadding

    from course_utils import data, smoke, training

    datasets.disable_progress_bars()
    device = torch_xla.device()
    raw = data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=data.FIXTURES)  # the fixture, offline
    lines = [t for split in raw.values() for column in ("sentence1", "sentence2") for t in list(split[column])]
    tokenizer = BertTokenizer(vocab=smoke._wordpiece_vocab(lines, cased=False), model_max_length=512)
    tokenized = raw.map(lambda b: tokenizer(b["sentence1"], b["sentence2"], truncation=True), batched=True)
    tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"]).rename_column("label", "labels")
    tokenized.set_format("torch")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=2)

    recipes = {
        "dynamic padding (GPU/CPU recipe)": dict(pad_to_multiple_of=None, drop_last=False),
        "course's TPU rule (64s, drop last)": dict(pad_to_multiple_of=64, drop_last=True),
    }
    print(f"device {device}; MRPC fixture: {len(tokenized['train'])} training pairs, "
          f"{len(tokenized['validation'])} validation pairs, batches of 8, 2 epochs")
    for name, recipe in recipes.items():
        collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=recipe["pad_to_multiple_of"])
        generator = torch.Generator().manual_seed(0)
        train = DataLoader(tokenized["train"], batch_size=8, shuffle=True, collate_fn=collator,
                           drop_last=recipe["drop_last"], generator=generator)
        evaluation = DataLoader(tokenized["validation"], batch_size=8, collate_fn=collator)
        shapes = {tuple(b["input_ids"].shape) for dl in (train, evaluation) for b in dl}
        torch.manual_seed(0)
        model = BertForSequenceClassification(config).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        met.clear_all()
        for _ in range(2):
            training.train_epoch(model, train, optimizer, device=device, progress=False)
            training.evaluate(model, evaluation, device=device, progress=False)
        compiles = (met.metric_data("CompileTime") or [0])[0]
        print(f"  {name:36} {len(shapes):3d} distinct batch shapes -> {compiles:3d} XLA compilations")
    return 0


if __name__ == "__main__":
    sys.exit(main())
