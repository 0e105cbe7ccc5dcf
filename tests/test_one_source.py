"""One source for code that a chapter writes out and the course's helpers also hold.

A chapter that teaches a function writes it out in a cell; when `course_utils` holds the same function for
later use, the cell says so on the line above the definition:

    # Also in course_utils.training, as the same code (tests/test_one_source.py compares them).

This test compares every definition in such a cell with the one of the same name in that module: the same
syntax tree, docstrings and type annotations aside (a chapter explains in comments and prose; the package
documents for IDEs). Comments and formatting are not part of a syntax tree. Edit one side and not the other,
and the test fails with the difference.

Why a test, not d2l's `#@save` (which builds the package from the notebooks): `course_utils` holds more
than the chapters write out (the input checks, the checkpoint safety), it must import as it is in CI, on
Colab after `pip install -e` and in an instructor's clone, and a generated module is one that contributors
must know not to edit. A test keeps both files ordinary Python and costs milliseconds.
"""

from __future__ import annotations

import ast
import copy
import difflib
import importlib
import inspect
import re

import pytest
from IPython.core.inputtransformer2 import TransformerManager

from chapter_cells import NOTEBOOKS, chapter, code_cells

MARKER = re.compile(r"^# Also in (course_utils\.\w+), as the same code", re.MULTILINE)

# The chapters that write out a helper's code, and what they must write out (so removing the cells, or the
# marker, fails too).
EXPECTED = {"nsmc_korean": {("course_utils.training", "train_epoch"), ("course_utils.training", "evaluate")}}


def normalized(node: ast.AST) -> ast.AST:
    """The definition without its docstrings and type annotations."""
    node = copy.deepcopy(node)
    for n in ast.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = n.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                n.body = body[1:] or [ast.Pass()]
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n.returns = None
            for arg in [*n.args.posonlyargs, *n.args.args, *n.args.kwonlyargs, n.args.vararg, n.args.kwarg]:
                if arg is not None:
                    arg.annotation = None
    return node


def definitions(source: str) -> dict[str, ast.AST]:
    tree = ast.parse(source)
    return {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def written_out(path) -> list[tuple[str, str, ast.AST]]:
    """(module, name, definition) for every definition in the chapter's marked cells."""
    transformer = TransformerManager()
    found = []
    for source in code_cells(path):
        match = MARKER.search(source)
        if match:
            for name, node in definitions(transformer.transform_cell(source)).items():
                found.append((match[1], name, node))
    return found


def difference(chapter_node: ast.AST, helper_node: ast.AST) -> str:
    """'' when the two are the same code; otherwise a diff of the two, as the test sees them."""
    a, b = normalized(chapter_node), normalized(helper_node)
    if ast.dump(a) == ast.dump(b):
        return ""
    return "\n".join(difflib.unified_diff(ast.unparse(a).splitlines(), ast.unparse(b).splitlines(),
                                          "the chapter's cell", "the helper", lineterm=""))


def helper_definition(module: str, name: str) -> ast.AST:
    source = inspect.getsource(importlib.import_module(module))
    found = definitions(source)
    assert name in found, f"{module} has no top-level {name}, which a chapter says it holds"
    return found[name]


MARKED = [(path.name, module, name, node) for path in sorted(NOTEBOOKS.glob("*.ipynb"))
          for module, name, node in written_out(path)]


@pytest.mark.parametrize("notebook, module, name, node", MARKED, ids=[f"{m[0]}:{m[2]}" for m in MARKED])
def test_a_written_out_definition_is_the_helpers_code(notebook, module, name, node):
    diff = difference(node, helper_definition(module, name))
    assert not diff, (f"{notebook} writes out {name} as the same code as {module}.{name}, but they differ. Change "
                      f"both, or neither:\n{diff}")


@pytest.mark.parametrize("topic", sorted(EXPECTED))
def test_the_chapter_writes_out_the_helpers_it_teaches(topic):
    marked = {(module, name) for module, name, _ in written_out(chapter(topic))}
    missing = EXPECTED[topic] - marked
    assert not missing, (f"{chapter(topic).name} should write out {sorted(missing)} in a cell marked "
                         "'# Also in <module>, as the same code' (see this test's docstring)")


def test_a_changed_line_or_default_is_a_difference_and_a_comment_is_not():
    """The comparison catches drift that matters, and only that."""
    ((_, _, node),) = [m for m in written_out(chapter("nsmc_korean")) if m[1] == "train_epoch"]
    source = ast.unparse(node)
    helper = helper_definition("course_utils.training", "train_epoch")
    assert difference(node, helper) == ""
    for old, new in [("max_grad_norm=1.0", "max_grad_norm=0.5"),
                     ("optimizer.zero_grad()", "pass"),
                     ("total_loss.item() / seen, 'accuracy'", "total_loss.item() / step, 'accuracy'")]:
        assert old in source, old
        changed = definitions(source.replace(old, new))["train_epoch"]
        assert difference(changed, helper), f"changing {old!r} went unnoticed"
    commented = definitions("# a comment\n" + source.replace("model.train()", "model.train()  # training mode"))
    assert difference(commented["train_epoch"], helper) == ""
