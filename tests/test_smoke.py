import os
import re
import subprocess
import sys
from pathlib import Path

import evaluate
import nbformat
import numpy as np
import pytest

from course_utils import smoke

ROOT = Path(__file__).resolve().parents[1]
DATASET_IDS = {"nyu-mll/glue", "Yelp/yelp_review_full", "e9t/nsmc"}
LOCAL_FOLDERS = ("checkpoints/", "outputs/", "my-", "your-")  # folders the chapters write, not Hub ids
# "org/name" with at least two characters on each side ("n/a" is not a model id)
HUB_ID = re.compile(r"""["']([A-Za-z0-9][\w.-]+/[\w.-]{2,})["']""")


def _sources():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        yield path, "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    for path in sorted((ROOT / "scripts").glob("*.py")) + sorted((ROOT / "benchmarks").glob("*.py")):
        if path.name != "make_fixtures.py":
            yield path, path.read_text(encoding="utf-8")


def test_every_model_id_the_course_loads_is_in_the_smoke_cache():
    known = {m.model_id for m in smoke.MODELS}
    used = {}
    for path, source in _sources():
        for model_id in HUB_ID.findall(source):
            if model_id not in DATASET_IDS and not Path(model_id).suffix and "/" in model_id:
                used.setdefault(model_id, path.name)
    assert "google-bert/bert-base-uncased" in used and "kykim/bert-kor-base" in used, "the scan finds model ids"
    missing = {m: where for m, where in used.items() if m not in known and not m.startswith(LOCAL_FOLDERS)}
    assert not missing, f"add these to course_utils/smoke.py MODELS: {missing}"


def load_every_model(hub_cache: Path) -> dict:
    """Each stand-in loaded by its id from `hub_cache` (offline: conftest set HF_HUB_OFFLINE), with its tokenizer."""
    import transformers as tf

    out = {}
    for spec in smoke.MODELS:
        tok = tf.AutoTokenizer.from_pretrained(spec.model_id, cache_dir=hub_cache)
        model = getattr(tf, spec.head).from_pretrained(spec.model_id, cache_dir=hub_cache)
        seq = None
        if spec.family != "t5":
            seq = type(tf.AutoModelForSequenceClassification.from_pretrained(spec.model_id, cache_dir=hub_cache)).__name__
        ids = tok("Hello world, this is a test.")["input_ids"]
        out[spec.model_id] = {"model": type(model).__name__, "tok_max": tok.model_max_length,
                              "vocab_ok": max(ids) < model.config.vocab_size, "seq": seq,
                              "labels": list(model.config.id2label.values())}
    return out


def _run(args, env, **kwargs):
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, cwd=ROOT, **kwargs)


def test_build_cli_offline_then_every_model_loads_by_its_id(tmp_path):
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "COURSE_"))}
    env["HF_HUB_OFFLINE"] = "1"
    built = _run(["-m", "course_utils.smoke", "build", str(cache)], env)
    assert built.returncode == 0, built.stderr
    assert f"HF_HOME={cache}" in built.stdout
    # One line per model and metric: the tokenizers' trainers draw no progress bars (blank lines off a terminal).
    assert "" not in built.stdout.splitlines() and not built.stderr.strip(), built.stdout + built.stderr

    report = load_every_model(cache / "hub")  # in this process: a new one would spend seconds importing transformers
    assert set(report) == {m.model_id for m in smoke.MODELS}
    for spec in smoke.MODELS:
        row = report[spec.model_id]
        assert row["model"] == spec.head
        assert row["tok_max"] == 512 and row["vocab_ok"]
        if spec.labels:
            assert row["labels"] == list(spec.labels)
        if row["seq"]:
            assert row["seq"].endswith("ForSequenceClassification")

    env["HF_HOME"] = str(cache)
    again = _run(["-m", "course_utils.smoke", "build", str(cache)], env)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_rebuild_after_a_partial_cache_is_safe(tmp_path):
    spec = smoke.MODELS[0]
    first = smoke.build_model(spec, tmp_path)
    second = smoke.build_model(spec, tmp_path)
    assert first == second and (second / "config.json").is_file()
    assert not list(second.parent.parent.glob("snapshots/.staging-*")), "no staging folders left behind"
    assert (second.parent.parent / "refs" / "main").read_text() == second.name
    card = (second / "README.md").read_text()
    assert card.startswith("---\nlanguage: en\n") and spec.model_id in card  # ModelCard.load works offline


def test_build_into_an_unwritable_place_says_what_to_do(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(PermissionError, match="Cannot write the smoke cache.*Choose a folder"):
        smoke.build(blocker / "cache")
    assert smoke.main(["build", str(blocker / "cache")]) == 1
    assert "Cannot write the smoke cache" in capsys.readouterr().err


def test_metrics_load_offline_by_name_and_compute_correctly():
    # conftest points HF_HOME at the session's smoke cache, with HF_HUB_OFFLINE=1
    predictions, references = [1, 0, 1, 1, 0, 1], [1, 0, 0, 1, 1, 1]
    glue = evaluate.load("glue", "mrpc").compute(predictions=predictions, references=references)
    assert glue == pytest.approx({"accuracy": 4 / 6, "f1": 2 * 3 / (2 * 3 + 1 + 1)})
    assert set(evaluate.load("glue", "sst2").compute(predictions=predictions, references=references)) == {"accuracy"}
    assert evaluate.load("accuracy").compute(predictions=predictions, references=references)["accuracy"] == pytest.approx(4 / 6)


def test_f1_matches_scikit_learn_for_every_average():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    f1 = evaluate.load("f1")
    for average in ["macro", "micro", "weighted"]:
        ours = f1.compute(predictions=y_pred, references=y_true, average=average)["f1"]
        assert ours == pytest.approx(f1_score(y_true, y_pred, average=average))
    binary_true, binary_pred = y_true % 2, y_pred % 2
    assert f1.compute(predictions=binary_pred, references=binary_true)["f1"] == pytest.approx(
        f1_score(binary_true, binary_pred))


def test_environment_names_the_offline_switches(tmp_path):
    env = smoke.environment(tmp_path)
    assert env == {"HF_HOME": str(tmp_path.resolve()), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
                   "COURSE_SMOKE": "1", "EVALUATE_VERBOSITY": "error"}


def test_make_lab_smoke_sets_every_variable_of_the_smoke_environment():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("\nlab-smoke:", 1)[1].split("\n\n", 1)[0]
    expected = smoke.environment(ROOT / ".cache" / "smoke")
    expected["HF_HOME"] = "$(CURDIR)/.cache/smoke"
    missing = [f"{k}={v}" for k, v in expected.items() if f"{k}={v}" not in recipe]
    assert not missing, f"make lab-smoke should set {missing} (course_utils.smoke.environment)"
