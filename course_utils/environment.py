"""Where am I running? Versions, device, seeding, Colab, smoke mode and a fast Hub check."""

from __future__ import annotations

import http.client
import importlib.metadata
import importlib.util
import math
import numbers
import os
import platform
import random
import sys
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import torch

TRACKED_PACKAGES = ["torch", "transformers", "tokenizers", "datasets", "evaluate", "accelerate",
                    "huggingface_hub", "Korpora", "pandas"]


def is_smoke() -> bool:
    """True in the test run (COURSE_SMOKE=1): tiny offline models and fixtures stand in for the real ones."""
    return os.environ.get("COURSE_SMOKE", "") == "1"


def in_colab() -> bool:
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def versions() -> dict[str, str]:
    """Python and the course's libraries, name -> version ('not installed' when missing)."""
    table = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            table[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            table[name] = "not installed"
    return table


# Libraries whose in-memory version can lag behind the installed one after an upgrade in a running
# kernel (Colab imports pandas, and with it pyarrow and numpy, before the first cell): distribution -> module.
RESTART_CHECKED = {**{name: name for name in TRACKED_PACKAGES}, "pyarrow": "pyarrow", "numpy": "numpy"}


def stale_modules() -> dict[str, tuple[str, str]]:
    """Libraries imported before an upgrade: name -> (version in memory, version installed).

    Non-empty after `pip install` upgraded a library this process had already imported: the old code
    stays in memory until the runtime restarts, so mixing it with newly imported code can fail (on Colab
    `import datasets` raises "pyarrow.lib.IpcReadOptions size changed" when pyarrow moved under pandas).
    """
    stale = {}
    for dist, module_name in RESTART_CHECKED.items():
        loaded = getattr(sys.modules.get(module_name), "__version__", None)
        if loaded is None:
            continue
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            installed = "not installed"
        if str(loaded) != installed:
            stale[dist] = (str(loaded), installed)
    return stale


def show_versions() -> None:
    """Print the versions table, the device and the mode: the first cell of every chapter.

    When a library changed on disk after this process imported it, the table shows both versions and
    says to restart the runtime, instead of printing installed versions that are not the ones running.
    """
    rows = dict(versions())
    stale = stale_modules()
    for name, (loaded, installed) in stale.items():
        rows[name] = f"{loaded} in memory, {installed} installed: RESTART NEEDED"
    rows["device"] = device_kind()
    rows["mode"] = "smoke (tiny offline models and data)" if is_smoke() else "full (real models and data)"
    width = max(map(len, rows))
    for name, value in rows.items():
        print(f"{name:<{width}}  {value}")
    if stale:
        print(f"\nRestart the runtime (on Colab: Runtime > Restart session), then run this cell again: "
              f"{', '.join(stale)} changed on disk after they were imported, so the versions in memory are old.")


def device_kind() -> str:
    """'cuda', 'xla' (TPU), 'mps' or 'cpu', found without initializing any device.

    Safe before `notebook_launcher`, which forks: `torch.cuda.is_available()` or claiming a TPU in the
    parent process would break the forked workers. `torch.cuda.device_count()` asks NVML instead.
    """
    if torch.cuda.device_count() > 0:
        return "cuda"
    if importlib.util.find_spec("torch_xla") is not None:  # installed on TPU runtimes (Colab, Kaggle, TPU VMs)
        return "xla"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_device() -> torch.device:
    """The best accelerator available: CUDA GPU, then TPU (torch_xla), then Apple MPS, then CPU."""
    kind = device_kind()
    if kind == "xla":
        import torch_xla

        return torch_xla.device()
    return torch.device(kind)


PRECISIONS = ("no", "bf16", "fp16")


def mixed_precision() -> dict[str, bool]:
    """TrainingArguments flags for the hardware: bf16 on Ampere or newer, fp16 on older GPUs, none elsewhere.

    Set COURSE_MIXED_PRECISION=bf16, fp16 or no to override the hardware's choice (the course's tests
    force bf16 to run a GPU's mixed-precision path on a CPU). bf16 autocast runs on a CPU, so a forced
    bf16 there also returns `use_cpu=True`, which TrainingArguments needs to accept bf16 without a GPU.
    fp16 cannot be emulated on a CPU: Accelerate, and so the Trainer, switch it off there and train in
    fp32 without a word, so forcing fp16 without a GPU is an error.

    It initializes CUDA: call it in the process that trains (inside the function you give
    `notebook_launcher`), not before launching.
    """
    forced = forced_precision()
    kind = device_kind()
    if forced is not None:
        if forced == "fp16" and kind in ("cpu", "xla"):
            raise ValueError(
                f"COURSE_MIXED_PRECISION=fp16 needs a GPU, and this machine's device is {kind!r}: there Accelerate "
                "and the Trainer turn fp16 off and train in fp32 without a warning. Use COURSE_MIXED_PRECISION=bf16 "
                "to run the mixed-precision code path on a CPU, or unset it.")
        flags = {"bf16": forced == "bf16", "fp16": forced == "fp16"}
        if forced == "bf16" and kind == "cpu":
            flags["use_cpu"] = True
        return flags
    if kind == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):  # a T4 only emulates bf16: slow
            return {"bf16": True, "fp16": False}
        return {"bf16": False, "fp16": True}
    return {"bf16": False, "fp16": False}


def forced_precision() -> str | None:
    """The precision COURSE_MIXED_PRECISION forces ('bf16', 'fp16' or 'no'), or None when it is not set."""
    value = os.environ.get("COURSE_MIXED_PRECISION", "").strip().lower()
    if not value:
        return None
    if value not in PRECISIONS:
        raise ValueError(f"COURSE_MIXED_PRECISION={value!r} is not one of {', '.join(PRECISIONS)}. "
                         "Unset it to let the hardware choose.")
    return value


def precision_name(flags: dict[str, bool]) -> str:
    """'bf16', 'fp16' or 'no' from the flags `mixed_precision()` returns: the name Accelerate takes."""
    return "bf16" if flags.get("bf16") else "fp16" if flags.get("fp16") else "no"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch on every device (CUDA GPUs, and a TPU's XLA generator) so a run
    can be repeated number for number.

    On a TPU it seeds the XLA generator too, which needs the TPU runtime: call it in the process that
    trains, not before `notebook_launcher` forks (inside the launched function, use accelerate's set_seed).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)  # lazy: CUDA itself is seeded when it starts
    if device_kind() == "xla":
        import torch_xla.core.xla_model as xm

        xm.set_rng_state(seed)


def mark_step(device) -> None:
    """On a TPU, run the operations queued since the last call; elsewhere, nothing.

    XLA records operations lazily and compiles them into one graph. Call this once per training (or
    evaluation) step: it cuts the graph there and starts running it, without waiting for the result.
    Without it, the graph grows with every step and is compiled anew. GPUs and CPUs run each operation
    at once, so there it does nothing.
    """
    if torch.device(device).type == "xla":
        import torch_xla

        if hasattr(torch_xla, "sync"):
            torch_xla.sync()
        else:  # torch_xla before 2.6
            import torch_xla.core.xla_model as xm

            xm.mark_step()


def unreachable_reason(url: str, timeout: float = 5.0) -> str | None:
    """Why `url` does not answer within `timeout` seconds, or None when it answers.

    Any HTTP answer, an error status included (the Hub says 401 to an anonymous whoami), counts as
    reachable: the point is to learn in seconds that the machine is offline, not to use the answer.
    """
    _check_url(url, "url")
    if type(timeout).__module__.startswith(("numpy", "torch")) and getattr(timeout, "ndim", None) == 0:
        timeout = timeout.item()  # a NumPy or torch scalar
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not 0 < timeout < math.inf:
        raise ValueError(f"timeout must be a positive number of seconds, e.g. 5, got {timeout!r}.")
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=float(timeout))
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as err:
        return str(getattr(err, "reason", err))
    except http.client.HTTPException as err:  # something answered, but not in HTTP
        return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
    return None


def _check_url(url, name: str) -> None:
    """A clear error for an address urllib cannot use (no scheme, no host, a port that is not a number)."""
    try:
        parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
        ok = parts is not None and parts.scheme in ("http", "https") and bool(parts.hostname)
        ok = ok and (parts.port or 0) >= 0
    except ValueError:  # urlsplit's port check
        ok = False
    if not ok:
        fix = f"e.g. https://{url.strip().strip('/')}" if isinstance(url, str) and url.strip() else "e.g. https://huggingface.co"
        raise ValueError(f"{name} is {url!r}, which is not a web address: write it with its scheme and host, {fix}.")


# The values huggingface_hub reads as "on" (huggingface_hub/constants.py, ENV_VARS_TRUE_VALUES, upper-cased).
_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}


def _offline_switch() -> str | None:
    """`NAME=value` when the Hugging Face libraries are offline, read exactly as huggingface_hub reads it:
    HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE when HF_HUB_OFFLINE is unset or empty."""
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        value = os.environ.get(name)
        if value:
            return f"{name}={value}" if value.upper() in _TRUE_VALUES else None
    return None


class HubUnreachableError(ConnectionError):
    """The Hugging Face Hub cannot be reached and the notebook needs it."""


def check_hub_access(timeout: float = 5.0) -> str:
    """Fail fast, in plain words, when the Hub is needed but unreachable.

    Without this check an offline `from_pretrained` spends up to a minute retrying before it fails
    with a long traceback. Returns a one-line description of where models will come from.
    """
    switch = _offline_switch()
    if switch is not None:
        return f"{switch}: models, tokenizers and metrics are read from the local cache only"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        _check_url(endpoint, "HF_ENDPOINT")
    except ValueError as err:
        raise ValueError(f"{err} Or unset HF_ENDPOINT to use the Hub at https://huggingface.co.") from None
    reason = unreachable_reason(endpoint + "/api/whoami-v2", timeout)
    if reason is not None:
        raise HubUnreachableError(
            f"Cannot reach the Hugging Face Hub at {endpoint} ({reason}).\n"
            "This chapter downloads models and datasets from the Hub. To fix it, either:\n"
            "  - connect this machine to the internet (on Colab: Runtime > Restart session), or\n"
            "  - if the models are already in your cache, set HF_HUB_OFFLINE=1 before starting Jupyter, and\n"
            "    point COURSE_DATA_DIR at your own copies of the datasets (see the README), or\n"
            "  - run the chapter on the course's tiny offline stand-ins: `make lab-smoke`."
        ) from None
    return f"{endpoint} is reachable: models and datasets come from the Hub"
