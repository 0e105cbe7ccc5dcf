"""Fine-tune a model on GLUE MRPC with Accelerate: the training loop of chapters 9 and 10, as a script.

The same file, unchanged, runs on one process, on several CPU processes, on several GPUs, on several
machines and on a TPU: `accelerate launch` decides how many processes start and on which devices.

    python scripts/train_mrpc.py                                   # one process (GPU if there is one)
    accelerate config                                              # once per machine: answer the questions
    accelerate launch scripts/train_mrpc.py                        # whatever `accelerate config` chose
    accelerate launch --multi_gpu --num_processes 4 scripts/train_mrpc.py      # 4 GPUs on this machine
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 \\
        --mixed_precision no --dynamo_backend no scripts/train_mrpc.py         # 2 CPU processes (gloo)
    accelerate launch --tpu scripts/train_mrpc.py --pad-to-max-length          # TPU: fixed shapes

Data comes through the course's loader: `load_dataset("nyu-mll/glue", "mrpc")` from the Hub, or your
own copy when COURSE_DATA_DIR points at a folder holding `mrpc/{train,validation,test}.jsonl`.

The last line printed (by the main process only) is a JSON object with the results, e.g.
{"num_processes": 2, "eval_examples": 408, "accuracy": 0.86, "f1": 0.90, ...}.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import evaluate
import torch
from accelerate import Accelerator
from accelerate.utils import DistributedType, set_seed
from huggingface_hub import try_to_load_from_cache
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from torch.utils.data import DataLoader
from tqdm.auto import tqdm
from transformers import (
    AutoConfig,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    get_scheduler,
)

try:
    from course_utils import data, environment
except ImportError:  # run from a clone without `pip install -e .`: use the repository's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from course_utils import data, environment


def whole_number(minimum: int, maximum: int | None = None):
    """An argparse type: a whole number in [minimum, maximum], or a one-line error naming the argument."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"must be a whole number of at least {minimum}{upper}, got {text!r}")
        return value
    return parse


def learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a number above 0 (fine-tuning BERT uses 2e-5 to 5e-5), got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="google-bert/bert-base-uncased", help="checkpoint id or local folder")
    parser.add_argument("--epochs", type=whole_number(1), default=3)
    parser.add_argument("--lr", type=learning_rate, default=5e-5, help="peak learning rate (linear decay to 0)")
    parser.add_argument("--batch-size", type=whole_number(1), default=8, help="training batch size per process")
    parser.add_argument("--eval-batch-size", type=whole_number(1), default=16, help="evaluation batch size per process")
    parser.add_argument("--seed", type=whole_number(0, 2**32 - 1), default=42)
    parser.add_argument("--max-length", type=whole_number(1), default=128,
                        help="truncate pairs to this many tokens (MRPC pairs are shorter than 128)")
    parser.add_argument("--pad-to-max-length", action="store_true",
                        help="pad every batch to --max-length: one batch shape, compiled once on a TPU (without "
                             "it a TPU pads lengths to multiples of 64: a few shapes); on GPUs and CPUs dynamic "
                             "padding is faster")
    return parser.parse_args(argv)


def check_sources(model: str) -> None:
    """Before anything loads: the Hub answers within seconds (or the run is offline), and --model exists.

    Without this, an offline machine or an endpoint that never answers made the first from_pretrained
    retry for minutes; a mistyped --model said something about the connection.
    """
    try:
        environment.check_hub_access()
    except (environment.HubUnreachableError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise SystemExit(f"error: --model {model}: this folder has no config.json. Point --model at a folder "
                             "written by save_pretrained, or at a Hub id such as google-bert/bert-base-uncased.")
        return
    try:
        validate_repo_id(model)
    except HFValidationError:
        raise SystemExit(f"error: --model {model!r} is neither a folder here nor a Hub model id "
                         "(like google-bert/bert-base-uncased).") from None
    offline = environment._offline_switch()  # e.g. "HF_HUB_OFFLINE=1", read as huggingface_hub reads it
    if offline:
        if not isinstance(try_to_load_from_cache(model, "config.json"), str):
            raise SystemExit(f"error: --model {model} is not in the Hugging Face cache, and offline ({offline}) "
                             f"nothing is downloaded. Check the id, or download the model on a connected machine "
                             f"(hf download {model}) and copy the cache over (see the README).")
        return
    try:
        AutoConfig.from_pretrained(model)
    except OSError as err:
        raise SystemExit(f"error: --model {model} cannot be loaded from the Hub: {str(err).splitlines()[0]}") from None


def results_line(summary: dict) -> str:
    """The last line of the run, valid JSON; a run whose numbers are not finite fails instead."""
    broken = {key: value for key, value in summary.items() if isinstance(value, float) and not math.isfinite(value)}
    if broken:
        found = ", ".join(f"{key} is {value}" for key, value in broken.items())
        raise SystemExit(f"error: {found}: the training diverged. Lower --lr (the default is 5e-5) and run again.")
    return json.dumps(summary, allow_nan=False)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    check_sources(args.model)
    started = time.perf_counter()
    # Devices, processes and mixed precision come from `accelerate launch` / `accelerate config`;
    # COURSE_MIXED_PRECISION=bf16|fp16|no overrides the precision (the course's tests force bf16 on a CPU).
    accelerator = Accelerator(mixed_precision=environment.forced_precision())
    set_seed(args.seed)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    if args.max_length > tokenizer.model_max_length:
        raise SystemExit(f"error: --max-length {args.max_length} is more than {args.model} can read "
                         f"({tokenizer.model_max_length} tokens): use --max-length {tokenizer.model_max_length} or less.")

    def tokenize(batch):
        return tokenizer(batch["sentence1"], batch["sentence2"], truncation=True, max_length=args.max_length)

    # The main process downloads and preprocesses first; the others then read its cache.
    with accelerator.main_process_first():
        raw_datasets = data.load_course_dataset("nyu-mll/glue", "mrpc")
        tokenized = raw_datasets.map(tokenize, batched=True)
    tokenized = tokenized.remove_columns(["sentence1", "sentence2", "idx"]).rename_column("label", "labels")
    tokenized.set_format("torch")

    on_tpu = accelerator.distributed_type == DistributedType.XLA
    train_dataloader, eval_dataloader = make_dataloaders(tokenized, tokenizer, args, on_tpu)

    # float32 weights whatever the checkpoint's own dtype: mixed precision computes in 16 bits but must
    # update float32 weights (bf16 weights would round small updates away).
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2, dtype=torch.float32)
    # weight_decay=0.0 is the Trainer's default (chapter 9); torch.optim.AdamW's own default is 0.01.
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    # prepare() moves everything to the right device and shards the dataloaders across processes.
    model, optimizer, train_dataloader, eval_dataloader = accelerator.prepare(
        model, optimizer, train_dataloader, eval_dataloader)
    num_training_steps = args.epochs * len(train_dataloader)  # per process, after sharding
    lr_scheduler = get_scheduler("linear", optimizer=optimizer, num_warmup_steps=0,
                                 num_training_steps=num_training_steps)

    metric = evaluate.load("glue", "mrpc")
    progress = tqdm(range(num_training_steps), disable=not accelerator.is_local_main_process)
    for epoch in range(1, args.epochs + 1):
        model.train()
        total_loss, batches = 0.0, 0
        for batch in train_dataloader:
            loss = model(**batch).loss
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), max_norm=1.0)  # the Trainer's max_grad_norm
            optimizer.step()
            lr_scheduler.step()
            optimizer.zero_grad()
            total_loss += loss.detach().float()
            batches += 1
            progress.update(1)
        train_loss = accelerator.reduce(total_loss / max(batches, 1), reduction="mean").item()
        results, eval_examples = evaluate_model(model, eval_dataloader, metric, accelerator)
        accelerator.print(f"epoch {epoch}: train loss {train_loss:.4f} | validation {results} "
                          f"on {eval_examples} examples")
    progress.close()

    summary = {"num_processes": accelerator.num_processes, "distributed_type": accelerator.distributed_type.value,
               "mixed_precision": effective_precision(accelerator), "device": str(accelerator.device),
               "model": args.model, "epochs": args.epochs, "train_examples": len(tokenized["train"]),
               "eval_examples": eval_examples, "train_loss": train_loss, **results,
               "seconds": round(time.perf_counter() - started, 1)}
    line = results_line(summary)
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        print(line, flush=True)
    accelerator.end_training()
    return summary


def make_dataloaders(tokenized, tokenizer, args, on_tpu: bool) -> tuple[DataLoader, DataLoader]:
    """The training and validation dataloaders.

    GPUs and CPUs: dynamic padding (each batch padded to its longest pair), unless --pad-to-max-length.
    TPU: XLA compiles one graph per batch shape, so lengths are fixed (--pad-to-max-length: one length) or
    rounded up to a multiple of 64 (a few lengths), and the short last training batch is dropped (its
    shape would be compiled for a single step). Evaluation keeps every pair: at most one shorter batch.
    """
    if args.pad_to_max_length:
        collator = DataCollatorWithPadding(tokenizer, padding="max_length", max_length=args.max_length)
    else:
        collator = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=64 if on_tpu else None)
    train_dataloader = DataLoader(tokenized["train"], shuffle=True, batch_size=args.batch_size, collate_fn=collator,
                                  drop_last=on_tpu)
    eval_dataloader = DataLoader(tokenized["validation"], batch_size=args.eval_batch_size, collate_fn=collator)
    return train_dataloader, eval_dataloader


def effective_precision(accelerator) -> str:
    """The precision the run really computed in. Asked for fp16 without a GPU, Accelerate keeps
    `mixed_precision == "fp16"` but turns autocast off (`native_amp` False): the run is full precision."""
    if accelerator.mixed_precision in ("fp16", "bf16") and not accelerator.native_amp:
        return "no"
    return accelerator.mixed_precision


def evaluate_model(model, eval_dataloader, metric, accelerator) -> tuple[dict, int]:
    """Accuracy and F1 on the validation split, each example counted once across all processes."""
    model.eval()
    seen = 0
    for batch in eval_dataloader:
        with torch.no_grad():
            logits = model(**batch).logits
        # gather_for_metrics collects every process's predictions and drops the samples that were
        # repeated to give every process a full last batch: each example is counted exactly once.
        predictions, references = accelerator.gather_for_metrics((logits.argmax(dim=-1), batch["labels"]))
        metric.add_batch(predictions=predictions, references=references)
        seen += len(references)
    return metric.compute(), seen


if __name__ == "__main__":
    try:
        main()
    except (data.DataError, FileNotFoundError) as err:  # a local data folder (COURSE_DATA_DIR) to fix
        sys.exit(f"error: {err}")
