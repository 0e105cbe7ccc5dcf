import json
import shutil

import datasets
import pandas as pd
import pytest

from course_utils import data

SPECS = list(data.DATASETS.items())


@pytest.mark.parametrize(("key", "spec"), SPECS, ids=[f"{p}-{c}" for p, c in data.DATASETS])
def test_smoke_fixtures_have_the_hub_features_and_splits(key, spec, monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_SMOKE", "1")
    ds = data.load_course_dataset(*key)
    assert isinstance(ds, datasets.DatasetDict)
    assert tuple(ds) == spec.splits
    for split in ds.values():
        assert split.features == spec.features
        assert len(split) >= 16
    labels = ds["train"]["label"]
    assert set(labels) == set(range(spec.features["label"].num_classes)), "every class appears in train"


def test_fixture_label_names_are_the_real_ones(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    mrpc = data.load_course_dataset("nyu-mll/glue", "mrpc")
    assert mrpc["train"].features["label"].names == ["not_equivalent", "equivalent"]
    yelp = data.load_course_dataset("Yelp/yelp_review_full")
    assert yelp["train"].features["label"].names == ["1 star", "2 star", "3 stars", "4 stars", "5 stars"]
    assert set(data.load_course_dataset("nyu-mll/glue", "sst2")["test"]["label"]) == {-1}  # hidden, as on the Hub


def test_full_mode_calls_load_dataset_after_a_hub_check(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.delenv("COURSE_SMOKE", raising=False)
    calls = []
    monkeypatch.setattr(data, "check_hub_access", lambda: calls.append("check"))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: calls.append(a) or "hub")
    assert data.load_course_dataset("nyu-mll/glue", "mrpc") == "hub"
    assert calls == ["check", ("nyu-mll/glue", "mrpc")]


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(ValueError, match="Unknown dataset 'glue' with config 'mrpc'.*nyu-mll/glue"):
        data.load_course_dataset("glue", "mrpc")
    with pytest.raises(ValueError, match="config 'cola'"):
        data.load_course_dataset("nyu-mll/glue", "cola")


def _write_mrpc(folder, rows=4, drop=None, fmt="jsonl"):
    folder.mkdir(parents=True, exist_ok=True)
    for split in ("train", "validation", "test"):
        records = [{"sentence1": f"a {i}", "sentence2": f"b {i}", "label": i % 2} for i in range(rows)]
        frame = pd.DataFrame(records).drop(columns=drop or [])
        if fmt == "jsonl":
            frame.to_json(folder / f"{split}.jsonl", orient="records", lines=True)
        else:
            frame.to_csv(folder / f"{split}.csv", index=False)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_local_data_dir_is_read_offline_with_the_real_features(tmp_path, monkeypatch, fmt):
    _write_mrpc(tmp_path / "mrpc", rows=5, fmt=fmt)
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("no Hub call expected"))
    ds = data.load_course_dataset("nyu-mll/glue", "mrpc")
    assert {k: len(v) for k, v in ds.items()} == {"train": 5, "validation": 5, "test": 5}
    assert ds["train"].features == data.DATASETS[("nyu-mll/glue", "mrpc")].features
    assert ds["train"]["idx"] == [0, 1, 2, 3, 4]  # added when the copy has no idx column


def test_data_dir_argument_wins_over_smoke_mode(tmp_path, monkeypatch):
    _write_mrpc(tmp_path / "mrpc", rows=3)
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert len(data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=tmp_path)["train"]) == 3


def test_local_folder_missing_explains_the_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"mrpc/train\.jsonl.*README"):
        data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=tmp_path)


def test_local_folder_missing_a_split(tmp_path):
    _write_mrpc(tmp_path / "mrpc")
    (tmp_path / "mrpc" / "validation.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match="Missing split 'validation'"):
        data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=tmp_path)


def test_local_folder_with_wrong_columns(tmp_path):
    _write_mrpc(tmp_path / "mrpc", drop=["sentence2"])
    with pytest.raises(ValueError, match=r"lacks \['sentence2'\]"):
        data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=tmp_path)


def test_local_folder_with_an_out_of_range_label_fails(tmp_path):
    folder = tmp_path / "yelp_review_full"
    folder.mkdir()
    for split in ("train", "test"):
        (folder / f"{split}.jsonl").write_text(json.dumps({"label": 7, "text": "great"}) + "\n")
    with pytest.raises(ValueError):
        data.load_course_dataset("Yelp/yelp_review_full", data_dir=tmp_path)


# --- seeded subsets -----------------------------------------------------------------------------

def test_seeded_subset_is_repeatable_and_sized(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    train = data.load_course_dataset("Yelp/yelp_review_full")["train"]
    a, b = data.seeded_subset(train, 10, seed=42), data.seeded_subset(train, 10, seed=42)
    assert len(a) == 10 and a["text"] == b["text"]
    assert data.seeded_subset(train, 10, seed=43)["text"] != a["text"]


def test_seeded_subset_on_a_dataframe():
    frame = pd.DataFrame({"x": range(100)})
    a = data.seeded_subset(frame, 30, seed=1)
    assert len(a) == 30 and a.equals(data.seeded_subset(frame, 30, seed=1))
    assert list(a.index) == list(range(30))


@pytest.mark.parametrize(("size", "message"), [(-1, "non-negative"), (1.5, "non-negative"), (101, "only 100")])
def test_seeded_subset_rejects_bad_sizes(size, message):
    with pytest.raises(ValueError, match=message):
        data.seeded_subset(pd.DataFrame({"x": range(100)}), size)


# --- NSMC ---------------------------------------------------------------------------------------

def test_nsmc_smoke_fixture_reads_real_rows(monkeypatch):
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    monkeypatch.setenv("COURSE_SMOKE", "1")
    nsmc = data.load_nsmc()
    assert set(nsmc) == {"train", "test"}
    for frame in nsmc.values():
        assert list(frame.columns) == ["id", "document", "label"]
        assert not frame["document"].isna().any()
        assert set(frame["label"]) == {0, 1} and frame["label"].dtype.kind == "i"
    assert (nsmc["train"]["document"] == "").any(), "the fixture keeps an empty review, like the real file"


def test_nsmc_data_dir_copy(tmp_path, monkeypatch):
    shutil.copytree(data.FIXTURES / "nsmc", tmp_path / "nsmc")
    monkeypatch.delenv("COURSE_SMOKE", raising=False)
    nsmc = data.load_nsmc(data_dir=tmp_path)
    for split, file in data.NSMC_FILES.items():
        lines = (tmp_path / "nsmc" / file).read_text(encoding="utf-8").splitlines()
        assert len(nsmc[split]) == len(lines) - 1  # every row but the header, quoted and empty ones too
