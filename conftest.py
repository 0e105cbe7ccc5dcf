"""Test-session set-up: every test and every notebook runs in smoke mode, offline.

Before anything imports transformers, point the Hugging Face libraries at a private cache of tiny
models and metrics (built once, reused while it is up to date) and switch off the network. Notebook
kernels (nbmake) and scripts started by tests inherit these variables.
"""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def pytest_configure(config):
    cache = Path(os.environ.get("COURSE_SMOKE_CACHE", ROOT / ".cache" / "smoke"))
    from course_utils.smoke import environment

    os.environ.update(environment(cache))
    os.environ["COURSE_SMOKE_CACHE"] = str(cache)
    # Kernels start in notebooks/: make them import this checkout's course_utils.
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    os.environ.setdefault("MPLBACKEND", "Agg")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: threads only add overhead
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if not hasattr(config, "workerinput"):  # xdist workers inherit the controller's cache
        from course_utils.smoke import build

        build(cache, quiet=True)
