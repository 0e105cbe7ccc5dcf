"""The course's datasets: the real Hub / Korpora loaders, a local-folder mode, and the tiny CI fixtures.

Where the data comes from, checked in this order:
1. `data_dir=` or the COURSE_DATA_DIR environment variable: your own copies, one subfolder per dataset
   (layout in the README: `mrpc/train.jsonl`, `nsmc/ratings_train.txt`, ...). No network.
2. smoke mode (COURSE_SMOKE=1, set by the test run): the tiny fixtures shipped in this package.
3. otherwise the real thing: `datasets.load_dataset(path, name)` or `Korpora`.
"""

from __future__ import annotations

import csv
import os
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


def _load_folder(folder: Path, spec: DatasetSpec) -> datasets.DatasetDict:
    layout = ", ".join(f"{folder.name}/{s}.jsonl" for s in spec.splits)
    if not folder.is_dir():
        raise FileNotFoundError(f"No folder {folder}. A local copy of this dataset needs {layout} "
                                f"(.csv or .parquet also work); see 'Your own copy of the data' in the README.")
    splits = {}
    for split in spec.splits:
        files = [folder / f"{split}{ext}" for ext in _READERS if (folder / f"{split}{ext}").is_file()]
        if not files:
            raise FileNotFoundError(f"Missing split {split!r}: no {split}.jsonl, .csv or .parquet in {folder}. "
                                    f"Expected files: {layout}.")
        splits[split] = _read_split(files[0], spec.features)
    return datasets.DatasetDict(splits)


def _read_split(file: Path, features: datasets.Features) -> datasets.Dataset:
    table = datasets.Dataset.from_pandas(_read_table(file), preserve_index=False)
    expected = list(features)
    missing = [c for c in expected if c not in table.column_names and c != "idx"]
    if missing:
        raise ValueError(f"{file} has columns {table.column_names} but lacks {missing}. "
                         f"Each row needs {expected} (idx is optional), with label as an integer "
                         f"0..{features['label'].num_classes - 1} ({features['label'].names}).")
    if "idx" in expected and "idx" not in table.column_names:
        table = table.add_column("idx", list(range(len(table))))
    table = table.select_columns(expected)
    return table.cast(features)


def _read_table(file: Path) -> pd.DataFrame:
    if file.suffix in (".jsonl", ".json"):
        return pd.read_json(file, lines=file.suffix == ".jsonl", dtype=False)
    if file.suffix == ".csv":
        return pd.read_csv(file, keep_default_na=False)
    return pd.read_parquet(file)


# --- NSMC (Naver Sentiment Movie Corpus) through Korpora --------------------------------------

NSMC_FILES = {"train": "ratings_train.txt", "test": "ratings_test.txt"}
NSMC_COLUMNS = ["id", "document", "label"]


def read_nsmc_file(path: str | os.PathLike) -> pd.DataFrame:
    """Read one NSMC file (`id<TAB>document<TAB>label`) exactly as written.

    The real files trip a default CSV reader twice: reviews that start with a quote carry doubled
    quotes and would swallow the following lines (hence QUOTE_NONE), and empty reviews would become
    NaN (hence keep_default_na=False).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No NSMC file at {path}.")
    frame = pd.read_csv(path, sep="\t", quoting=csv.QUOTE_NONE, keep_default_na=False,
                        dtype={"id": str, "document": str, "label": str})
    if list(frame.columns) != NSMC_COLUMNS:
        raise ValueError(f"{path} has columns {list(frame.columns)}; an NSMC file starts with the header "
                         "'id<TAB>document<TAB>label'.")
    bad = ~frame["label"].isin(["0", "1"])
    if bad.any():
        row = frame[bad].index[0]
        raise ValueError(f"{path}, data row {row + 1}: label {frame['label'][row]!r} is not 0 or 1. "
                         "Is the file tab-separated and complete?")
    return frame.astype({"label": int})


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
        raise FileNotFoundError(f"{folder} lacks {missing}. Put the original NSMC files "
                                "ratings_train.txt and ratings_test.txt there (see the README).")
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
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError(f"size must be a non-negative integer, got {size!r}.")
    if size > len(data):
        raise ValueError(f"Asked for {size} rows but the data has only {len(data)}. "
                         f"Use a size of at most {len(data)}, e.g. min({size}, len(data)).")
    if isinstance(data, pd.DataFrame):
        return data.sample(n=size, random_state=seed).reset_index(drop=True)
    return data.shuffle(seed=seed).select(range(size))
