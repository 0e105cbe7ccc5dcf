"""ruff finds nothing in the course's Python (configured in pyproject.toml: [tool.ruff]; the version is pinned in
pyproject's dev extra, so every run lints with the same rules)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args, cwd=ROOT):
    # --no-cache: nothing written into the checkout (.ruff_cache/).
    return subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", *args],
                          cwd=cwd, capture_output=True, text=True)


def test_ruff_finds_nothing():
    ran = ruff(".")
    assert ran.returncode == 0, f"ruff check found problems (fix them; `ruff check --fix .` does the safe ones):\n{ran.stdout}{ran.stderr}"


def test_the_course_rules_catch_a_slip(tmp_path):
    slip = tmp_path / "slip.py"
    slip.write_text("import os\nfrom typing import Callable\n\n\ndef f(x: Callable):\n    l = 1\n    return x\n")
    ran = ruff("--config", str(ROOT / "pyproject.toml"), str(slip), cwd=tmp_path)
    assert {"F401", "UP035", "E741", "F841"} <= {line.split()[1] for line in ran.stdout.splitlines() if ": " in line}
