"""scripts/train_mrpc.py's command line: bad arguments fail at once with one line naming the argument; the
Hub (or the offline switch) and --model are checked before anything loads; the last line is valid JSON
or the run fails. Calls the script's functions directly; one in-process run trains into a NaN loss.
"""

import json
import math
import socket
from pathlib import Path

import numpy as np
import pytest

from bad_input import Accepted, Case, Error, cases
from course_utils import data
from script_module import load_script

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "train_mrpc.py"
script = load_script(SCRIPT)


class UsageError(Exception):
    """What argparse printed before exiting with status 2."""


class ScriptError(Exception):
    """What the script printed (SystemExit's message) before exiting with status 1."""


def parse(argv, capsys):
    try:
        return script.parse_args(argv)
    except SystemExit as exit:
        assert exit.code == 2
        raise UsageError(capsys.readouterr().err.strip().splitlines()[-1]) from None


def stops(call):
    """Run `call`; a SystemExit carrying a message becomes a ScriptError with that message."""
    try:
        return call()
    except SystemExit as exit:
        assert isinstance(exit.code, str) and exit.code.startswith("error: "), exit.code
        raise ScriptError(exit.code) from None


def usage(argument, got):
    return Error(UsageError, rf"error: argument {argument}: must be .*got '{got}'$")


ARGUMENTS = [
    Case("epochs-zero", ["--epochs", "0"], usage("--epochs", "0")),
    Case("epochs-negative", ["--epochs", "-2"], usage("--epochs", "-2")),
    Case("epochs-fraction", ["--epochs", "1.5"], usage("--epochs", r"1\.5")),
    Case("max-length-zero", ["--max-length", "0"], usage("--max-length", "0")),
    Case("batch-size-zero", ["--batch-size", "0"], usage("--batch-size", "0")),
    Case("eval-batch-size-zero", ["--eval-batch-size", "0"], usage("--eval-batch-size", "0")),
    Case("lr-zero", ["--lr", "0"], usage("--lr", "0")),
    Case("lr-negative", ["--lr=-5e-5"], usage("--lr", r"-5e-5")),
    Case("lr-nan", ["--lr", "nan"], usage("--lr", "nan")),
    Case("lr-inf", ["--lr", "inf"], usage("--lr", "inf")),
    Case("lr-word", ["--lr", "fast"], usage("--lr", "fast")),
    Case("seed-negative", ["--seed", "-1"], usage("--seed", "-1")),
    Case("seed-too-large", ["--seed", str(2**32)], Error(UsageError, r"--seed: must be a whole number of at least 0 and at most 4294967295")),
    Case("defaults", [], Accepted(lambda a: (a.epochs, a.lr, a.batch_size, a.max_length, a.seed) == (3, 5e-5, 8, 128, 42))),
    Case("a-real-setting", ["--epochs", "1", "--lr", "2e-5", "--max-length", "64", "--pad-to-max-length"],
         Accepted(lambda a: (a.epochs, a.lr, a.max_length, a.pad_to_max_length) == (1, 2e-5, 64, True))),
]


@pytest.mark.parametrize("case", **cases(ARGUMENTS))
def test_arguments(case, capsys):
    case.outcome.check(lambda: parse(case.input, capsys))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def folder_with(files):
    def make(tmp_path):
        for name in files:
            (tmp_path / "my-model" / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / "my-model" / name).write_text("{}")
        return str(tmp_path / "my-model")
    return make


OFFLINE = {"HF_HUB_OFFLINE": "1"}
ONLINE_NOWHERE = {"HF_HUB_OFFLINE": None, "HF_ENDPOINT": "http://127.0.0.1:{port}"}

EARLY_CHECKS = [  # (environment, --model)
    Case("offline-model-in-cache", (OFFLINE, "google-bert/bert-base-uncased"), Accepted()),
    Case("offline-typo-in-model-id", (OFFLINE, "google-bert/bert-base-uncasd"),
         Error(ScriptError, r"--model google-bert/bert-base-uncasd is not in the Hugging Face cache, and offline "
                            r"\(HF_HUB_OFFLINE=1\).*hf download google-bert/bert-base-uncasd")),
    Case("transformers-offline-typo", ({"HF_HUB_OFFLINE": None, "TRANSFORMERS_OFFLINE": "1"}, "bert-base-uncased"),
         Error(ScriptError, r"not in the Hugging Face cache, and offline \(TRANSFORMERS_OFFLINE=1\)")),
    Case("id-with-a-space", (OFFLINE, "bert base"),
         Error(ScriptError, r"--model 'bert base' is neither a folder here nor a Hub model id")),
    Case("missing-local-folder", (OFFLINE, "./my-model"), Error(ScriptError, r"--model '\./my-model' is neither a folder")),
    Case("folder-without-config", (OFFLINE, folder_with(["notes.txt"])), Error(ScriptError, r"this folder has no config\.json")),
    Case("saved-folder", (OFFLINE, folder_with(["config.json"])), Accepted()),
    Case("hub-unreachable", (ONLINE_NOWHERE, "google-bert/bert-base-uncased"),
         Error(ScriptError, r"error: Cannot reach the Hugging Face Hub at http://127\.0\.0\.1:\d+ .*HF_HUB_OFFLINE=1")),
    Case("endpoint-without-scheme", ({"HF_HUB_OFFLINE": None, "HF_ENDPOINT": "huggingface.co"}, "google-bert/bert-base-uncased"),
         Error(ScriptError, r"error: HF_ENDPOINT is 'huggingface\.co', which is not a web address")),
]


@pytest.mark.parametrize("case", **cases(EARLY_CHECKS))
def test_early_checks(case, monkeypatch, tmp_path):
    environment, model = case.input
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value.format(port=free_port()))
    model = model(tmp_path) if callable(model) else model
    case.outcome.check(lambda: stops(lambda: script.check_sources(model)))


def test_online_a_model_the_hub_does_not_know_is_named(monkeypatch):
    """Online, transformers' own 'not a valid model identifier' comes back as one line (the Hub is faked)."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(script.environment, "check_hub_access", lambda: "reachable")

    def not_on_the_hub(model_id, *args, **kwargs):
        raise OSError(f"{model_id} is not a local folder and is not a valid model identifier listed on "
                      "'https://huggingface.co/models'\nIf this is a private repository, make sure to pass a token")

    monkeypatch.setattr(script.AutoConfig, "from_pretrained", not_on_the_hub)
    Error(ScriptError, r"^error: --model bert-base-uncasd cannot be loaded from the Hub: bert-base-uncasd is not a local "
                       r"folder and is not a valid model identifier listed on 'https://huggingface\.co/models'$").check(
        lambda: stops(lambda: script.check_sources("bert-base-uncasd")))


def test_nothing_loads_before_the_hub_check(monkeypatch):
    """The 150 s hang: from_pretrained ran before the 5 s check. Now main stops before loading anything."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")

    def too_early(*args, **kwargs):
        pytest.fail("loaded before the Hub check")

    for name in ("Accelerator", "set_seed"):
        monkeypatch.setattr(script, name, too_early)
    for cls in (script.AutoTokenizer, script.AutoModelForSequenceClassification, script.AutoConfig):
        monkeypatch.setattr(cls, "from_pretrained", too_early)
    monkeypatch.setattr(data, "load_course_dataset", too_early)
    Error(ScriptError, r"Cannot reach the Hugging Face Hub").check(lambda: stops(lambda: script.main([])))


def test_max_length_beyond_the_tokenizers_limit(monkeypatch):
    monkeypatch.setattr(script, "Accelerator", lambda *args, **kwargs: None)  # not needed before the check
    Error(ScriptError, r"--max-length 1024 is more than google-bert/bert-base-uncased can read \(512 tokens\): "
                       r"use --max-length 512 or less").check(lambda: stops(lambda: script.main(["--max-length", "1024"])))


SUMMARY = {"num_processes": 1, "eval_examples": 16, "train_loss": 0.69, "accuracy": 0.5, "f1": 0.0, "seconds": 3.4}

RESULTS = [
    Case("nan-train-loss", {**SUMMARY, "train_loss": math.nan},
         Error(ScriptError, r"error: train_loss is nan: the training diverged\. Lower --lr")),
    Case("infinite-loss-and-nan-f1", {**SUMMARY, "train_loss": math.inf, "f1": math.nan},
         Error(ScriptError, r"train_loss is inf, f1 is nan: the training diverged")),
    Case("numpy-nan", {**SUMMARY, "accuracy": np.float64("nan")}, Error(ScriptError, r"accuracy is nan")),
    Case("finite", SUMMARY, Accepted(lambda line: json.loads(line) == SUMMARY)),
    Case("numpy-floats", {**SUMMARY, "f1": np.float64(0.25)}, Accepted(lambda line: json.loads(line)["f1"] == 0.25)),
]


@pytest.mark.parametrize("case", **cases(RESULTS))
def test_the_last_line_is_valid_json_or_the_run_fails(case):
    case.outcome.check(lambda: stops(lambda: script.results_line(case.input)))


def test_a_run_that_diverges_fails_instead_of_printing_nan(tmp_path, monkeypatch, capsys):
    """The one run: 16 MRPC pairs, one epoch at --lr 1e9 (about 2 s on the tiny model)."""
    fixture = data.FIXTURES / "mrpc"
    (tmp_path / "mrpc").mkdir()
    for split in ("train", "validation", "test"):
        rows = (fixture / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()[:16]
        (tmp_path / "mrpc" / f"{split}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    Error(ScriptError, r"train_loss is nan: the training diverged").check(
        lambda: stops(lambda: script.main(["--epochs", "1", "--lr", "1e9", "--batch-size", "8"])))
    printed = capsys.readouterr().out.strip().splitlines()
    assert not any(line.startswith("{") for line in printed), "no results line with NaN in it"
