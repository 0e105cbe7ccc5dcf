"""Run the chapters as tests: one test per notebook, each in a fresh kernel started in a temporary folder.

conftest.py collects `notebooks/*.ipynb` with `NotebookFile`. Each notebook runs top to bottom in a kernel
whose working directory is a new temporary folder, so what a chapter saves with a relative path
(`save_pretrained("my-model")`, `TrainingArguments("mrpc-trainer-model")`, `checkpoints/`) lands there and
is deleted afterwards: JupyterLab's file browser shows only the course. (A learner's own run still saves
next to the notebook, as the chapters say.) After the run, `git status --porcelain --ignored notebooks`
must show nothing that was not there before.

As under nbmake: cells tagged `skip-execution` are skipped, cells tagged `raises-exception` may raise, each
cell has a time limit (`--notebook-timeout`, seconds), and a failure names the cell and shows its source and
traceback.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


class NotebookCellError(Exception):
    """A cell of a notebook failed (raised, timed out, or its kernel died)."""

    def __init__(self, path: Path, index: int | None, cell, error: Exception):
        self.path, self.index, self.cell, self.error = path, index, cell, error
        super().__init__(self.summary())

    def summary(self) -> str:
        if self.index is None:
            return f"{self.path.name}: {type(self.error).__name__} before the first cell ran"
        first_line = (self.cell.source.strip().splitlines() or [""])[0]
        if isinstance(self.error, CellExecutionError):
            what = f"{self.error.ename}: {(self.error.evalue.splitlines() or [''])[0][:200]}"
        else:
            what = type(self.error).__name__
        return f"{self.path.name}, cell {self.index} (starting {first_line[:60]!r}): {what}"

    def details(self) -> str:
        """The cell's source, its printed output and the traceback (nbclient's message), under the summary."""
        shown = str(self.error)
        if self.cell is not None and not isinstance(self.error, CellExecutionError):
            shown = f"{self.cell.source}\n{'-' * 18}\n{shown}"  # a timeout or a dead kernel: show the cell too
        return f"{self.summary()}\n{'-' * 75}\n{shown}"


def run_notebook(path: Path, timeout: int = 600, kernel_name: str | None = None, cwd: Path | None = None):
    """Execute the notebook at `path` in a new kernel; returns the executed notebook.

    The kernel starts in `cwd` (a temporary folder, deleted afterwards, when None). Raises NotebookCellError
    naming the cell that failed.
    """
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix=f"{path.stem}-", ignore_cleanup_errors=True) as scratch:
        run_dir = str(cwd or scratch)
        client = NotebookClient(notebook, timeout=timeout, record_timing=False,
                                kernel_name=kernel_name or notebook.metadata.get("kernelspec", {}).get("name", "python3"),
                                resources={"metadata": {"path": run_dir}})
        current = {}

        def remember(cell, cell_index, **_):
            current.update(cell=cell, index=cell_index)

        client.on_cell_execute = remember
        try:
            client.execute()
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            raise NotebookCellError(path, current.get("index"), current.get("cell"), err) from None
    return notebook


def notebooks_folder_state(folder: Path) -> set[str] | None:
    """`git status --porcelain --ignored` of `folder`, as a set of lines (None outside a git checkout)."""
    try:
        ran = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "--", "."], cwd=folder,
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return set(ran.stdout.splitlines()) if ran.returncode == 0 else None


class NotebookFile(pytest.File):
    def collect(self):
        yield NotebookItem.from_parent(self, name=self.path.name)


class NotebookItem(pytest.Item):
    def runtest(self):
        folder = self.path.parent
        before = notebooks_folder_state(folder)
        committed = nbformat.read(self.path, as_version=4).metadata
        executed = run_notebook(self.path, timeout=self.config.getoption("notebook_timeout"),
                                kernel_name=self.config.getoption("notebook_kernel"))
        # What the kernel wrote (nbclient saves it as JupyterLab does), but the learner's Python version.
        written = {k: v for k, v in executed.metadata.get("language_info", {}).items() if k != "version"}
        assert written == committed.get("language_info"), (
            f"{self.path.name}: the kernel writes language_info {written}, the notebook has "
            f"{committed.get('language_info')}: run `python scripts/notebook_metadata.py`")
        after = notebooks_folder_state(folder)
        if before is not None and after is not None and after - before:
            raise AssertionError(
                f"while {self.path.name} ran, this appeared in {folder.name}/ (git status --porcelain --ignored):\n  "
                + "\n  ".join(sorted(after - before))
                + "\nThe test run must leave notebooks/ as it was: something wrote there by an absolute path.")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, NotebookCellError):
            return excinfo.value.details()
        if isinstance(excinfo.value, AssertionError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"notebook {self.path.name}"
