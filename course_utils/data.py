"""The course's datasets: the real Hub / Korpora loaders, a local-folder mode, and the tiny CI fixtures.

Where the data comes from, checked in this order:
1. `data_dir=` or the COURSE_DATA_DIR environment variable: your own copies, one subfolder per dataset
   (layout in the README: `mrpc/train.jsonl`, `nsmc/ratings_train.txt`, ...). No network.
2. smoke mode (COURSE_SMOKE=1, set by the test run): the tiny fixtures shipped in this package.
3. otherwise the real thing: `datasets.load_dataset(path, name)` or `Korpora`.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import numbers
import operator
import os
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import datasets
import pandas as pd

from .environment import check_hub_access, is_smoke, unreachable_reason

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@dataclass(frozen=True)
class DatasetSpec:
    folder: str  # subfolder in a local data dir
    splits: tuple[str, ...]
    features: datasets.Features


_MRPC = DatasetSpec("mrpc", ("train", "validation", "test"), datasets.Features({
    "sentence1": datasets.Value("string"),
    "sentence2": datasets.Value("string"),
    "label": datasets.ClassLabel(names=["not_equivalent", "equivalent"]),
    "idx": datasets.Value("int32"),
}))
_SST2 = DatasetSpec("sst2", ("train", "validation", "test"), datasets.Features({
    "sentence": datasets.Value("string"),
    "label": datasets.ClassLabel(names=["negative", "positive"]),
    "idx": datasets.Value("int32"),
}))
_YELP = DatasetSpec("yelp_review_full", ("train", "test"), datasets.Features({
    "label": datasets.ClassLabel(names=["1 star", "2 star", "3 stars", "4 stars", "5 stars"]),
    "text": datasets.Value("string"),
}))

# (Hub path, config) -> spec. The keys are exactly what you would pass to `load_dataset`.
DATASETS: dict[tuple[str, str | None], DatasetSpec] = {
    ("nyu-mll/glue", "mrpc"): _MRPC,
    ("nyu-mll/glue", "sst2"): _SST2,
    ("Yelp/yelp_review_full", None): _YELP,
}

_READERS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


def _local_data_dir(data_dir: str | os.PathLike | None) -> Path | None:
    chosen = data_dir or os.environ.get("COURSE_DATA_DIR")
    return Path(chosen).expanduser() if chosen else None


def load_course_dataset(path: str, name: str | None = None, data_dir: str | os.PathLike | None = None
                        ) -> datasets.DatasetDict:
    """`datasets.load_dataset(path, name)` for the course's datasets, offline when it can be.

    In full mode this *is* `load_dataset(path, name)`. With a local data folder or in smoke mode it
    returns a DatasetDict with the same splits, columns, features and label names.
    """
    spec = DATASETS.get((path, name))
    if spec is None:
        known = ", ".join(f"({p!r}, {c!r})" for p, c in DATASETS)
        raise ValueError(f"Unknown dataset {path!r} with config {name!r}. The course knows: {known}. "
                         "For any other dataset call datasets.load_dataset directly.")
    local = _local_data_dir(data_dir)
    if local is not None:
        return _load_folder(local / spec.folder, spec)
    if is_smoke():
        return _load_folder(FIXTURES / spec.folder, spec)
    check_hub_access()
    return datasets.load_dataset(path, name)


class DataError(ValueError):
    """A data file the course cannot use as it is. The message names the file, the line and the fix."""


def _load_folder(folder: Path, spec: DatasetSpec) -> datasets.DatasetDict:
    layout = ", ".join(f"{folder.name}/{s}.jsonl" for s in spec.splits)
    if not folder.is_dir():
        hint = ""
        if any((folder.parent / f"{s}{ext}").is_file() for s in spec.splits for ext in _READERS):
            hint = (f" {folder.parent} itself holds split files: point the data dir at the folder *above* it, "
                    f"the one that holds {folder.name}/.")
        raise FileNotFoundError(f"No folder {folder}. A local copy of this dataset needs {layout} "
                                f"(.csv or .parquet also work); see 'Your own copy of the data' in the README."
                                + hint)
    splits = {}
    for split in spec.splits:
        files = [folder / f"{split}{ext}" for ext in _READERS if (folder / f"{split}{ext}").is_file()]
        if not files:
            raise FileNotFoundError(f"Missing split {split!r}: no {split}.jsonl, .csv or .parquet in {folder}. "
                                    f"Expected files: {layout}.")
        if len(files) > 1:
            names = " and ".join(f.name for f in files)
            raise DataError(f"{folder} holds {names}: the same split twice. Keep one of them and move the "
                            "other out of the folder, so that it is clear which data you train on.")
        splits[split] = _read_split(files[0], spec.features, split)
    return datasets.DatasetDict(splits)


_MISSING = object()  # a row without this key (JSON) or field (CSV)


def _read_split(file: Path, features: datasets.Features, split: str = "train") -> datasets.Dataset:
    """Read one local split file and check every row before building the Dataset.

    Problems are reported as the file, the line (or row) and what to do, instead of an Arrow error
    from the middle of `cast`: a missing sentence, a label that is not a class id, a broken line.
    """
    columns, where = _read_columns(file)
    expected = list(features)
    label = features["label"]
    size = len(next(iter(columns.values()), []))
    if size == 0:
        raise DataError(f"{file} has no rows. Each split needs at least one example.")
    missing = [c for c in expected if c not in columns and c != "idx"]
    if missing:
        hint = ""
        if len(columns) == 1 and any(sep in next(iter(columns)) for sep in ";\t|"):
            hint = " The header is one column: is the file separated by something other than commas?"
        raise DataError(f"{file} has columns {list(columns)} but lacks {missing}. "
                        f"Each row needs {expected} (idx is optional), with label as an integer "
                        f"0..{label.num_classes - 1} ({label.names})." + hint)
    table = {}
    for name in features:
        if name == "label":
            table[name] = _check_labels(columns[name], label, file, where, split)
        elif name == "idx":
            table[name] = (_check_ids(columns[name], file, where) if name in columns else list(range(size)))
        else:
            table[name] = [_check_text(value, name, expected, file, where, i)
                           for i, value in enumerate(columns[name])]
    return datasets.Dataset.from_dict(table, features=features)


def _check_text(value, column: str, expected: list, file: Path, where, i: int) -> str:
    if isinstance(value, str):
        return value
    if value is _MISSING or value is None or (isinstance(value, float) and math.isnan(value)):
        what = "has no" if value is _MISSING else "has an empty (null)"
        raise DataError(f"{file}, {where(i)}: the row {what} {column!r}. Every row needs a value for each of "
                        f"{[c for c in expected if c != 'idx']}: fill it in or delete the row.")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # a number where text was expected (e.g. a review that is just "10"): harmless
    raise DataError(f"{file}, {where(i)}: {column!r} is a {type(value).__name__} ({value!r:.60}), "
                    "not a piece of text.")


def _as_int(value):
    """An integer from an int, an integral float, or a string of digits (CSV); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
        return int(value)
    return None


def _check_labels(values: list, feature: datasets.ClassLabel, file: Path, where, split: str) -> list[int]:
    k = feature.num_classes
    ids = "0.." + str(k - 1) + " (" + ", ".join(f"{i} = {n}" for i, n in enumerate(feature.names)) + ")"
    labels = []
    for i, value in enumerate(values):
        label = _as_int(value)
        if label is not None:
            labels.append(label)
            continue
        if value is _MISSING or value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            problem = "has no label"
        elif isinstance(value, str) and value.strip().lower() in [n.lower() for n in feature.names]:
            name = value.strip().lower()
            number = [n.lower() for n in feature.names].index(name)
            raise DataError(f"{file}, {where(i)}: label {value!r} is a class name; labels are class ids "
                            f"{ids}. Write {number} instead (map every name to its id).")
        else:
            problem = f"has label {value!r}, which is not a whole number"
        raise DataError(f"{file}, {where(i)}: the row {problem}. Labels are integer class ids {ids}"
                        + (", or -1 for a hidden test label." if split == "test" else "."))
    allowed_hidden = split == "test"  # the Hub's GLUE test splits hide their labels as -1
    bad = [i for i, label in enumerate(labels) if not (0 <= label < k or (allowed_hidden and label == -1))]
    if bad:
        if set(labels) <= set(range(1, k + 1)) and k in labels:
            raise DataError(f"{file}: labels run from {min(labels)} to {k}, but labels must be 0..{k - 1} "
                            f"({feature.names[0]!r} is 0, {feature.names[-1]!r} is {k - 1}): subtract 1 "
                            "from every label.")
        i = bad[0]
        hint = (" -1 marks a hidden label (a GLUE test split): only the test split may have it."
                if labels[i] == -1 else "")
        raise DataError(f"{file}, {where(i)}: label {labels[i]} is not a class id {ids}.{hint} "
                        f"{len(bad)} of {len(labels)} rows in this file have such labels.")
    return labels


def _check_ids(values: list, file: Path, where) -> list[int]:
    ids = []
    for i, value in enumerate(values):
        number = _as_int(value)
        if number is None:
            raise DataError(f"{file}, {where(i)}: idx {None if value is _MISSING else value!r} is not a whole "
                            "number. Give every row an integer idx, or drop the idx column (it is optional).")
        ids.append(number)
    return ids


def _read_columns(file: Path) -> tuple[dict[str, list], Callable[[int], str]]:
    """{column: values} from a .jsonl, .json, .csv or .parquet file, and where(i): the i-th row's place."""
    if file.suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(file)
        except Exception as err:  # pyarrow raises several kinds; all mean the same thing here
            raise DataError(f"{file} cannot be read as Parquet ({err}). Is it really a .parquet file? "
                            "Write it again with DataFrame.to_parquet or Dataset.to_parquet.") from None
        return table.to_pydict(), lambda i: f"row {i + 1}"
    text = _decode(file)
    if file.suffix == ".csv":
        return _csv_columns(text, file)
    if file.suffix == ".json" and text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{file}, line {err.lineno}, column {err.colno}: not valid JSON ({err.msg}).") from None
        if not all(isinstance(row, dict) for row in rows):
            raise DataError(f"{file} holds a JSON list, but not of objects: each example must be an object "
                            '{"column": value, ...}.')
        return _rows_to_columns(rows), lambda i: f"record {i + 1}"
    rows, lines = _json_lines(text, file)
    if file.suffix == ".json" and len(rows) == 1 and rows[0] and all(
            isinstance(v, (dict, list)) for v in rows[0].values()):
        columns = {k: list(v.values()) if isinstance(v, dict) else v for k, v in rows[0].items()}  # {col: {row: v}}
        if len({len(v) for v in columns.values()}) == 1:
            return columns, lambda i: f"row {i + 1}"
    return _rows_to_columns(rows), lambda i: f"line {lines[i]}"


def _json_lines(text: str, file: Path) -> tuple[list[dict], list[int]]:
    rows, lines = [], []
    for number, line in enumerate(text.split("\n"), 1):  # not splitlines(): JSON strings may hold U+2028
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{file}, line {number}, column {err.colno}: not valid JSON ({err.msg}). Each line "
                            'of a JSON Lines file is one complete object, e.g. {"sentence": "...", "label": 1}.'
                            ) from None
        if not isinstance(row, dict):
            raise DataError(f"{file}, line {number}: a JSON {type(row).__name__}, where each line must be one "
                            'object {"column": value, ...}.')
        rows.append(row)
        lines.append(number)
    return rows, lines


def _rows_to_columns(rows: list[dict]) -> dict[str, list]:
    names = list(dict.fromkeys(key for row in rows for key in row))
    return {name: [row.get(name, _MISSING) for row in rows] for name in names}


def _csv_columns(text: str, file: Path) -> tuple[dict[str, list], Callable[[int], str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        if len(set(header)) != len(header):
            raise DataError(f"{file}: the header {header} names a column twice. Give each column one name.")
        columns, lines, last = {name: [] for name in header}, [], reader.line_num
        for fields in reader:
            start, last = last + 1, reader.line_num
            if not fields:
                continue  # a blank line
            if len(fields) != len(header):
                more = len(fields) > len(header)
                raise DataError(
                    f"{file}, line {start}: {len(fields)} fields where the header has {len(header)} ({header}). "
                    + ("Put text that contains commas in double quotes, e.g. \"Hello, world\"."
                       if more else "Is the row complete?"))
            for name, value in zip(header, fields):
                columns[name].append(value)
            lines.append(start)
    except csv.Error as err:
        raise DataError(f"{file}, line {reader.line_num}: not readable as CSV ({err}).") from None
    return columns, lambda i: f"line {lines[i]}"


def _looks_utf16(head: bytes) -> bool:
    return head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\x00" in head


def _decode(file: Path) -> str:
    """The file's text, if it is UTF-8 (a byte-order mark is fine); else a DataError saying how to convert it."""
    raw = file.read_bytes()
    quoted = shlex.quote(str(file))
    if _looks_utf16(raw[:4096]):
        raise DataError(f"{file} is not UTF-8 text: it looks like UTF-16 (what Excel's 'Unicode Text' and "
                        f"Windows PowerShell write) or a binary file. Save it as UTF-8, e.g. "
                        f"`iconv -f UTF-16 -t UTF-8 {quoted} > utf8.tmp && mv utf8.tmp {quoted}`.")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        try:
            korean = any("\uac00" <= ch <= "\ud7a3" for ch in raw.decode("cp949"))
        except UnicodeDecodeError:
            korean = False
        line = raw[:err.start].count(b"\n") + 1
        guess = ("it looks like CP949 (EUC-KR), the Korean Windows encoding" if korean else
                 f"byte 0x{raw[err.start]:02x} on line {line} is not UTF-8")
        raise DataError(f"{file} is not UTF-8 text: {guess}. Convert it once, e.g. "
                        f"`iconv -f {'CP949' if korean else 'ITS_ENCODING'} -t UTF-8 {quoted} > utf8.tmp && "
                        f"mv utf8.tmp {quoted}`.") from None


# --- NSMC (Naver Sentiment Movie Corpus) through Korpora --------------------------------------

NSMC_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}
NSMC_COLUMNS = ["id", "document", "label"]


def read_nsmc_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read one NSMC file (`id<TAB>document<TAB>label`): every row, each review as its writer typed it.

    What a default `pd.read_csv(path, sep="\\t")` gets wrong on the real files (it does return every row):
    - every review that contains a quote (623 in the training file, 233 in the test file) is stored with
      two levels of CSV quoting, and the default reader removes only one of them. Here the file is read
      with no quote handling at all (QUOTE_NONE), and `unquote_nsmc` removes both levels;
    - empty reviews (5 and 3) become NaN, a float the tokenizer rejects; here they stay "" (keep_default_na=False).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No NSMC file at {path}.")
    with open(path, "rb") as f:
        if _looks_utf16(f.read(4096)):
            _decode(path)  # raises the error that says how to convert the file
    try:
        frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False,
                            dtype={"id": str, "document": str, "label": str}, encoding="utf-8")
    except UnicodeDecodeError:
        _decode(path)  # raises the error that names the encoding
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path} is empty. An NSMC file starts with the header 'id<TAB>document<TAB>label', "
                        "then one review per line: copy the file again.") from None
    except pd.errors.ParserError as err:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
        where = (f"line {found[2]} has {found[3]} tab-separated fields, where the header has {found[1]}"
                 if found else str(err))
        raise DataError(f"{path}: {where}. An NSMC row is id<TAB>document<TAB>label, with no tab inside the "
                        "review: is the file complete and unchanged?") from None
    if not isinstance(frame.index, pd.RangeIndex):  # the first row had more fields: pandas made one an index
        raise DataError(f"{path}: line {_nsmc_line(path, 0)} has {len(frame.columns) + frame.index.nlevels} "
                        f"tab-separated fields, where the header has {len(frame.columns)}. An NSMC row is "
                        "id<TAB>document<TAB>label, with no tab inside the review: is the file complete and unchanged?")
    if list(frame.columns) != NSMC_COLUMNS:
        raise DataError(f"{path} has columns {list(frame.columns)}; an NSMC file starts with the header "
                        "'id<TAB>document<TAB>label'.")
    if frame.empty:
        raise DataError(f"{path} has the header but no reviews. Was the download cut short? Copy the file again.")
    bad = ~frame["label"].isin(["0", "1"])
    if bad.any():
        row = frame[bad].index[0]
        label = frame["label"][row]
        raise DataError(f"{path}, line {_nsmc_line(path, row)}, data row {row + 1}: label {label!r} is not 0 or 1"
                        + (" (the row has no label field)" if label == "" else "")
                        + ". Is the file tab-separated and complete?")
    frame["document"] = frame["document"].map(unquote_nsmc)
    return frame.astype({"label": int})


# One CSV-quoted field: quotes around it, every quote inside doubled.
_QUOTED_FIELD = re.compile(r'"(?:[^"]|"")*"', re.DOTALL)


def unquote_nsmc(text: str) -> str:
    """A review as its writer typed it, from the text between two tabs of an NSMC file.

    The files store every review that contains a quote with two levels of CSV quoting: quotes around
    it and its inner quotes doubled, then the same again. Both levels are removed, each only where it is
    well formed; text that is not quoted that way (most reviews) is returned as it is.
    """
    # e.g. the review  영화 "ㅈ같다."  is stored as  """영화 """"ㅈ같다."""""""
    for _ in range(2):
        if not _QUOTED_FIELD.fullmatch(text):
            break
        text = text[1:-1].replace('""', '"')
    return text


def _nsmc_line(path: Path, row: int) -> int:
    """The line number of data row `row` (0-based) in an NSMC file, counting as pandas does (blank lines skipped)."""
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    return [n for n, line in enumerate(lines, 1) if line.strip("\r")][1 + row]


def load_nsmc(root_dir: str | os.PathLike | None = None, data_dir: str | os.PathLike | None = None
              ) -> dict[str, pd.DataFrame]:
    """NSMC as {'train': DataFrame, 'test': DataFrame} with columns id, document, label (0 or 1).

    Files already on disk are read without any network call (Korpora itself always contacts GitHub):
    first a local data dir (`data_dir=`, `<data_dir>/nsmc/`), then a Korpora root passed as `root_dir=`
    (`<root_dir>/nsmc/`), then COURSE_DATA_DIR, then the smoke fixtures, then Korpora's default root
    folder (~/Korpora). Only when the files are missing does Korpora
    download them (about 19 MB from GitHub).
    """
    if data_dir is None and root_dir is None and (local := _local_data_dir(None)) is not None:
        data_dir = local  # COURSE_DATA_DIR
    if data_dir is not None:
        folder = Path(data_dir).expanduser() / "nsmc"
    elif root_dir is None and is_smoke():
        folder = FIXTURES / "nsmc"
    else:
        root = Path(root_dir or Path.home() / "Korpora").expanduser()
        folder = root / "nsmc"
        if not all((folder / f).is_file() for f in NSMC_FILES.values()):
            _download_nsmc(root)
    missing = [f for f in NSMC_FILES.values() if not (folder / f).is_file()]
    if missing:
        hint = (f" {folder.parent} itself holds them: point data_dir at the folder *above* it."
                if all((folder.parent / f).is_file() for f in NSMC_FILES.values()) else "")
        raise FileNotFoundError(f"{folder} lacks {missing}. Put the original NSMC files "
                                "ratings_train.txt and ratings_test.txt there (see the README)." + hint)
    return {split: read_nsmc_file(folder / file) for split, file in NSMC_FILES.items()}


def _download_nsmc(root: Path) -> None:
    """Korpora downloads from GitHub; check in seconds that GitHub answers before handing over."""
    reason = unreachable_reason("https://github.com")
    if reason is not None:
        raise ConnectionError(
            f"NSMC is not in {root / 'nsmc'} and GitHub cannot be reached to download it ({reason}).\n"
            "Connect to the internet, or copy ratings_train.txt and ratings_test.txt from "
            "https://github.com/e9t/nsmc into that folder, or set COURSE_DATA_DIR (see the README)."
        )
    from Korpora import Korpora

    print(f"Downloading NSMC (about 19 MB) from github.com/e9t/nsmc into {root / 'nsmc'} ...")
    Korpora.fetch("nsmc", root_dir=str(root))


# --- subsets ------------------------------------------------------------------------------------

def seeded_subset(data, size: int, seed: int = 42):
    """A random subset of `size` rows, the same for the same seed. Works on a Dataset or a DataFrame."""
    if isinstance(data, (dict, datasets.DatasetDict)):
        raise TypeError(f"seeded_subset takes one split, not all of them ({list(data)}): "
                        f"e.g. seeded_subset(data[{next(iter(data), 'train')!r}], {size!r}).")
    if not isinstance(data, (pd.DataFrame, datasets.Dataset)):
        raise TypeError(f"seeded_subset takes a datasets.Dataset or a pandas DataFrame, not a {type(data).__name__}.")
    size, seed = _whole_number(size, "size"), _whole_number(seed, "seed")
    if size < 0:
        raise ValueError(f"size must be a non-negative integer, got {size!r}.")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}.")
    if size > len(data):
        raise ValueError(f"Asked for {size} rows but the data has only {len(data)}. "
                         f"Use a size of at most {len(data)}, e.g. min({size}, len(data)).")
    if isinstance(data, pd.DataFrame):
        return data.sample(n=size, random_state=seed).reset_index(drop=True)
    return data.shuffle(seed=seed).select(range(size))


def _whole_number(value, name: str) -> int:
    """An int from an int, a NumPy integer or a one-element integer tensor; a clear error otherwise."""
    try:
        if isinstance(value, bool):
            raise TypeError
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r} ({type(value).__name__})."
                         ) from None
