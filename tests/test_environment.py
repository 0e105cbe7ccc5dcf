import http.server
import socket
import sys
import threading

import numpy as np
import pytest
import torch

from course_utils import environment as env


def test_versions_lists_python_and_the_course_libraries():
    table = env.versions()
    assert table["python"].count(".") == 2
    for name in ["torch", "transformers", "datasets", "evaluate", "accelerate", "huggingface_hub"]:
        assert table[name][0].isdigit(), f"{name}: {table[name]}"
    assert table["transformers"].startswith("5.")


def test_show_versions_prints_device_and_mode(capsys, monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    env.show_versions()
    out = capsys.readouterr().out
    assert "transformers" in out and "device" in out and "smoke" in out


def test_is_smoke_follows_the_variable(monkeypatch):
    monkeypatch.setenv("COURSE_SMOKE", "1")
    assert env.is_smoke()
    monkeypatch.setenv("COURSE_SMOKE", "0")
    assert not env.is_smoke()
    monkeypatch.delenv("COURSE_SMOKE")
    assert not env.is_smoke()


def test_in_colab(monkeypatch):
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not env.in_colab()
    monkeypatch.setenv("COLAB_RELEASE_TAG", "release-colab_20261101")
    assert env.in_colab()


def test_pick_device_prefers_cuda_then_tpu_then_mps_then_cpu(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch_xla" else real_find_spec(name, *a))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert env.pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert env.pick_device() == torch.device("mps")
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    assert env.device_kind() == "xla"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert env.pick_device() == torch.device("cuda")


def test_device_kind_never_initializes_cuda(monkeypatch):
    # notebook_launcher forks: a CUDA runtime call in the parent would break every worker.
    def poisoned():
        raise AssertionError("torch.cuda.is_available() initializes the CUDA driver; use device_count()")

    monkeypatch.setattr(torch.cuda, "is_available", poisoned)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert env.device_kind() == "cuda"


def test_set_seed_repeats_every_generator():
    def draw():
        import random
        return random.random(), np.random.rand(), torch.rand(3).tolist()

    env.set_seed(7)
    first = draw()
    env.set_seed(7)
    assert draw() == first
    env.set_seed(8)
    assert draw() != first


def test_check_hub_access_offline_mode_makes_no_call(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: pytest.fail("no network call expected"))
    assert "local cache" in env.check_hub_access()


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_check_hub_access_says_plainly_when_the_hub_is_unreachable(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    with pytest.raises(env.HubUnreachableError) as err:
        env.check_hub_access(timeout=2)
    message = str(err.value)
    assert "Cannot reach the Hugging Face Hub" in message and "HF_HUB_OFFLINE=1" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no wall of chained traceback


def test_check_hub_access_accepts_any_http_answer(monkeypatch):
    class Unauthorized(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Unauthorized)
    threading.Thread(target=server.handle_request, daemon=True).start()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    try:
        assert "reachable" in env.check_hub_access(timeout=5)
    finally:
        server.server_close()


def test_unreachable_reason_names_the_failure_and_is_none_for_any_answer(monkeypatch):
    assert "refused" in env.unreachable_reason(f"http://127.0.0.1:{_free_port()}", timeout=2).lower()
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: None)
    assert env.unreachable_reason("https://github.com") is None
