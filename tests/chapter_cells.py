"""Run a chapter's own code cells inside the test process, to check what they build.

The notebooks are executed whole, in a kernel, by `notebook_runner.py` and by `test_chapters_in_mixed_precision.py`.
Some properties are easier to see from inside: the batches a chapter's dataloaders produce "as on a
TPU", or what a check cell does when a line of the chapter is changed. `run_cells` executes the
chapter's code cells in order (IPython magics translated, `skip-execution` cells skipped) in a
namespace this process can inspect, and stops before the first cell that contains `stop_before`.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from IPython.core.inputtransformer2 import TransformerManager

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def chapter(topic: str) -> Path:
    """The notebook `NN_<topic>.ipynb` (e.g. "trainer" or "training_loop"), whatever its number."""
    found = sorted(NOTEBOOKS.glob(f"[0-9][0-9]_{topic}.ipynb"))
    assert len(found) == 1, f"expected one notebook named NN_{topic}.ipynb, found {found}"
    return found[0]


def code_cells(path: Path) -> list[str]:
    return [source for source, _ in _code_cells_and_tags(path)]


def _code_cells_and_tags(path: Path) -> list[tuple[str, list[str]]]:
    nb = nbformat.read(path, as_version=4)
    return [(c.source, c.metadata.get("tags", [])) for c in nb.cells
            if c.cell_type == "code" and "skip-execution" not in c.metadata.get("tags", [])]


def run_cells(path: Path, stop_before: str | None, also: tuple[str, ...] = (), replace: dict[str, str] | None = None,
              namespace: dict | None = None) -> dict:
    """Execute the code cells of `path` up to (not including) the first one containing `stop_before`
    (all of them when it is None), then the later cells that contain one of the strings in `also`, in order.
    A cell tagged `raises-exception` may raise, as in a notebook run.

    `replace` maps a line of the chapter to another, to try a variant of it; each must be found.
    Returns the namespace the cells ran in. An exception raised by a cell carries a note with the
    first line of that cell (`failed_cell(err)`), so a test can tell which check failed.
    """
    cells = _code_cells_and_tags(path)
    may_raise = {source for source, tags in cells if "raises-exception" in tags}
    sources = [source for source, _ in cells]
    stop = len(sources) if stop_before is None else next((i for i, s in enumerate(sources) if stop_before in s), None)
    if stop is None:
        raise LookupError(f"{path.name}: no code cell contains {stop_before!r}")
    later = [s for s in sources[stop:] if any(marker in s for marker in also)]
    if len(later) != len(also):
        raise LookupError(f"{path.name}: cells for {also} after {stop_before!r}: found {len(later)}")
    sources = sources[:stop] + later
    for old, new in (replace or {}).items():
        hits = [i for i, s in enumerate(sources) if old in s]
        if not hits:
            raise LookupError(f"{path.name}: no cell before {stop_before!r} contains {old!r}")
        for i in hits:
            sources[i] = sources[i].replace(old, new)
    namespace = {"__name__": "__chapter__"} if namespace is None else namespace
    transformer = TransformerManager()
    for i, source in enumerate(sources):
        code = compile(transformer.transform_cell(source), f"<{path.name} cell {i}>", "exec")
        try:
            exec(code, namespace)  # noqa: S102 - the course's own notebook
        except Exception as err:
            if source in may_raise:
                continue
            err.add_note(f"{CELL_NOTE}{source.splitlines()[0]}")
            raise
    return namespace


CELL_NOTE = "raised by the chapter cell starting: "


def failed_cell(err: BaseException) -> str:
    """The first line of the chapter cell that raised `err` (see run_cells)."""
    notes = [n for n in getattr(err, "__notes__", []) if n.startswith(CELL_NOTE)]
    return notes[-1][len(CELL_NOTE):] if notes else ""
