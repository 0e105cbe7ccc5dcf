"""Notebook hygiene: every chapter is valid, stripped, parseable, current, secret-free and well shaped.

(Executing the notebooks is notebook_runner.py's job: `pytest` collects `notebooks/*.ipynb` itself.)
"""

import ast
import re
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "notebooks").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
# What differs between the English chapters (notebooks/) and the Korean ones (notebooks/ko/): the words of the
# title, the summary's and the exercises' headings, and the README that lists them.
EDITIONS = {
    "en": {"title": "# Chapter {number}:", "summary": "## Summary", "try_it": "Try it", "readme": "README.md",
           "folder": "notebooks/"},
    "ko": {"title": "# {number}장:", "summary": "## 정리", "try_it": "직접 해 보기", "readme": "README.ko.md",
           "folder": "notebooks/ko/"},
}


def edition(path: Path) -> dict:
    return EDITIONS["ko" if path.parent.name == "ko" else "en"]


def chapter_id(path: Path) -> str:
    return str(path.relative_to(ROOT / "notebooks"))

REMOVED_APIS = {
    r"\bevaluation_strategy\s*=": "transformers 5 renamed it: use eval_strategy=",
    r"from\s+transformers\s+import\s+[^\n]*\bAdamW\b": "removed from transformers: use torch.optim.AdamW",
    r"\bload_metric\s*\(": "removed from datasets: use evaluate.load",
    r"Trainer\s*\((?:[^()]|\([^()]*\))*\btokenizer\s*=": "Trainer's tokenizer= is now processing_class=",
    r"\bRepository\s*\(|\bHfFolder\b": "removed in huggingface_hub 1.0: use upload_folder / login",
}
TOKEN_PATTERNS = [r"hf_[A-Za-z0-9]{30,}", r"api_org_[A-Za-z0-9]{30,}", r"sk-[A-Za-z0-9]{20,}",
                  r"ghp_[A-Za-z0-9]{30,}", r"AKIA[0-9A-Z]{16}"]
notebook_metadata = load_script(ROOT / "scripts" / "notebook_metadata.py")
HUB_WRITING = re.compile(r"\b(notebook_login|login|push_to_hub|upload_folder|upload_file|create_repo)\s*\(|\binput\s*\(")


def load(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_valid_and_stripped(path):
    nb = load(path)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not dirty, f"{path.name}: cells {dirty} have outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_metadata_is_what_the_kernel_writes(path):
    """Opening a chapter in JupyterLab changes nothing: the kernel would write this same metadata (its Python
    version excepted, which the git filter of `make lab` strips)."""
    expected = notebook_metadata.kernel_metadata()
    assert expected["kernelspec"]["display_name"] == "Python 3 (ipykernel)" and "version" not in expected["language_info"]
    assert load(path).metadata == expected, (
        f"{path.name}: top-level metadata {dict(load(path).metadata)} is not what the kernel writes; "
        "run `python scripts/notebook_metadata.py`")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_code_cells_parse(path):
    transformer = TransformerManager()
    for i, cell in enumerate(code_cells(load(path))):
        source = transformer.transform_cell(cell.source)
        try:
            ast.parse(source)
        except SyntaxError as err:
            pytest.fail(f"{path.name}, code cell {i}: {err}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_no_removed_apis(path):
    for cell in code_cells(load(path)):
        for pattern, why in REMOVED_APIS.items():
            assert not re.search(pattern, cell.source), f"{path.name}: {why}\n{cell.source}"


def test_removed_api_patterns_catch_old_code():
    old = ['TrainingArguments("out", evaluation_strategy="epoch")', "from transformers import AdamW",
           'metric = load_metric("glue", "mrpc")', "Trainer(model, args, tokenizer=tokenizer)",
           "Trainer(model=model, args=args, data_collator=DataCollatorWithPadding(tok), tokenizer=tok)"]
    for source in old:
        assert any(re.search(p, source) for p in REMOVED_APIS), source
    new = ['TrainingArguments("out", eval_strategy="epoch")', "from torch.optim import AdamW",
           "Trainer(model, args, processing_class=tokenizer)", 'AutoTokenizer.from_pretrained(ckpt)']
    for source in new:
        assert not any(re.search(p, source) for p in REMOVED_APIS), source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_no_secrets(path):
    text = path.read_text(encoding="utf-8")
    for pattern in TOKEN_PATTERNS:
        assert not re.search(pattern, text), f"{path.name} holds a token-like string ({pattern})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_hub_writing_and_input_cells_are_skipped_in_ci(path):
    for cell in code_cells(load(path)):
        source = re.sub(r"#.*", "", cell.source)
        if HUB_WRITING.search(source):
            assert "skip-execution" in cell.metadata.get("tags", []), (
                f"{path.name}: this cell talks to the Hub or asks for input; tag it skip-execution:\n{cell.source}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_shape_title_colab_versions_summary(path):
    nb = load(path)
    first, last = nb.cells[0], nb.cells[-1]
    assert first.cell_type == "markdown" and first.source.startswith("# "), f"{path.name} must open with a title"
    assert "colab.research.google.com" in first.source, f"{path.name}: the title cell carries the Colab badge"
    assert last.cell_type == "markdown" and edition(path)["summary"] in last.source, f"{path.name} must end with a summary"
    cells = code_cells(nb)
    install = [c for c in cells if "google.colab" in c.source]  # the Colab install cell
    assert install and all("skip-execution" in c.metadata.get("tags", []) for c in install), (
        f"{path.name}: the Colab install cell must exist and be tagged skip-execution")
    assert any("show_versions()" in c.source for c in cells[:3]), f"{path.name}: a versions cell comes first"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_chapter_number_matches_file_and_readme_lists_it(path):
    number, words = int(path.name.split("_")[0]), edition(path)
    first_cell = load(path).cells[0].source
    title = first_cell.splitlines()[0]
    assert title.startswith(words["title"].format(number=number)), f"{path.name} is titled {title!r}"
    readme = (ROOT / words["readme"]).read_text(encoding="utf-8")
    where = words["folder"] + path.name
    assert f"({where})" in readme, f"the chapter table of {words['readme']} lacks {where}"
    assert f"/blob/main/{where})" in first_cell, f"{where}: the Colab badge points elsewhere"


# --- "Try it": the learner writes the code; the course's answer is hidden, executed, and checked ----------------
# JupyterLab (and Notebook 7) open a cell whose metadata has jupyter.source_hidden collapsed; Colab shows a cell
# whose first line is a `#@title` comment, with cellView "form", as its title only, the code hidden. The test run
# ignores both and runs the cell, so the check after it proves the reference answer right.

def try_it_sections(nb, try_it: str = "Try it") -> list[tuple[str, list]]:
    """(heading, cells) from each markdown heading that says "Try it" (`try_it`) to the next heading."""
    sections, current = [], None
    for cell in nb.cells:
        heading = cell.cell_type == "markdown" and re.match(r"#+ ", cell.source)
        if heading:
            current = (cell.source.splitlines()[0], []) if try_it in cell.source.splitlines()[0] else None
            if current:
                sections.append(current)
        elif current is not None:
            current[1].append(cell)
    return sections


def is_learners_cell(cell) -> bool:
    """An empty cell for the learner's answer: nothing but comments."""
    lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
    return all(line.startswith("#") for line in lines)


def is_hidden_reference(cell) -> bool:
    return (cell.metadata.get("jupyter", {}).get("source_hidden") is True
            and cell.metadata.get("cellView") == "form" and cell.source.startswith("#@title"))


def is_check(cell) -> bool:
    tree = ast.parse(TransformerManager().transform_cell(cell.source))
    return not is_hidden_reference(cell) and any(isinstance(node, ast.Assert) for node in ast.walk(tree))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_try_it_answers_are_hidden_and_followed_by_a_check(path):
    sections = try_it_sections(load(path), edition(path)["try_it"])
    if path.parent.name == "ko":  # the same exercises as the English twin's, found by their translated heading
        assert len(sections) == len(try_it_sections(load(ROOT / "notebooks" / path.name))), path.name
    for heading, cells in sections:
        code = [c for c in cells if c.cell_type == "code"]
        references = [i for i, c in enumerate(code) if is_hidden_reference(c)]
        assert references, f"{path.name}, {heading!r}: no hidden reference answer"
        for i, cell in enumerate(code):
            first = cell.source.splitlines()[0] if cell.source else ""
            if i in references:
                assert i > 0 and is_learners_cell(code[i - 1]), (
                    f"{path.name}, {heading!r}: the reference answer {first!r} needs an empty cell before it, "
                    "comments only, where the learner writes their own")
                assert i + 1 < len(code) and is_check(code[i + 1]), (
                    f"{path.name}, {heading!r}: the reference answer {first!r} must be followed by a check cell "
                    "(one with an assert), so that running the notebook proves the answer right")
            else:
                assert is_learners_cell(cell) or is_check(cell), (
                    f"{path.name}, {heading!r}: this cell is an answer the learner can read before trying: hide it "
                    "(metadata jupyter.source_hidden and cellView 'form', first line '#@title ...'):\n" + cell.source)


def test_the_try_it_rule_catches_a_visible_answer():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Try it\n\nDo it."), nbformat.v4.new_code_cell("answer = 42"),
                nbformat.v4.new_code_cell("assert answer == 42")]
    ((_, cells),) = try_it_sections(nb)
    answer, check = cells
    assert not is_hidden_reference(answer) and not is_learners_cell(answer) and not is_check(answer)
    answer.source = "#@title Reference answer\nanswer = 42"
    answer.metadata.update({"cellView": "form", "jupyter": {"source_hidden": True}})
    assert is_hidden_reference(answer) and is_check(check)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=chapter_id)
def test_relative_links_lead_to_files_of_the_repository(path):
    """A link such as `](../scripts/train_mrpc.py)` resolves from the notebook's own folder (notebooks/ko/ is one
    level deeper than notebooks/)."""
    broken = []
    for cell in load(path).cells:
        if cell.cell_type == "markdown":
            for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", cell.source):
                if not re.match(r"[a-z]+:", target) and not (path.parent / target).exists():
                    broken.append(target)
    assert not broken, f"{chapter_id(path)}: links to files that do not exist from {path.parent.name}/: {broken}"
