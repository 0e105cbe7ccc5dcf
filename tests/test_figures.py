"""Figures the course states: a run the course claims has a record in the repository, and one measurement is
quoted from one source.

- A paragraph of the README or of a chapter's markdown that claims a run of the course's own ("our run",
  "the course's run", "we measured", "measured on ...", "it printed", "over three runs", ...) must cite the
  record that run left in the repository: a file under `benchmarks/results/`, written by a script of the repo
  (`benchmarks/padding.py --record`, for instance; issue 13's `make verify-real` writes `real_weights.json`
  there too). A figure from someone else's run is attributed to its source instead (the HF course, a paper,
  a model card, the tutorial), and needs no record.
- The padding benchmark's figures live in `benchmarks/results/padding.json`. The README and chapter 12 quote
  the sentence that `benchmarks/padding.py --summary` computes from it, and no paragraph that talks about the
  benchmark states any other figure of it.

Paragraphs are the blank-line-separated blocks of the README and of every markdown cell.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PADDING_RECORD = ROOT / "benchmarks" / "results" / "padding.json"

CLAIM = re.compile(
    r"\b(?:our|the course's)(?: own)?(?: full| real| last| earlier| latest)? runs?\b"
    r"|\bwe (?:measured|ran|timed|benchmarked|recorded|observed|got|saw)\b"
    r"|\bour (?:measurements?|benchmarks?|timings?|experiments?|results)\b"
    r"|\bmeasured (?:here|by us)\b"
    r"|\bmeasured on (?:a|an|this|our|\d)[^.;:]{0,40}?\b(?:CPUs?|GPUs?|TPUs?|T4|A100|machines?|laptops?|cores?)\b"
    r"|\b(?:it|the script|the benchmark|the cell) printed\b"
    r"|\bover (?:\d+|two|three|four|five|several|many) runs\b",
    re.IGNORECASE)
RECORD = re.compile(r"benchmarks/results/[\w.-]+(?:/[\w.-]+)*")
# A figure of the padding benchmark: a number with the unit the benchmark reports.
BENCH_FIGURE = re.compile(r"(\d[\d,]*(?:\.\d+)?) ?(x\b|examples/s|MB\b|GB\b|tokens)")


def paragraphs() -> list[tuple[str, str]]:
    """(where, text) for every paragraph of the README and of every chapter's markdown cells."""
    found = []
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found += [("README.md", p) for p in re.split(r"\n\s*\n", readme) if p.strip()]
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                found += [(f"{path.name}, cell {i}", p) for p in re.split(r"\n\s*\n", cell.source) if p.strip()]
    return found


def unbacked_claims(text: str) -> list[str]:
    """The claims of a run in `text` when it cites no record that exists in the repository."""
    claims = [m.group(0) for m in CLAIM.finditer(text)]
    if not claims:
        return []
    records = [r.rstrip(".") for r in RECORD.findall(text)]
    if records and all((ROOT / r).is_file() for r in records):
        return []
    return claims


def test_every_claimed_run_cites_its_record_in_the_repository():
    problems = [f"{where}: {claims} in: {text[:160]!r}..."
                for where, text in paragraphs() if (claims := unbacked_claims(text))]
    assert not problems, ("These paragraphs claim a run of the course but cite no record under benchmarks/results/ "
                          "that exists. Cite the record a script of this repo wrote, or attribute the figure to its "
                          "source (the HF course, a paper, a model card, the tutorial):\n" + "\n".join(problems))


@pytest.mark.parametrize("text", [
    "about {'accuracy': 0.858, 'f1': 0.900} (the course's run printed 0.8578 and 0.8997)",
    "Real model: about `{'accuracy': 0.843, 'f1': 0.891}` (the course's run), within a point or two",
    "Measured on a 2-core CPU (one thread) with 128 real NSMC reviews: 3.4 examples/s",
    "On 128 real reviews, with one thread of a shared 2-core CPU, it printed: pad to 512, 3.4 examples/s",
    "`speedup: 17.8x` (between 16x and 18x over several runs)",
    "We measured 0.91 on our run.",
    "see benchmarks/results/missing.json: our run printed 0.9",  # a cited record must exist
])
def test_claims_without_a_record_are_caught(text):
    assert unbacked_claims(text)


@pytest.mark.parametrize("text", [
    "For this loop the Hugging Face course printed `{'accuracy': 0.843, 'f1': 0.891}`",
    "the HF course's three-epoch run printed an accuracy of 0.858",
    "Its printed run: the test loss was lowest after epoch 3 (0.368)",
    "The course's record is `benchmarks/results/padding.json`: 5 runs on 128 real NSMC reviews",
    "Write your own run in the empty cell.",
])
def test_attributed_or_recorded_figures_pass(text):
    assert not unbacked_claims(text)


def padding_script():
    return load_script(ROOT / "benchmarks" / "padding.py", "padding_benchmark")


def padding_summary() -> str:
    return padding_script().summary(json.loads(PADDING_RECORD.read_text(encoding="utf-8")))


def about_the_padding_benchmark(text: str) -> bool:
    return "padding.json" in text or "benchmarks/padding.py" in text or "speedup:" in text


def test_readme_and_chapter_12_quote_the_padding_record():
    summary = padding_summary()
    for where in ["README.md", "12_nsmc_korean.ipynb"]:
        quoted = [text for w, text in paragraphs() if w.startswith(where) and summary in text]
        assert quoted, (f"{where} must quote the padding benchmark's figures from benchmarks/results/padding.json, "
                        f"exactly as `python benchmarks/padding.py --summary benchmarks/results/padding.json` prints "
                        f"them:\n{summary}")


def test_no_other_figure_of_the_padding_benchmark_is_stated():
    """A paragraph about the benchmark states its figures only through the record's summary."""
    allowed = {number for number, _ in BENCH_FIGURE.findall(padding_summary())} | {"512"}  # 512: the recipe's length
    stray = [f"{where}: {number} {unit}" for where, text in paragraphs() if about_the_padding_benchmark(text)
             for number, unit in BENCH_FIGURE.findall(text) if number not in allowed]
    assert not stray, ("Figures of the padding benchmark that benchmarks/results/padding.json does not hold "
                       "(quote `benchmarks/padding.py --summary` instead): " + "; ".join(stray))


def test_the_padding_record_is_real_nsmc():
    """The record's runs are on the original NSMC training file (by its sha256), not on the course's fixture."""
    record = json.loads(PADDING_RECORD.read_text(encoding="utf-8"))
    assert record["runs"]
    for run in record["runs"]:
        assert run["data"]["sha256"] == "e03b7d14e9e41be8d464a28057cd25d7396c53e67aa7fd5f7e552c59b0ee2940"
        assert {r["recipe"] for r in run["results"]} == {"pad to 512", "dynamic padding", "dynamic + length groups"}


def test_record_appends_runs_and_summary_reads_them(tmp_path):
    """`padding.py --record` appends one run per call; `summary` gives the medians and the speedup's range."""
    import argparse

    script = padding_script()
    (tmp_path / "ratings_train.txt").write_text("id\tdocument\tlabel\n1\t좋아요\t1\n", encoding="utf-8")
    args = argparse.Namespace(data_dir=tmp_path, num_examples=2, batch_size=2, seed=0, threads=1, machine="a test")
    path = tmp_path / "results" / "padding.json"
    for slow, fast in [(1.0, 10.0), (2.0, 30.0), (4.0, 40.0)]:
        results = [{"recipe": r, "examples": 2, "seconds": 2 / v, "examples_per_s": v, "peak_memory_mb": m,
                    "tokens_per_example": t}
                   for r, v, m, t in [("pad to 512", slow, 100.0, 512.0), ("dynamic padding", fast, 10.0, 20.0),
                                      ("dynamic + length groups", fast * 1.5, 12.0, 15.0)]]
        script.record(path, args, "cpu", [None, None], results)
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
    assert [run["speedup"] for run in runs] == [10.0, 15.0, 10.0]
    summary = script.summary({"runs": runs})
    assert summary.startswith("3 runs on 2 real NSMC reviews, one thread of a shared")
    assert "pad to 512, 2.0 examples/s and 100 MB" in summary and "dynamic padding, 30.0 examples/s" in summary
    assert "`speedup:` 10.0x (from 10.0x to 15.0x" in summary
