"""scripts/train_mrpc.py: the same file trains on one process and on two processes (in bf16, as on two Ampere GPUs),
on a local copy of MRPC.

The two-process run is the README's CPU command,
    ACCELERATE_USE_CPU=1 accelerate launch --multi_gpu --num_processes 2 --num_machines 1 \\
        --mixed_precision no --dynamo_backend no scripts/train_mrpc.py
plus COURSE_MIXED_PRECISION=bf16 (the script follows it over the launcher's flag, as chapter 10 does) and
`--main_process_port` set to a free port, so that it cannot collide with another distributed
run on the default port 29500 (chapter 10's notebook_launcher) when the suite runs in parallel.
The environment (smoke cache, HF_HUB_OFFLINE, COURSE_SMOKE, PYTHONPATH) is inherited from conftest.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils import data
from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_mrpc.py"
ACCELERATE = Path(sys.executable).parent / "accelerate"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_process_command(*script_args):
    return [str(ACCELERATE), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
            "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
            str(SCRIPT), *script_args]


def run(command, **env):
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, **env})
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr[-4000:]}"
    lines = result.stdout.strip().splitlines()
    assert lines, f"no output\nstderr:\n{result.stderr[-4000:]}"
    return json.loads(lines[-1]), result.stdout


@pytest.fixture
def train_mrpc(fresh_accelerate_state):
    """The script as a module, with a fresh Accelerate state (a process-wide singleton) before and after."""
    return load_script(SCRIPT)


def test_fp16_asked_for_on_a_cpu_is_reported_as_full_precision(train_mrpc, monkeypatch, capsys):
    """A T4's `accelerate config` (fp16) used on a CPU: Accelerate turns fp16 off, and the summary says so. This is
    also the one-process run in full precision, with the TPU's fixed-length padding. Its main() runs in this
    process, as `python scripts/train_mrpc.py` would run it (the two-process test below starts real processes)."""
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    validation_size = len(data.load_course_dataset("nyu-mll/glue", "mrpc")["validation"])
    summary = train_mrpc.main(["--epochs", "1", "--pad-to-max-length", "--max-length", "64"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == json.loads(json.dumps(summary))
    assert summary["num_processes"] == 1 and summary["mixed_precision"] == "no"
    assert summary["eval_examples"] == validation_size
    assert 0.0 <= summary["accuracy"] <= 1.0 and "f1" in summary


def test_two_cpu_processes_on_a_local_copy_count_every_validation_example_once(tmp_path):
    """COURSE_DATA_DIR/mrpc/*.jsonl is read instead of the Hub, with no code change, by two processes in bf16.
    Its 13 validation rows do not split evenly in two: with evaluation batches of 4 the second process repeats
    examples to fill its last batch, and gather_for_metrics drops them (a plain gather would report 16)."""
    fixture = data.FIXTURES / "mrpc"
    sizes = {"train": 20, "validation": 13, "test": 5}
    (tmp_path / "mrpc").mkdir()
    for split, size in sizes.items():
        rows = (fixture / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:size]
        (tmp_path / "mrpc" / f"{split}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert len(data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=tmp_path)["validation"]) == 13

    # COURSE_MIXED_PRECISION=bf16 runs the GPUs' mixed-precision path (autocast) on the CPU processes.
    summary, stdout = run(two_process_command("--epochs", "1", "--eval-batch-size", "4"),
                          ACCELERATE_USE_CPU="1", COURSE_DATA_DIR=str(tmp_path), COURSE_MIXED_PRECISION="bf16")
    assert summary["num_processes"] == 2
    assert summary["distributed_type"] == "MULTI_CPU"
    assert summary["mixed_precision"] == "bf16", "the precision it computed in, as forced"
    assert summary["train_examples"] == sizes["train"]
    assert summary["eval_examples"] == sizes["validation"]
    assert 0.0 <= summary["accuracy"] <= 1.0 and 0.0 <= summary["f1"] <= 1.0
    assert stdout.count('"num_processes"') == 1, "only the main process prints the results"
