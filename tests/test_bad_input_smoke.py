"""The smoke builder never touches a cache it did not make, rebuilds what is missing, and leaves no staging
folders behind, whatever folder a learner points it at.

The builds here use two small stand-ins (`MODELS` is patched), about 0.3 s each; the full list is built by
tests/test_smoke.py.
"""

import hashlib
import json
import os
import shutil
import time

import pytest

from bad_input import Accepted, Case, Error, cases
from course_utils import smoke
from course_utils.smoke import NotASmokeCacheError

SMALL = [m for m in smoke.MODELS if m.model_id.startswith("distilbert/distilbert-base-")][:2]
REAL_ID = "google-bert/bert-base-uncased"


@pytest.fixture(autouse=True)
def two_models(monkeypatch, tmp_path):
    monkeypatch.setattr(smoke, "MODELS", SMALL)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # the "default HF_HOME" lives in tmp_path
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


def tree(folder):
    """{relative path: sha1 of the contents} of every file under folder: what 'nothing changed' compares."""
    if not folder.exists():
        return None
    if folder.is_file():
        return hashlib.sha1(folder.read_bytes()).hexdigest()
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def repo(cache, model_id):
    return cache / "hub" / ("models--" + model_id.replace("/", "--"))


def real_cache(tmp_path):
    """A learner's real Hugging Face cache: one real model, its refs/main and a 768-wide config."""
    cache = tmp_path / "hf"
    snapshot = repo(cache, REAL_ID) / "snapshots" / "86b5e0934494bd15c9632b12f734a8a67f723594"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 768}))
    (repo(cache, REAL_ID) / "refs").mkdir()
    (repo(cache, REAL_ID) / "refs" / "main").write_text(snapshot.name)
    return cache


def built(tmp_path):
    cache = tmp_path / "smoke"
    smoke.build(cache, quiet=True)
    return cache


def built_then(change):
    def setup(tmp_path):
        cache = built(tmp_path)
        change(cache)
        return cache
    return setup


def make_dir(*files):
    def setup(tmp_path):
        folder = tmp_path / "folder"
        folder.mkdir()
        for name in files:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text("mine")
        return folder
    return setup


def complete(cache):
    """The cache is marked as built and every (patched) model and metric is there."""
    marker = cache / smoke.MARKER
    stamp_ok = marker.is_file() and marker.read_text() == smoke._stamp()
    return stamp_ok and all(smoke._model_built(m, cache) for m in SMALL) and all(
        smoke._metric_installed(n, cache) for n in smoke.METRICS)


def stale_staging(cache):
    folder = repo(cache, SMALL[0].model_id) / ".staging-killed"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"half")
    old = time.time() - 2 * 3600
    os.utime(folder, (old, old))


NOT_SMOKE = r"already holds files and is not a smoke cache \(no \.course-smoke marker\).*Nothing was changed.*" \
            r"`python -m course_utils\.smoke build /tmp/course-smoke`"

BUILD_TARGETS = [
    Case("real-hugging-face-cache", real_cache, Error(NotASmokeCacheError, r"hf " + NOT_SMOKE)),
    Case("default-hf-home-empty", lambda tmp: (tmp / "xdg" / "huggingface").mkdir(parents=True) or tmp / "xdg" / "huggingface",
         Error(NotASmokeCacheError, r"is the Hugging Face libraries' own cache \(the default HF_HOME\)")),
    Case("default-hf-home-not-made-yet", lambda tmp: tmp / "xdg" / "huggingface",
         Error(NotASmokeCacheError, r"own cache \(the default HF_HOME\).*folder of its own")),
    Case("home-folder", make_dir(".bashrc", "Documents/notes.txt"), Error(NotASmokeCacheError, NOT_SMOKE)),
    Case("project-folder", make_dir("README.md"), Error(NotASmokeCacheError, NOT_SMOKE)),
    Case("a-file", lambda tmp: (tmp / "file").write_text("x") and tmp / "file" / "cache",
         Error(PermissionError, r"Cannot write the smoke cache.*Choose a folder")),
    Case("new-folder", lambda tmp: tmp / "new" / "cache", Accepted(complete)),
    Case("empty-folder", make_dir(), Accepted(complete)),
    Case("tilde-path", lambda tmp: "~/smoke", Accepted(lambda cache: complete(cache) and cache.parent.name == "home")),
    Case("deleted-model-folder", built_then(lambda c: shutil.rmtree(repo(c, SMALL[1].model_id))), Accepted(complete)),
    Case("deleted-snapshot", built_then(lambda c: shutil.rmtree(repo(c, SMALL[0].model_id) / "snapshots")),
         Accepted(complete)),
    Case("deleted-weights", built_then(lambda c: [p.unlink() for p in repo(c, SMALL[0].model_id).rglob("*.safetensors")]),
         Accepted(complete)),
    Case("deleted-metric", built_then(lambda c: shutil.rmtree(c / "modules")), Accepted(complete)),
    Case("build-cut-short", built_then(lambda c: (c / smoke.MARKER).write_text("building")), Accepted(complete)),
    Case("older-format", built_then(lambda c: (c / smoke.MARKER).write_text('{"format": "0"}')), Accepted(complete)),
    Case("stale-staging-of-a-killed-build", built_then(stale_staging),
         Accepted(lambda cache: complete(cache) and not list(cache.rglob(".staging-*")))),
]


@pytest.mark.parametrize("case", **cases(BUILD_TARGETS))
def test_build_targets(case, tmp_path, capsys):
    target = case.input(tmp_path)
    before = tree(tmp_path)
    if isinstance(case.outcome, Error):
        case.outcome.check(lambda: smoke.build(target))
        assert tree(tmp_path) == before, "a refused build changed nothing"
        assert smoke.main(["build", str(target)]) == 1  # the command line: one line on stderr, exit 1
        err = capsys.readouterr().err
        assert err.startswith("error: ") and "Traceback" not in err
        assert tree(tmp_path) == before
    else:
        was_complete = os.path.isdir(target) and complete(smoke.Path(target))
        capsys.readouterr()
        cache = case.outcome.check(lambda: smoke.build(target))
        out = capsys.readouterr().out
        assert ("up to date" in out) == was_complete, f"'up to date' only when nothing was missing:\n{out}"
        assert not list(cache.rglob(".staging-*")), "no staging folders left behind"
        smoke.build(target)
        assert "up to date" in capsys.readouterr().out  # ... and now it is


def direct_build_model(cache):
    smoke.build_model(SMALL[0], cache)


def direct_install_metric(cache):
    smoke.install_metric("accuracy", cache)


DIRECT_CALLS = [  # the builder's public pieces refuse a real cache too
    Case("build_model-into-real-cache", direct_build_model, Error(NotASmokeCacheError, NOT_SMOKE)),
    Case("install_metric-into-real-cache", direct_install_metric, Error(NotASmokeCacheError, NOT_SMOKE)),
]


@pytest.mark.parametrize("case", **cases(DIRECT_CALLS))
def test_direct_calls_into_a_real_cache(case, tmp_path):
    cache = real_cache(tmp_path)
    before = tree(cache)
    case.outcome.check(lambda: case.input(cache))
    assert tree(cache) == before
    assert (repo(cache, REAL_ID) / "refs" / "main").read_text() == "86b5e0934494bd15c9632b12f734a8a67f723594"


@pytest.mark.parametrize("fault", [KeyboardInterrupt, OSError, RuntimeError])
def test_a_build_cut_short_leaves_no_staging_and_is_finished_next_time(fault, tmp_path, monkeypatch, capsys):
    import transformers

    def save_half_then_fail(self, folder, *args, **kwargs):
        (folder / "model.safetensors").write_bytes(b"half a model")
        raise fault("cut short")

    cache = tmp_path / "smoke"
    with monkeypatch.context() as patch:
        patch.setattr(transformers.PreTrainedModel, "save_pretrained", save_half_then_fail)
        with pytest.raises(fault):
            smoke.build(cache, quiet=True)
    assert not list(cache.rglob(".staging-*")), "the staging folder was removed on the way out"
    assert not complete(cache)
    smoke.build(cache)
    assert "up to date" not in capsys.readouterr().out and complete(cache)
