"""The runner that executes the chapters (tests/notebook_runner.py) on a small notebook of its own: what a
chapter saves lands outside the notebooks' folder, the skip-execution and raises-exception tags work as under
nbmake, a failure names the cell, and the folder check sees what a run leaves next to the notebooks.
"""

import subprocess

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from notebook_runner import NotebookCellError, notebooks_folder_state, run_notebook


def tagged(source, tag):
    cell = new_code_cell(source)
    cell.metadata["tags"] = [tag]
    return cell


@pytest.fixture
def course(tmp_path):
    """A git checkout with notebooks/, whose .gitignore hides what chapters save, as the course's does."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("notebooks/**/outputs/\nnotebooks/**/*-model/\n")
    (tmp_path / "notebooks").mkdir()
    return tmp_path


def test_a_notebook_saves_in_a_scratch_folder_and_a_failure_names_the_cell(course):
    path = course / "notebooks" / "01_demo.ipynb"
    cells = [
        new_markdown_cell("# Chapter 1: Demo"),
        tagged('raise RuntimeError("a skip-execution cell ran")', "skip-execution"),
        new_code_cell('from pathlib import Path\n\nPath("my-model").mkdir()\nPath("outputs").mkdir()\n'
                      'Path("outputs/log.txt").write_text("saved")'),
        tagged("1 / 0  # shown to the learner on purpose", "raises-exception"),
        new_code_cell("value = 41 + 1"),
        new_code_cell('# Check: the answer\nassert value == 43, "value is not 43"'),
        new_code_cell('raise RuntimeError("a cell after the failure ran")'),
    ]
    nbformat.write(new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}),
                   path)
    before = notebooks_folder_state(course / "notebooks")
    with pytest.raises(NotebookCellError) as failure:
        run_notebook(path, timeout=60)
    err = failure.value
    assert err.index == 5
    assert err.summary() == "01_demo.ipynb, cell 5 (starting '# Check: the answer'): AssertionError: value is not 43"
    assert 'assert value == 43, "value is not 43"' in err.details()  # the cell's source, then the traceback
    assert sorted(p.name for p in path.parent.iterdir()) == ["01_demo.ipynb"]  # my-model/ and outputs/ went elsewhere
    assert notebooks_folder_state(course / "notebooks") == before


def test_the_folder_check_sees_ignored_and_untracked_leftovers(course):
    folder = course / "notebooks"
    before = notebooks_folder_state(folder)
    assert before == set()
    (folder / "mrpc-trainer-model").mkdir()
    (folder / "mrpc-trainer-model" / "config.json").write_text("{}")  # git-ignored, still in JupyterLab's browser
    (folder / "stray.txt").write_text("x")
    leftovers = notebooks_folder_state(folder) - before
    assert leftovers == {"!! notebooks/mrpc-trainer-model/config.json", "?? notebooks/stray.txt"}


def test_the_folder_check_is_off_outside_a_git_checkout(tmp_path):
    assert notebooks_folder_state(tmp_path) is None
