"""Test-session set-up: every test and every notebook runs in smoke mode, offline.

Before anything imports transformers, point the Hugging Face libraries at a private cache of tiny
models and metrics (built once, reused while it is up to date) and switch off the network. Notebook
kernels and scripts started by tests inherit these variables.

Every `notebooks/*.ipynb` is a test: tests/notebook_runner.py runs it in a kernel started in a temporary
folder, so that nothing it saves lands under notebooks/.
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers (pytest puts tests/ there too, for the test modules)

from notebook_runner import NotebookFile  # noqa: E402


def pytest_addoption(parser):
    group = parser.getgroup("notebooks", "running the chapters")
    group.addoption("--notebook-timeout", type=int, default=600, help="seconds one notebook cell may run")
    group.addoption("--notebook-kernel", default=None, help="kernel name (default: the notebook's kernelspec)")


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".ipynb" and file_path.parent == ROOT / "notebooks":
        return NotebookFile.from_parent(parent, path=file_path)


def pytest_configure(config):
    cache = Path(os.environ.get("COURSE_SMOKE_CACHE", ROOT / ".cache" / "smoke"))
    from course_utils.smoke import environment

    os.environ.update(environment(cache))
    os.environ["COURSE_SMOKE_CACHE"] = str(cache)
    # Kernels start in a temporary folder: make them import this checkout's course_utils.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: threads only add overhead
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if not hasattr(config, "workerinput"):  # xdist workers inherit the controller's cache
        from course_utils.smoke import build

        build(cache, quiet=True)


@pytest.fixture
def fresh_accelerate_state():
    """Accelerate keeps its state (precision, device) in a process-wide singleton: a test that builds an Accelerator
    or a Trainer in this process, in bf16 or fp16, starts and ends with a fresh one."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)
