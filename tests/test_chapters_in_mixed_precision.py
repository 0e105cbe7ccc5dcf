"""Every chapter that picks a precision runs green again with bf16 mixed precision forced, as on an
Ampere GPU.

The main run (tests/notebook_runner.py) executes the chapters on a CPU in float32, where precision bugs cannot show.
Here the chapters that train in mixed precision run a second time with COURSE_MIXED_PRECISION=bf16:
`env.mixed_precision()` then turns bf16 on for the Trainer (chapters 8, 11, 13) and for Accelerate
(chapter 10), which compute under bf16 autocast on the CPU as they would on a GPU (the same Accelerate
wrapper around the model's forward pass; only the kernels differ). `scripts/train_mrpc.py` runs in bf16
in test_train_script.py. fp16 cannot be emulated this way (Accelerate switches it off without a GPU):
see test_mixed_precision.py.

The three Trainer chapters run every code cell in order inside this test process (`chapter_cells.run_cells`,
in a temporary folder): the chapter's code and checks as a kernel runs them, without a second kernel start and a
second import of torch and transformers for each (about 10 of the 20 seconds a kernel run costs). Chapter 10
runs in a kernel, as in the main run, because `notebook_launcher` starts its processes from the kernel.

Chapters 9 and 12 train with the course's own loop, in float32 on every device: their code never reads
the precision, so a second run would repeat the first one operation for operation (both were run with
bf16 forced when this test was written, and passed). `test_every_chapter_that_picks_a_precision_is_run`
keeps the list honest: a chapter that starts reading the precision joins the run.

A check that holds only because the precision is fp32 fails here; the chapters write their checks so that
they hold on every real device.
"""

import re

import nbformat
import pytest
from nbclient import NotebookClient

from chapter_cells import NOTEBOOKS, chapter, run_cells

IN_THIS_PROCESS = ["sharing_models", "trainer", "yelp_reviews"]  # the Trainer chapters
IN_A_KERNEL = ["accelerate"]  # notebook_launcher starts its processes from a kernel
MIXED_PRECISION_CHAPTERS = sorted(IN_THIS_PROCESS + IN_A_KERNEL)
READS_THE_PRECISION = re.compile(r"\bmixed_precision\(|\bfp16\s*=|\bbf16\s*=|mixed_precision\s*=")


def test_every_chapter_that_picks_a_precision_is_run():
    picking = sorted(p.stem[3:] for p in NOTEBOOKS.glob("*.ipynb")
                     if any(READS_THE_PRECISION.search(c.source) for c in nbformat.read(p, as_version=4).cells
                            if c.cell_type == "code" and "skip-execution" not in c.metadata.get("tags", [])))
    assert picking == MIXED_PRECISION_CHAPTERS, f"chapters that pick a precision: {picking}; add them to the bf16 run"


@pytest.mark.parametrize("topic", IN_THIS_PROCESS)
def test_trainer_chapter_runs_with_bf16_forced(topic, tmp_path, monkeypatch, capsys, fresh_accelerate_state):
    import matplotlib.pyplot as plt

    monkeypatch.setenv("COURSE_MIXED_PRECISION", "bf16")
    monkeypatch.chdir(tmp_path)  # what the chapter saves lands here
    try:
        namespace = run_cells(chapter(topic), stop_before=None)  # every cell; skip-execution cells are skipped
    finally:
        plt.close("all")
    from transformers import TrainingArguments

    arguments = [value for value in namespace.values() if isinstance(value, TrainingArguments)]
    assert arguments and all(a.bf16 and not a.fp16 for a in arguments), "the chapter's Trainer really ran in bf16"
    if topic == "trainer":  # the Trainer chapter prints the flags it hands TrainingArguments
        assert "{'bf16': True, 'fp16': False, 'use_cpu': True}" in capsys.readouterr().out
    if topic == "sharing_models":  # the model it saves and checks has shed the Trainer's autocast wrapper
        assert not hasattr(namespace["model"], "_original_forward")


@pytest.mark.parametrize("topic", IN_A_KERNEL)
def test_chapter_runs_with_bf16_forced_in_a_kernel(topic, tmp_path, monkeypatch):
    path = chapter(topic)
    notebook = nbformat.read(path, as_version=4)
    monkeypatch.setenv("COURSE_MIXED_PRECISION", "bf16")  # the kernel inherits this process's environment
    # skip-execution cells are skipped and raises-exception cells may raise, as in the main run.
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
