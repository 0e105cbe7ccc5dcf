"""No unexplained warnings: a chapter that prints transformers' load report explains it before the cell that
first prints it (what UNEXPECTED and MISSING mean there), and chapter 12 quiets its repeats with the library's
own switch, `transformers.logging.set_verbosity_error()`."""

import logging

import nbformat
import pytest
import transformers
from transformers import AutoModelForSequenceClassification, BertModel

from chapter_cells import chapter

CKPT = "google-bert/bert-base-uncased"  # the smoke cache's stand-in: saved with a masked-LM head, like the real one

# The code that first prints a load report in each chapter (a body without the pretraining head, or a new head).
FIRST_LOAD = {
    "models": "model = AutoModel.from_pretrained(checkpoint)",
    "trainer": "AutoModelForSequenceClassification.from_pretrained(",
    "training_loop": "AutoModelForSequenceClassification.from_pretrained(",
    "accelerate": "notebook_launcher(training_function",
    "yelp_reviews": "AutoModelForSequenceClassification.from_pretrained(",
    "nsmc_korean": "BertModel.from_pretrained(checkpoint)",
    "sharing_models": "AutoModelForSequenceClassification.from_pretrained(",
}


def _cells(topic):
    return nbformat.read(chapter(topic), as_version=4).cells


def _first_code_cell(cells, marker):
    return next(i for i, c in enumerate(cells) if c.cell_type == "code" and marker in c.source)


@pytest.mark.parametrize("topic", FIRST_LOAD)
def test_the_load_report_is_explained_before_it_first_appears(topic):
    cells = _cells(topic)
    first = _first_code_cell(cells, FIRST_LOAD[topic])
    before = "\n".join(c.source for c in cells[:first] if c.cell_type == "markdown")
    assert "load report" in before, f"{topic}: say what the load report is before {FIRST_LOAD[topic]!r}"
    assert "`UNEXPECTED`" in before and "`MISSING`" in before, f"{topic}: say what UNEXPECTED and MISSING mean"


def test_chapter_12_quiets_the_repeated_reports_with_the_librarys_switch():
    cells = _cells("nsmc_korean")
    switch = _first_code_cell(cells, "transformers.logging.set_verbosity_error()")
    assert _first_code_cell(cells, FIRST_LOAD["nsmc_korean"]) < switch, "the first report is shown, then quieted"
    assert switch <= _first_code_cell(cells, "BertClassifier(checkpoint)"), "quiet before the repeats"
    assert "set_verbosity_error()" in cells[switch - 1].source, "a sentence says so, above the switch"


@pytest.fixture
def transformers_log():
    """The records transformers logs, at the verbosity a learner has (warnings), restored afterwards."""
    records, handler = [], logging.Handler()
    handler.emit = records.append
    root = logging.getLogger("transformers")
    before = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_warning()
    root.addHandler(handler)
    yield records
    root.removeHandler(handler)
    transformers.logging.set_verbosity(before)


def _reports(records):
    return [r.getMessage() for r in records if "LOAD REPORT" in r.getMessage()]


def test_what_the_chapters_say_about_the_report_is_what_it_says(transformers_log):
    BertModel.from_pretrained(CKPT)  # chapters 4 and 12: the body without its pretraining head
    AutoModelForSequenceClassification.from_pretrained(CKPT, num_labels=2)  # chapters 8 to 11 and 13: a new head
    body, new_head = _reports(transformers_log)
    assert "cls.predictions" in body and "UNEXPECTED" in body
    assert "classifier.weight" in new_head and "MISSING" in new_head and "UNEXPECTED" in new_head

    transformers.logging.set_verbosity_error()  # chapter 12's switch
    BertModel.from_pretrained(CKPT)
    assert len(_reports(transformers_log)) == 2, "set_verbosity_error() keeps the report out"


def test_the_trainers_dataloaders_pin_memory_only_on_a_gpu():
    """Pinned memory only speeds copies to a GPU; without one, PyTorch warns that it cannot pin (chapters 8, 11, 13)."""
    follows = 'dataloader_pin_memory=env.device_kind() == "cuda"'
    for path in sorted(chapter("trainer").parent.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and "TrainingArguments(" in cell.source:
                assert cell.source.count(follows) == cell.source.count("TrainingArguments("), (path.name, cell.id)
