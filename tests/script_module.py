"""Load one of the repository's files that are not a package (scripts/, benchmarks/, colab/, tests/) as a module,
to test its functions."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def load_script(path: Path, name: str | None = None, register: bool = False):
    """The file at `path`, executed as a fresh module called `name` (default: its stem). `register` puts it in
    sys.modules first, for code that looks its own module up (dataclasses do)."""
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
