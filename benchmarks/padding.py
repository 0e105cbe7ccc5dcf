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
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

import datasets
import torch

from course_utils import benchmark, data


def main(argv=None) -> int:
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
    print(f"speedup: {benchmark.speedup(results):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
