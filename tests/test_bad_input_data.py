"""Bad local data: every file a learner can get wrong gives one clear error naming the file, the line and
the fix, or is read correctly when it is harmless (a byte-order mark, a label written 1.0).

Each table row writes a folder of files (a valid copy of the dataset, then the row's own files on top)
and loads it the way a chapter does.
"""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from bad_input import Accepted, Case, Error, cases
from course_utils import data
from course_utils.data import DataError

MRPC = ("nyu-mll/glue", "mrpc")
YELP = ("Yelp/yelp_review_full", None)


def jsonl(*rows) -> str:
    return "".join((row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n" for row in rows)


def pair(label=1, **fields):
    return {"sentence1": "He left .", "sentence2": "He went away .", "label": label, **fields}


GOOD = jsonl(pair(0), pair(1))


def write_copy(root, files, dataset="mrpc"):
    """A valid local copy of `dataset` under root, then `files` ({name: text or bytes}) written over it."""
    folder = root / dataset
    folder.mkdir()
    splits = ("train", "test") if dataset == "yelp_review_full" else ("train", "validation", "test")
    good = jsonl({"label": 0, "text": "bad"}, {"label": 4, "text": "great"}) if dataset == "yelp_review_full" else GOOD
    for split in splits:
        (folder / f"{split}.jsonl").write_text(good, encoding="utf-8")
    for name, content in files.items():
        if name.endswith((".csv", ".parquet", ".json")):
            (folder / f"{name.split('.')[0]}.jsonl").unlink(missing_ok=True)
        name = name.removeprefix("+")  # "+train.csv": added next to the split's .jsonl
        path = folder / name
        if isinstance(content, pd.DataFrame):
            content.to_parquet(path)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def train_rows(ds):
    return ds["train"].to_list()


MRPC_FILES = [
    # missing values
    Case("row-without-sentence2", {"train.jsonl": jsonl(pair(), {"sentence1": "a", "label": 0})},
         Error(DataError, r"train\.jsonl, line 2: the row has no 'sentence2'.*fill it in or delete the row")),
    Case("sentence2-null", {"train.jsonl": jsonl(pair(), pair(sentence2=None))},
         Error(DataError, r"train\.jsonl, line 2: the row has an empty \(null\) 'sentence2'")),
    Case("column-missing-everywhere", {"validation.jsonl": jsonl({"sentence1": "a", "label": 0})},
         Error(DataError, r"validation\.jsonl has columns \['sentence1', 'label'\] but lacks \['sentence2'\]")),
    # labels
    Case("label-minus-one-in-train", {"train.jsonl": jsonl(pair(), pair(-1))},
         Error(DataError, r"train\.jsonl, line 2: label -1 is not a class id 0\.\.1.*hidden label.*only the test split")),
    Case("label-null", {"validation.jsonl": jsonl(pair(), pair(None))},
         Error(DataError, r"validation\.jsonl, line 2: the row has no label\. Labels are integer class ids 0\.\.1 "
                          r"\(0 = not_equivalent, 1 = equivalent\)")),
    Case("label-missing-key", {"train.jsonl": jsonl(pair(), {"sentence1": "a", "sentence2": "b"})},
         Error(DataError, r"line 2: the row has no label")),
    Case("label-is-a-class-name", {"train.jsonl": jsonl(pair("equivalent"))},
         Error(DataError, r"line 1: label 'equivalent' is a class name.*Write 1 instead")),
    Case("label-half", {"train.jsonl": jsonl(pair(), pair(), pair(0.5))},
         Error(DataError, r"line 3: the row has label 0\.5, which is not a whole number")),
    Case("label-true", {"train.jsonl": jsonl(pair(True))},
         Error(DataError, r"line 1: the row has label True, which is not a whole number")),
    Case("label-two", {"train.jsonl": jsonl(pair(), pair(2), pair(3))},
         Error(DataError, r"line 2: label 2 is not a class id 0\.\.1.*2 of 3 rows")),
    Case("label-word", {"train.jsonl": jsonl(pair("yes"))},
         Error(DataError, r"line 1: the row has label 'yes', which is not a whole number")),
    Case("label-written-1.0", {"train.jsonl": jsonl(pair(1.0), pair(0.0))},
         Accepted(lambda ds: ds["train"]["label"] == [1, 0])),
    Case("label-written-as-text-1", {"train.jsonl": jsonl(pair("1"), pair(" 0 "))},
         Accepted(lambda ds: ds["train"]["label"] == [1, 0])),
    Case("label-minus-one-in-test", {"test.jsonl": jsonl(pair(-1), pair(-1))},
         Accepted(lambda ds: ds["test"]["label"] == [-1, -1])),  # hidden test labels, as on the Hub
    # JSON
    Case("json-syntax-error", {"train.jsonl": jsonl(pair(), pair(), '{"sentence1": "a", "sentence2": "b" "label": 1}')},
         Error(DataError, r"train\.jsonl, line 3, column \d+: not valid JSON \(Expecting ',' delimiter\)")),
    Case("json-list-on-a-line", {"train.jsonl": jsonl(["a", "b", 1])},
         Error(DataError, r"line 1: a JSON list, where each line must be one object")),
    Case("blank-lines-between-rows", {"train.jsonl": "\n" + jsonl(pair(0)) + "\n\n" + jsonl(pair(1)) + "\n"},
         Accepted(lambda ds: ds["train"]["label"] == [0, 1])),
    Case("line-separator-inside-a-sentence", {"train.jsonl": jsonl(pair(sentence1="a\u2028b"), pair(0))},
         Accepted(lambda ds: ds["train"]["sentence1"] == ["a\u2028b", "He left ."])),
    Case("json-array-file", {"train.json": json.dumps([pair(0), pair(1)])},
         Accepted(lambda ds: ds["train"]["label"] == [0, 1])),
    Case("json-file-in-json-lines", {"train.json": jsonl(pair(0), pair(1))},  # what Dataset.to_json writes
         Accepted(lambda ds: ds["train"]["label"] == [0, 1])),
    Case("json-file-by-columns", {"train.json": pd.DataFrame([pair(0), pair(1)]).to_json()},  # pandas' default
         Accepted(lambda ds: ds["train"]["label"] == [0, 1])),
    Case("json-array-syntax-error", {"train.json": '[\n{"sentence1": "a",\n "label": 1,\n}\n]'},
         Error(DataError, r"train\.json, line 4, column 1: not valid JSON")),
    # encodings
    Case("utf8-byte-order-mark", {"train.jsonl": b"\xef\xbb\xbf" + GOOD.encode()},
         Accepted(lambda ds: ds["train"]["sentence1"][0] == "He left .")),
    Case("utf16", {"train.jsonl": GOOD.encode("utf-16")},
         Error(DataError, r"train\.jsonl is not UTF-8 text: it looks like UTF-16.*iconv -f UTF-16 -t UTF-8")),
    Case("latin1", {"train.jsonl": jsonl(pair(), pair(sentence1="café")).encode("latin-1")},
         Error(DataError, r"byte 0xe9 on line 2 is not UTF-8.*iconv")),
    # files and splits
    Case("split-as-jsonl-and-csv", {"+train.csv": "sentence1,sentence2,label\na,b,1\n"},
         Error(DataError, r"holds train\.jsonl and train\.csv: the same split twice\. Keep one")),
    Case("empty-file", {"test.jsonl": ""}, Error(DataError, r"test\.jsonl has no rows")),
    Case("only-blank-lines", {"test.jsonl": "\n\n"}, Error(DataError, r"test\.jsonl has no rows")),
    Case("extra-columns", {"train.jsonl": jsonl(pair(source="news", quality=3))},
         Accepted(lambda ds: ds["train"].column_names == ["sentence1", "sentence2", "label", "idx"])),
    Case("idx-not-a-number", {"train.jsonl": jsonl(pair(idx=0), pair(idx="second"))},
         Error(DataError, r"line 2: idx 'second' is not a whole number.*drop the idx column")),
    Case("idx-on-some-rows-only", {"train.jsonl": jsonl(pair(idx=0), pair())},
         Error(DataError, r"line 2: idx None is not a whole number")),
    Case("sentence-is-a-number", {"train.jsonl": jsonl(pair(sentence1=42))},
         Accepted(lambda ds: ds["train"]["sentence1"] == ["42"])),
    Case("sentence-is-a-list", {"train.jsonl": jsonl(pair(sentence1=["a", "b"]))},
         Error(DataError, r"line 1: 'sentence1' is a list \(\['a', 'b'\]\), not a piece of text")),
    # CSV
    Case("csv-good", {"train.csv": "sentence1,sentence2,label,idx\n\"a, b\",c,1,7\n"},
         Accepted(lambda ds: train_rows(ds) == [{"sentence1": "a, b", "sentence2": "c", "label": 1, "idx": 7}])),
    Case("csv-byte-order-mark", {"train.csv": "\ufeffsentence1,sentence2,label\na,b,1\n"},
         Accepted(lambda ds: ds["train"]["label"] == [1])),
    Case("csv-header-only", {"validation.csv": "sentence1,sentence2,label\n"},
         Error(DataError, r"validation\.csv has no rows")),
    Case("csv-unquoted-comma", {"train.csv": "sentence1,sentence2,label\na,b,1\nHello, world,b,0\n"},
         Error(DataError, r"train\.csv, line 3: 4 fields where the header has 3.*double quotes")),
    Case("csv-short-row", {"train.csv": "sentence1,sentence2,label\na,b\n"},
         Error(DataError, r"train\.csv, line 2: 2 fields where the header has 3.*Is the row complete")),
    Case("csv-empty-label", {"train.csv": "sentence1,sentence2,label\na,b,1\nc,d,\n"},
         Error(DataError, r"train\.csv, line 3: the row has no label")),
    Case("csv-label-name", {"train.csv": "sentence1,sentence2,label\na,b,not_equivalent\n"},
         Error(DataError, r"train\.csv, line 2: label 'not_equivalent' is a class name.*Write 0")),
    Case("csv-line-numbers-count-quoted-newlines", {"train.csv": 'sentence1,sentence2,label\n"a\nb",c,1\nd,e,5\n'},
         Error(DataError, r"train\.csv, line 4: label 5 is not a class id")),
    Case("csv-semicolons", {"train.csv": "sentence1;sentence2;label\na;b;1\n"},
         Error(DataError, r"lacks \['sentence1', 'sentence2', 'label'\].*other than commas")),
    Case("csv-column-named-twice", {"train.csv": "sentence1,sentence1,label\na,b,1\n"},
         Error(DataError, r"header .* names a column twice")),
    Case("csv-empty-sentence", {"train.csv": "sentence1,sentence2,label\na,,1\n"},  # an empty text is data
         Accepted(lambda ds: ds["train"]["sentence2"] == [""])),
    # Parquet
    Case("parquet-good-with-float-labels", {"train.parquet": pd.DataFrame([pair(1.0), pair(0.0)])},
         Accepted(lambda ds: ds["train"]["label"] == [1, 0])),
    Case("parquet-null-sentence", {"train.parquet": pd.DataFrame([pair(), pair(sentence2=None)])},
         Error(DataError, r"train\.parquet, row 2: the row has an empty \(null\) 'sentence2'")),
    Case("parquet-nan-label", {"train.parquet": pd.DataFrame([pair(1.0), pair(float("nan"))])},
         Error(DataError, r"train\.parquet, row 2: the row has no label")),
    Case("not-really-parquet", {"train.parquet": b"sentence1,sentence2,label\n"},
         Error(DataError, r"train\.parquet cannot be read as Parquet")),
]


@pytest.mark.parametrize("case", **cases(MRPC_FILES))
def test_local_mrpc_files(case, tmp_path):
    root = write_copy(tmp_path, case.input)
    case.outcome.check(lambda: data.load_course_dataset(*MRPC, data_dir=root))


YELP_FILES = [
    Case("stars-1-to-5", {"train.jsonl": jsonl({"label": 1, "text": "bad"}, {"label": 5, "text": "great"})},
         Error(DataError, r"train\.jsonl: labels run from 1 to 5, but labels must be 0\.\.4 "
                          r"\('1 star' is 0, '5 stars' is 4\): subtract 1")),
    Case("one-label-too-high", {"test.jsonl": jsonl({"label": 0, "text": "bad"}, {"label": 5, "text": "great"})},
         Error(DataError, r"test\.jsonl, line 2: label 5 is not a class id 0\.\.4")),
    Case("star-names", {"train.jsonl": jsonl({"label": "5 stars", "text": "great"})},
         Error(DataError, r"label '5 stars' is a class name.*Write 4 instead")),
    Case("labels-0-to-4", {}, Accepted(lambda ds: ds["train"]["label"] == [0, 4])),
]


@pytest.mark.parametrize("case", **cases(YELP_FILES))
def test_local_yelp_files(case, tmp_path):
    root = write_copy(tmp_path, case.input, dataset="yelp_review_full")
    case.outcome.check(lambda: data.load_course_dataset(*YELP, data_dir=root))


def _pointed_inside(tmp_path):
    write_copy(tmp_path, {})
    return tmp_path / "mrpc"  # the dataset's own folder instead of the folder above it


DATA_DIRS = [
    Case("data-dir-is-the-dataset-folder", _pointed_inside,
         Error(FileNotFoundError, r"No folder .*mrpc/mrpc\..*holds split files: point the data dir at the folder "
                                  r"\*above\* it")),
    Case("data-dir-missing", lambda tmp_path: tmp_path / "nowhere",
         Error(FileNotFoundError, r"No folder .*nowhere/mrpc.*README")),
]


@pytest.mark.parametrize("case", **cases(DATA_DIRS))
def test_local_data_dirs(case, tmp_path):
    root = case.input(tmp_path)
    case.outcome.check(lambda: data.load_course_dataset(*MRPC, data_dir=root))


# --- NSMC files ---------------------------------------------------------------------------------

HEADER = "id\tdocument\tlabel\n"
ROWS = "1\t재밌어요\t1\n2\t별로\t0\n"

NSMC_FILES = [
    Case("cp949", (HEADER + ROWS).encode("cp949"),
         Error(DataError, r"ratings_train\.txt is not UTF-8 text: it looks like CP949.*iconv -f CP949 -t UTF-8")),
    Case("euc-kr", (HEADER + ROWS).encode("euc-kr"), Error(DataError, r"looks like CP949")),
    Case("utf16", (HEADER + ROWS).encode("utf-16"), Error(DataError, r"looks like UTF-16.*iconv -f UTF-16")),
    Case("utf16-without-bom", (HEADER + ROWS).encode("utf-16-le"), Error(DataError, r"looks like UTF-16")),
    Case("utf8-byte-order-mark", ("\ufeff" + HEADER + ROWS).encode(),
         Accepted(lambda frame: list(frame.columns) == data.NSMC_COLUMNS and list(frame["label"]) == [1, 0])),
    Case("windows-line-ends", (HEADER + ROWS).replace("\n", "\r\n").encode(),
         Accepted(lambda frame: list(frame["label"]) == [1, 0] and frame["document"][1] == "별로")),
    Case("header-and-no-rows", HEADER.encode(), Error(DataError, r"has the header but no reviews.*Copy the file again")),
    Case("empty-file", b"", Error(DataError, r"ratings_train\.txt is empty.*copy the file again")),
    Case("tab-inside-a-review", (HEADER + "1\t재밌\t어요\t1\n").encode(),
         Error(DataError, r"line 2 has 4 tab-separated fields, where the header has 3")),
    Case("tab-inside-a-later-review", (HEADER + "1\t좋아\t1\n2\t재밌\t어요\t1\n").encode(),
         Error(DataError, r"line 3 has 4 tab-separated fields, where the header has 3")),
    Case("row-without-label", (HEADER + "1\t좋아\t1\n2\t별로\n").encode(),
         Error(DataError, r"line 3, data row 2: label '' is not 0 or 1 \(the row has no label field\)")),
    Case("label-word-after-a-blank-line", (HEADER + "1\t좋아\t1\n\n2\t별로\tpositive\n").encode(),
         Error(DataError, r"line 4, data row 2: label 'positive' is not 0 or 1")),
    Case("comma-separated", "id,document,label\n1,좋아,1\n".encode(),
         Error(DataError, r"has columns \['id,document,label'\]; an NSMC file starts with the header")),
]


def _nsmc_folder_itself(tmp_path):
    shutil.copytree(data.FIXTURES / "nsmc", tmp_path / "nsmc")
    return tmp_path / "nsmc"  # the folder that holds the files, instead of the one above it


NSMC_DATA_DIRS = [
    Case("data-dir-is-the-nsmc-folder", _nsmc_folder_itself,
         Error(FileNotFoundError, r"nsmc/nsmc lacks \['ratings_train\.txt', 'ratings_test\.txt'\].*point data_dir at "
                                  r"the folder \*above\* it")),
    Case("data-dir-above-it", lambda tmp_path: _nsmc_folder_itself(tmp_path).parent,
         Accepted(lambda nsmc: set(nsmc) == {"train", "test"} and len(nsmc["train"]) > 0)),
]


@pytest.mark.parametrize("case", **cases(NSMC_DATA_DIRS))
def test_nsmc_data_dirs(case, tmp_path):
    folder = case.input(tmp_path)
    case.outcome.check(lambda: data.load_nsmc(data_dir=folder))


@pytest.mark.parametrize("case", **cases(NSMC_FILES))
def test_nsmc_files(case, tmp_path):
    path = tmp_path / "ratings_train.txt"
    path.write_bytes(case.input)
    case.outcome.check(lambda: data.read_nsmc_file(path))


# --- seeded_subset ------------------------------------------------------------------------------

FRAME = pd.DataFrame({"x": range(10)})

SUBSET_ARGS = [
    Case("numpy-size-and-seed", (FRAME, np.int64(3), np.int32(5)),
         Accepted(lambda part: part.equals(data.seeded_subset(FRAME, 3, 5)))),
    Case("torch-size", (FRAME, torch.tensor(4), 42), Accepted(lambda part: len(part) == 4)),
    Case("size-as-float", (FRAME, 3.0, 42), Error(ValueError, r"size must be a non-negative integer, got 3\.0")),
    Case("size-true", (FRAME, True, 42), Error(ValueError, r"size must be a non-negative integer, got True")),
    Case("seed-negative", (FRAME, 3, -1), Error(ValueError, r"seed must be a non-negative integer, got -1")),
    Case("seed-as-text", (FRAME, 3, "42"), Error(ValueError, r"seed must be a non-negative integer, got '42'")),
    Case("all-splits-at-once", ({"train": FRAME, "test": FRAME}, 3, 42),
         Error(TypeError, r"takes one split, not all of them \(\['train', 'test'\]\).*data\['train'\]")),
    Case("a-list", (list(range(10)), 3, 42), Error(TypeError, r"takes a datasets\.Dataset or a pandas DataFrame, not a list")),
]


@pytest.mark.parametrize("case", **cases(SUBSET_ARGS))
def test_seeded_subset_arguments(case):
    case.outcome.check(lambda: data.seeded_subset(*case.input))
