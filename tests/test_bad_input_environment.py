"""The Hub check under unusual settings: every value huggingface_hub reads as "offline" is offline here
too (no network call), an HF_ENDPOINT without its scheme is a clear error, and an endpoint that never
answers, or answers in something other than HTTP, is reported within the timeout.

No test touches the network: unreachable endpoints are local ports, or urlopen is replaced.
"""

import socket
import threading
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
from huggingface_hub import constants as hub_constants

from bad_input import Accepted, Case, Error, cases
from course_utils import environment as env

VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT")


@pytest.fixture
def requests(monkeypatch):
    """No network: every request fails at once, and is recorded."""
    made = []

    def no_network(request, timeout):
        made.append((request.full_url, timeout))
        raise urllib.error.URLError("no network in the tests")

    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return made


def hub_says_offline():
    """huggingface_hub's own reading of the variables (huggingface_hub/constants.py)."""
    import os

    return hub_constants._is_true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))


def offline(switch):
    return Accepted(lambda answer: answer == f"{switch}: models, tokenizers and metrics are read from the local cache only")


ONLINE = Error(env.HubUnreachableError, r"Cannot reach the Hugging Face Hub at https://huggingface\.co \(no network")

OFFLINE_SWITCHES = [
    Case("HF_HUB_OFFLINE=1", {"HF_HUB_OFFLINE": "1"}, offline("HF_HUB_OFFLINE=1")),
    Case("HF_HUB_OFFLINE=True", {"HF_HUB_OFFLINE": "True"}, offline("HF_HUB_OFFLINE=True")),
    Case("HF_HUB_OFFLINE=yes", {"HF_HUB_OFFLINE": "yes"}, offline("HF_HUB_OFFLINE=yes")),
    Case("HF_HUB_OFFLINE=On", {"HF_HUB_OFFLINE": "On"}, offline("HF_HUB_OFFLINE=On")),
    Case("TRANSFORMERS_OFFLINE=1", {"TRANSFORMERS_OFFLINE": "1"}, offline("TRANSFORMERS_OFFLINE=1")),
    Case("empty-HF_HUB_OFFLINE-then-TRANSFORMERS_OFFLINE", {"HF_HUB_OFFLINE": "", "TRANSFORMERS_OFFLINE": "true"},
         offline("TRANSFORMERS_OFFLINE=true")),
    Case("HF_HUB_OFFLINE=0-wins-over-TRANSFORMERS_OFFLINE", {"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "1"}, ONLINE),
    Case("HF_HUB_OFFLINE=false", {"HF_HUB_OFFLINE": "false"}, ONLINE),
    Case("HF_HUB_OFFLINE=2", {"HF_HUB_OFFLINE": "2"}, ONLINE),  # not a value huggingface_hub reads as on
]


@pytest.mark.parametrize("case", **cases(OFFLINE_SWITCHES))
def test_offline_switches_read_as_huggingface_hub_reads_them(case, requests, monkeypatch):
    for name, value in case.input.items():
        monkeypatch.setenv(name, value)
    case.outcome.check(lambda: env.check_hub_access(timeout=1))
    assert (requests == []) == hub_says_offline(), "offline exactly when the Hugging Face libraries are"


ENDPOINTS = [
    Case("no-scheme", "huggingface.co", Error(ValueError, r"HF_ENDPOINT is 'huggingface\.co', which is not a web address: "
                                                          r"write it with its scheme and host, e\.g\. https://huggingface\.co\. "
                                                          r"Or unset HF_ENDPOINT")),
    Case("empty", "", Error(ValueError, r"HF_ENDPOINT is '', which is not a web address.*e\.g\. https://huggingface\.co")),
    Case("port-not-a-number", "https://hf-mirror.com:port", Error(ValueError, r"HF_ENDPOINT is 'https://hf-mirror\.com:port'")),
    Case("another-scheme", "ftp://hf-mirror.com", Error(ValueError, r"HF_ENDPOINT is 'ftp://hf-mirror\.com'")),
    Case("mirror-with-trailing-slash", "https://hf-mirror.com/",
         Error(env.HubUnreachableError, r"Cannot reach the Hugging Face Hub at https://hf-mirror\.com \(")),
]


@pytest.mark.parametrize("case", **cases(ENDPOINTS))
def test_hub_endpoints(case, requests, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", case.input)
    case.outcome.check(lambda: env.check_hub_access(timeout=1))
    if case.outcome.type is ValueError:
        assert requests == [], "a malformed endpoint is reported before any request"
    else:
        assert requests == [("https://hf-mirror.com/api/whoami-v2", 1.0)]


UNREACHABLE_ARGS = [
    Case("url-without-scheme", ("github.com", 5), Error(ValueError, r"url is 'github\.com', which is not a web address.*https://github\.com")),
    Case("url-not-text", (None, 5), Error(ValueError, r"url is None, which is not a web address")),
    Case("zero-timeout", ("https://github.com", 0), Error(ValueError, r"timeout must be a positive number of seconds, e\.g\. 5, got 0")),
    Case("timeout-as-text", ("https://github.com", "5"), Error(ValueError, r"got '5'")),
    Case("infinite-timeout", ("https://github.com", float("inf")), Error(ValueError, r"got inf")),
    Case("numpy-timeout", ("https://github.com", np.float64(2.5)), Accepted(lambda reason: "no network" in reason)),
    Case("torch-timeout", ("https://github.com", torch.tensor(2)), Accepted(lambda reason: "no network" in reason)),
]


@pytest.mark.parametrize("case", **cases(UNREACHABLE_ARGS))
def test_unreachable_reason_arguments(case, requests):
    case.outcome.check(lambda: env.unreachable_reason(*case.input))


def serve_once(reply: bytes | None):
    """A local port that accepts one connection, then sends `reply` (or nothing, ever) and closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def answer():
        conn, _ = server.accept()
        conn.recv(1024)
        if reply is not None:
            conn.sendall(reply)
            conn.close()
        else:
            threading.Event().wait(3)  # never answers within the check's timeout
            conn.close()

    threading.Thread(target=answer, daemon=True).start()
    return server


@pytest.mark.parametrize(("name", "reply", "reason"), [
    ("never-answers", None, r"timed out"),
    ("answers-in-no-http", b"SSH-2.0-OpenSSH_9.6\r\n", r"BadStatusLine|RemoteDisconnected|SSH"),
])
def test_an_endpoint_that_does_not_speak_http_is_unreachable_within_the_timeout(name, reply, reason, monkeypatch):
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    server = serve_once(reply)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        Error(env.HubUnreachableError, r"Cannot reach the Hugging Face Hub at http://127\.0\.0\.1:\d+ \(.*" + reason).check(
            lambda: env.check_hub_access(timeout=0.5))
    finally:
        server.close()
