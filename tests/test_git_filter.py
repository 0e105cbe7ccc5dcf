"""A learner's outputs never block getting the newest chapters. With the git filter `make lab` installs
(nbstripout, with the cells' ids kept and the Python version stripped), git sees no change in a chapter that was
opened and run, and `make update` pulls newer chapters while keeping the learner's own edits. Tried on copies of
two real chapters, in two scratch repositories.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbstripout")
if shutil.which("make") is None:
    pytest.skip("make is not installed", allow_module_level=True)
ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["05_tokenizers.ipynb", "07_processing_data.ipynb"]
ENV = {**os.environ, "GIT_AUTHOR_NAME": "course", "GIT_AUTHOR_EMAIL": "course@example.org",
       "GIT_COMMITTER_NAME": "course", "GIT_COMMITTER_EMAIL": "course@example.org"}


def git(cwd, *args):
    ran = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=ENV)
    assert ran.returncode == 0, f"git {' '.join(args)}: {ran.stdout}{ran.stderr}"
    return ran.stdout


def make(repo, target):
    """The course's Makefile, run in `repo`, with this environment's nbstripout (as `make lab` uses .venv's)."""
    ran = subprocess.run(["make", "--no-print-directory", "-C", str(repo), "-f", str(ROOT / "Makefile"), target,
                          f"VENV={sys.prefix}"], capture_output=True, text=True, env=ENV)
    assert ran.returncode == 0, f"make {target}:\n{ran.stdout}{ran.stderr}"
    return ran.stdout


def run_as_a_learner(path, note=None):
    """What JupyterLab saves after Run All: outputs, execution counts, the kernel's Python version, widget state;
    and the learner's own line in the last code cell, if `note`."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    for count, cell in enumerate(code, start=1):
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"output {count}\n")]
    if note:
        code[-1].source += f"\n{note}"
    nb.metadata.language_info["version"] = "3.12.9"
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    nbformat.write(nb, path)


def test_the_git_filter_hides_outputs_and_make_update_keeps_the_learners_edits(tmp_path):
    origin, learner = tmp_path / "origin", tmp_path / "learner"
    (origin / "notebooks").mkdir(parents=True)
    for name in CHAPTERS:
        shutil.copy(ROOT / "notebooks" / name, origin / "notebooks" / name)
    git(origin, "init", "-q", "-b", "main")
    git(origin, "add", "-A")
    git(origin, "commit", "-qm", "the course")
    git(tmp_path, "clone", "-q", str(origin), str(learner))
    assert "Git filter on" in make(learner, "git-filter")

    ran_only, edited = (learner / "notebooks" / name for name in CHAPTERS)
    run_as_a_learner(ran_only)
    run_as_a_learner(edited, note="# my own note")
    seen = git(learner, "diff")
    assert "my own note" in seen and "output 1" not in seen and "3.12.9" not in seen, "git sees edits, never outputs"
    assert f"b/notebooks/{edited.name}" in seen and ran_only.name not in seen

    for name in CHAPTERS:  # the course moves on: both chapters change upstream
        newer = nbformat.read(origin / "notebooks" / name, as_version=4)
        newer.cells[-1].source += "\n\nA new line in the summary."
        nbformat.write(newer, origin / "notebooks" / name)
    git(origin, "commit", "-qam", "newer chapters")
    make(learner, "update")
    for path in (ran_only, edited):
        assert nbformat.read(path, as_version=4).cells[-1].source.endswith("A new line in the summary."), path.name
    assert "# my own note" in edited.read_text() and git(learner, "stash", "list") == ""
    assert git(learner, "diff", "--name-only") == f"notebooks/{edited.name}\n"
