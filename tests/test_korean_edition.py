"""The Korean edition (notebooks/ko/) is the English course, translated: the same code, the same cells.

`make test` executes only the English notebooks. These tests are what make that enough for the Korean ones:

- every English chapter has a Korean twin with the same file name, and nothing else sits in notebooks/ko/;
- the twins have the same cells in the same order: same cell ids, same cell types, same tags;
- each pair of code cells has the same Python syntax tree (after IPython turns `!` and `%` lines into Python),
  so comments are free to differ and nothing else is. One exception, named here: docstrings, which a learner
  reads as prose, may be translated. Every other string literal (printed messages, example inputs, labels)
  stays as in the English chapter, so that both editions print and check the same things;
- each pair of markdown cells has the same heading structure (the levels of its headings, in order);
- the Korean markdown and code comments are Korean: a cell or comment written in English sentences fails.

A change to an English chapter that is not mirrored in its twin fails here, with the notebook and the cell.
"""

from __future__ import annotations

import ast
import io
import re
import shutil
import tokenize
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = ROOT / "notebooks"
KOREAN = ENGLISH / "ko"
CHAPTERS = sorted(p.name for p in ENGLISH.glob("*.ipynb"))

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")


# --- what "the same" means -----------------------------------------------------------------------------------

def _python(source: str) -> str:
    return TransformerManager().transform_cell(source)


class _DropDocstrings(ast.NodeTransformer):
    """Blank the docstrings of the module, functions and classes: the one kind of string a translation may change."""

    def _blank(self, node):
        self.generic_visit(node)
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body[0] = ast.Expr(ast.Constant("<docstring>"))
        return node

    visit_Module = visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _blank


def code_tree(source: str) -> str:
    """The cell's syntax tree without comments, layout or docstrings, as a comparable string."""
    return ast.dump(_DropDocstrings().visit(ast.parse(_python(source))))


def heading_levels(markdown: str) -> list[int]:
    """The levels of the markdown headings, in order (lines inside ``` fences are not headings)."""
    levels, fenced = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"(#{1,6}) ", line)):
            levels.append(len(m.group(1)))
    return levels


def _where(name: str, index: int, cell) -> str:
    first = next((line for line in cell.source.splitlines() if line.strip()), "")
    return f"{name}, cell {index} (id {cell.get('id')!r}, English: {first[:70]!r})"


def parity_problems(english: nbformat.NotebookNode, korean: nbformat.NotebookNode, name: str) -> list[str]:
    """Every way the Korean notebook departs from its English twin, each naming the notebook and the cell."""
    problems = []
    en_cells, ko_cells = english.cells, korean.cells
    if [c.get("id") for c in en_cells] != [c.get("id") for c in ko_cells]:
        en_ids, ko_ids = [c.get("id") for c in en_cells], [c.get("id") for c in ko_cells]
        first = next((i for i, (a, b) in enumerate(zip(en_ids, ko_ids)) if a != b), min(len(en_ids), len(ko_ids)))
        at = _where(name, first, en_cells[first]) if first < len(en_cells) else f"{name}, after its last cell"
        return [f"{at}: the cells differ from here on (English ids {en_ids[first:first + 3]}, Korean ids "
                f"{ko_ids[first:first + 3]}; {len(en_ids)} English cells, {len(ko_ids)} Korean): add, remove or "
                "move the same cells in notebooks/ko/" + name]
    for i, (en, ko) in enumerate(zip(en_cells, ko_cells)):
        where = _where(name, i, en)
        if en.cell_type != ko.cell_type:
            problems.append(f"{where}: a {en.cell_type} cell in English, {ko.cell_type} in Korean")
            continue
        en_tags, ko_tags = en.metadata.get("tags", []), ko.metadata.get("tags", [])
        if en_tags != ko_tags:
            problems.append(f"{where}: tags {en_tags} in English, {ko_tags} in Korean")
        if en.cell_type == "code":
            try:
                same = code_tree(en.source) == code_tree(ko.source)
            except SyntaxError as error:
                problems.append(f"{where}: the Korean cell is not valid Python ({error.msg}, line {error.lineno})")
                continue
            if not same:
                problems.append(f"{where}: the code differs from the English cell (only comments and docstrings "
                                "may): copy the English code and translate its comments")
        elif en.cell_type == "markdown" and heading_levels(en.source) != heading_levels(ko.source):
            problems.append(f"{where}: headings {heading_levels(en.source)} in English, "
                            f"{heading_levels(ko.source)} in Korean (same levels, same order)")
    for key in ("kernelspec", "language_info"):
        if english.metadata.get(key) != korean.metadata.get(key):
            problems.append(f"{name}: notebook metadata {key!r} differs from the English notebook's")
    return problems


# --- what "Korean" means -------------------------------------------------------------------------------------

def _prose(markdown: str) -> str:
    """The markdown a reader reads as sentences: without code, URLs, HTML tags and math."""
    text = re.sub(r"```.*?```", " ", markdown, flags=re.DOTALL)
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"\[[^\]]*\]\([^)]*\)", " ", text)  # a link: its text is usually a page's title, a name
    text = re.sub(r"https?://\S+|<[^>]+>|\$[^$]*\$", " ", text)
    text = re.sub(r'"[^"\n]*"|“[^”]*”', " ", text)  # quotations stay in their language
    return text


def english_sentences(text: str) -> bool:
    """Five or more English words with no Hangul between two punctuation marks: a sentence left untranslated."""
    for chunk in re.split(r"[\n.:;!?|()\[\]]", text):
        if not HANGUL.search(chunk) and len(LATIN_WORD.findall(chunk)) >= 5:
            return True
    return False


def comments(source: str) -> list[str]:
    found = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(_python(source)).readline):
            if token.type == tokenize.COMMENT:
                found.append(token.string.lstrip("#").strip())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def language_problems(korean: nbformat.NotebookNode, name: str) -> list[str]:
    problems = []
    for i, cell in enumerate(korean.cells):
        if cell.cell_type == "markdown":
            prose = _prose(cell.source)
            if english_sentences(prose):
                problems.append(f"ko/{name}, cell {i} (id {cell.get('id')!r}): English prose left in the markdown")
        elif cell.cell_type == "code":
            for comment in comments(cell.source):
                if comment.startswith(("noqa", "type:", "pragma")):
                    continue
                if english_sentences(comment):
                    problems.append(f"ko/{name}, cell {i} (id {cell.get('id')!r}): English comment {comment[:60]!r}")
    return problems


# --- the tests ---------------------------------------------------------------------------------------------------

def test_every_english_chapter_has_a_korean_twin_and_nothing_else_is_there():
    korean = sorted(p.name for p in KOREAN.glob("*.ipynb"))
    missing = sorted(set(CHAPTERS) - set(korean))
    extra = sorted(set(korean) - set(CHAPTERS))
    assert not missing, f"notebooks/ko/ lacks the Korean twin of {missing}: translate the English chapter"
    assert not extra, f"notebooks/ko/ holds {extra}, which no English chapter matches (renamed? removed?)"


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_korean_twin_has_the_same_cells_and_code(name):
    english = nbformat.read(ENGLISH / name, as_version=4)
    korean = nbformat.read(KOREAN / name, as_version=4)
    problems = parity_problems(english, korean, name)
    assert not problems, (f"notebooks/ko/{name} no longer mirrors notebooks/{name}: change both together.\n"
                          + "\n".join(problems))


@pytest.mark.parametrize("name", CHAPTERS)
def test_the_korean_twin_is_written_in_korean(name):
    problems = language_problems(nbformat.read(KOREAN / name, as_version=4), name)
    assert not problems, "\n".join(problems)


# --- the checks above catch what they should: on a temporary copy ----------------------------------------------

@pytest.fixture
def pair(tmp_path):
    name = "06_multiple_sequences.ipynb"
    shutil.copy(ENGLISH / name, tmp_path / "en.ipynb")
    shutil.copy(KOREAN / name, tmp_path / "ko.ipynb")
    read = lambda which: nbformat.read(tmp_path / f"{which}.ipynb", as_version=4)  # noqa: E731
    return name, read("en"), read("ko")


def _first_code(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "skip-execution" not in
                c.metadata.get("tags", []) and c.source.strip())


def test_the_copy_starts_in_parity(pair):
    name, english, korean = pair
    assert parity_problems(english, korean, name) == []


def test_a_changed_english_code_cell_is_caught_and_named(pair):
    name, english, korean = pair
    i = _first_code(english)
    english.cells[i].source += "\nprint('one more line')"
    [problem] = parity_problems(english, korean, name)
    assert problem.startswith(f"{name}, cell {i} (id {english.cells[i].id!r}") and "code differs" in problem


def test_a_changed_tag_is_caught_and_named(pair):
    name, english, korean = pair
    i = _first_code(english)
    english.cells[i].metadata.setdefault("tags", []).append("skip-execution")
    [problem] = parity_problems(english, korean, name)
    assert f"cell {i}" in problem and "tags" in problem


def test_a_new_english_cell_is_caught(pair):
    name, english, korean = pair
    english.cells.insert(3, nbformat.v4.new_markdown_cell("A new paragraph.", id="new-cell"))
    [problem] = parity_problems(english, korean, name)
    assert "cell 3" in problem and "new-cell" in problem


def test_a_changed_heading_level_is_caught(pair):
    name, english, korean = pair
    i = next(i for i, c in enumerate(english.cells) if c.cell_type == "markdown" and heading_levels(c.source))
    english.cells[i].source = "#" + english.cells[i].source
    [problem] = parity_problems(english, korean, name)
    assert f"cell {i}" in problem and "headings" in problem


def test_comments_and_docstrings_may_differ_and_nothing_else():
    english = 'def f(x):\n    """Add one."""\n    return x + 1  # one more\nprint("done")'
    assert code_tree(english) == code_tree('def f(x):\n    """하나를 더합니다."""\n    return x + 1  # 하나 더\nprint("done")')
    assert code_tree(english) != code_tree(english.replace('print("done")', 'print("완료")'))
    assert code_tree(english) != code_tree(english.replace("x + 1", "x + 2"))
    assert code_tree("!pip install x\n%time f()") != code_tree("!pip install y\n%time f()")


def test_english_left_in_a_translation_is_caught():
    assert english_sentences(_prose("This cell trains the model for three epochs."))
    assert not english_sentences(_prose('오류 메시지는 "could not find the model in the local cache"입니다.'))
    assert not english_sentences(_prose("이 셀은 모델을 세 에포크 동안 학습합니다(`Trainer.train()`)."))
    assert not english_sentences(_prose("[Hugging Face LLM course](https://huggingface.co/learn/llm-course/chapter3)"))
    assert comments("x = 1  # the learning rate we start from") and english_sentences("the learning rate we start from")


def test_the_korean_folder_holds_only_notebooks_and_its_readme():
    allowed = {p.name for p in KOREAN.glob("*.ipynb")} | {"README.md"}
    stray = sorted(p.name for p in KOREAN.iterdir() if p.name not in allowed)
    assert not stray, f"notebooks/ko/ holds {stray}: only the Korean chapters and README.md belong there"
