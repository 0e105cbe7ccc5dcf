"""The cost of padding, measured: the tutorial's NSMC recipe against the course's.

    python benchmarks/padding.py --data-dir DIR        # DIR holds ratings_train.txt

Both recipes train the same randomly initialised BERT (hidden 256, 4 layers, 4 heads: real width, so
the clock measures compute rather than Python overhead) for one pass over the same real reviews, with
a Korean WordPiece tokenizer trained on the reviews themselves:

- pad to 512:       tokenize in Dataset.__getitem__ on every read, pad every review to 512 tokens;
- dynamic padding:  tokenize once with Dataset.map(batched=True), DataCollatorWithPadding per batch;
- dynamic + length groups: the same, batching reviews of similar length together.

The last line printed is `speedup: N.Nx` (dynamic padding over
pad to 512, in training examples per second). The defaults take about a minute on one CPU core.

`--record FILE` also appends the run (settings, machine, data file, every figure) to FILE, a JSON file:
`benchmarks/results/padding.json` is the course's record, the one source of the figures that the
README and chapter 12 quote. `python benchmarks/padding.py --summary benchmarks/results/padding.json`
prints the sentence they quote, computed from the record; tests/test_figures.py checks that they quote
exactly that sentence, and no other figure of this benchmark.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--summary"]:
        if len(argv) != 2:
            raise SystemExit("usage: python benchmarks/padding.py --summary benchmarks/results/padding.json")
        print(summary(json.loads(Path(argv[1]).read_text())))
        return 0
    import datasets  # imported here: --summary, and the tests that import summary(), need none of this
    import torch

    from course_utils import benchmark, data
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True, help="folder holding NSMC's ratings_train.txt")
    parser.add_argument("--num-examples", type=int, default=128, help="reviews per recipe (default 128)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--recipes", nargs="+", default=list(benchmark.RECIPES), choices=benchmark.RECIPES)
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1: steady timings on a shared machine; 0: torch's choice)")
    parser.add_argument("--record", type=Path, default=None,
                        help="append this run to a JSON record, e.g. benchmarks/results/padding.json")
    parser.add_argument("--machine", default="", help="a few words about the machine, kept in the record")
    args = parser.parse_args(argv)
    if "pad to 512" not in args.recipes or "dynamic padding" not in args.recipes:
        parser.error("the speedup needs both 'pad to 512' and 'dynamic padding' in --recipes")

    datasets.disable_progress_bars()
    reviews = data.read_nsmc_file(args.data_dir / "ratings_train.txt")
    reviews = reviews[reviews["document"].str.strip() != ""]
    sample = data.seeded_subset(reviews, min(args.num_examples, len(reviews)), seed=args.seed)
    corpus = data.seeded_subset(reviews, min(20_000, len(reviews)), seed=args.seed + 1)
    started = time.perf_counter()
    tokenizer = benchmark.train_tokenizer(corpus["document"], vocab_size=args.vocab_size)
    config = benchmark.bench_config(len(tokenizer))
    print(f"{len(reviews):,} non-empty reviews in {args.data_dir / 'ratings_train.txt'}; "
          f"{len(sample)} of them per recipe, batch size {args.batch_size}.")
    print(f"WordPiece tokenizer: {len(tokenizer):,} tokens, trained on {len(corpus):,} reviews "
          f"in {time.perf_counter() - started:.1f} s.")
    print(f"Model: BERT, hidden {config.hidden_size}, {config.num_hidden_layers} layers, "
          f"{config.num_attention_heads} heads, intermediate {config.intermediate_size}, random init.")

    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"Device: {device}, {torch.get_num_threads()} CPU threads. One training pass per recipe:")
    results = []
    for recipe in args.recipes:
        result = benchmark.measure(recipe, sample["document"], sample["label"], tokenizer, config,
                                   batch_size=args.batch_size, seed=args.seed, device=device)
        results.append(result)
        memory = "n/a" if result["peak_memory_mb"] is None else f"{result['peak_memory_mb']:,.0f} MB"
        print(f"  {recipe:<24} {result['examples_per_s']:8.1f} examples/s  {result['seconds']:7.1f} s  "
              f"peak memory {memory:>9}  {result['tokens_per_example']:6.1f} tokens/example", flush=True)
    print(f"Peak memory: {results[0]['memory']}.")
    if args.record is not None:
        record(args.record, args, device, sample, results)
        print(f"Recorded in {args.record}.")
    print(f"speedup: {benchmark.speedup(results):.1f}x")
    return 0


def summary(record: dict) -> str:
    """The sentence the README and chapter 12 quote: medians over the recorded runs, and the speedup's range."""
    import statistics

    runs = record["runs"]
    if not runs:
        raise ValueError("the record holds no runs")
    settings = {(r["data"]["reviews"], r["machine"]["cpus"], r["machine"]["torch_threads"], r["machine"]["device"])
                for r in runs}
    if len(settings) != 1:
        raise ValueError(f"the runs differ in reviews, CPUs, threads or device ({settings}): one summary would mix them")
    ((reviews, cpus, threads, device),) = settings
    where = (f"{'one thread' if threads == 1 else f'{threads} threads'} of a shared {cpus}-core CPU" if device == "cpu"
             else device)

    def median(recipe, key):
        return statistics.median(next(x[key] for x in r["results"] if x["recipe"] == recipe) for r in runs)

    speedups = sorted(r["speedup"] for r in runs)
    return (f"{len(runs)} runs on {reviews} real NSMC reviews, {where}, medians: "
            f"pad to 512, {median('pad to 512', 'examples_per_s'):.1f} examples/s and "
            f"{median('pad to 512', 'peak_memory_mb'):,.0f} MB; "
            f"dynamic padding, {median('dynamic padding', 'examples_per_s'):.1f} examples/s and "
            f"{median('dynamic padding', 'peak_memory_mb'):,.0f} MB, the model reading "
            f"{median('dynamic padding', 'tokens_per_example'):.1f} tokens per review instead of 512; "
            f"with length groups, {median('dynamic + length groups', 'examples_per_s'):.1f} examples/s and "
            f"{median('dynamic + length groups', 'tokens_per_example'):.1f} tokens per review; "
            f"`speedup:` {statistics.median(speedups):.1f}x "
            f"(from {speedups[0]:.1f}x to {speedups[-1]:.1f}x: other jobs share the machine)")


def record(path: Path, args, device: str, sample, results: list[dict]) -> None:
    """Append this run to the JSON record at `path` (created if missing)."""
    import torch

    from course_utils import benchmark
    data_file = args.data_dir / "ratings_train.txt"
    run = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/padding.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in [("num_examples", args.num_examples),
                                                        ("batch_size", args.batch_size), ("seed", args.seed),
                                                        ("threads", args.threads)]),
        "data": {"file": data_file.name, "sha256": hashlib.sha256(data_file.read_bytes()).hexdigest(),
                 "reviews": len(sample)},
        "machine": {"description": args.machine, "platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "device": device, "torch": torch.__version__,
                    "load_average_at_start": [round(x, 1) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None},
        "results": [{k: r[k] for k in ("recipe", "examples", "seconds", "examples_per_s", "peak_memory_mb",
                                         "tokens_per_example")} for r in results],
        "speedup": benchmark.speedup(results),
    }
    existing = json.loads(path.read_text()) if path.is_file() else {
        "benchmark": "benchmarks/padding.py", "what": __doc__.strip().splitlines()[0], "runs": []}
    existing["runs"].append(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(existing, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    sys.exit(main())
