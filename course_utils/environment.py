"""Where am I running? Versions, device, seeding, Colab, smoke mode and a fast Hub check."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import random
import sys
import urllib.error
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


def mixed_precision() -> dict[str, bool]:
    """TrainingArguments flags for the hardware: bf16 on Ampere or newer, fp16 on older GPUs, none on CPU.

    It initializes CUDA: call it in the process that trains (inside the function you give
    `notebook_launcher`), not before launching.
    """
    if device_kind() == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):  # a T4 only emulates bf16: slow
            return {"bf16": True, "fp16": False}
        return {"bf16": False, "fp16": True}
    return {"bf16": False, "fp16": False}


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a run can be repeated number for number."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def unreachable_reason(url: str, timeout: float = 5.0) -> str | None:
    """Why `url` does not answer within `timeout` seconds, or None when it answers.

    Any HTTP answer, an error status included (the Hub says 401 to an anonymous whoami), counts as
    reachable: the point is to learn in seconds that the machine is offline, not to use the answer.
    """
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError) as err:
        return str(getattr(err, "reason", err))
    return None


class HubUnreachableError(ConnectionError):
    """The Hugging Face Hub cannot be reached and the notebook needs it."""


def check_hub_access(timeout: float = 5.0) -> str:
    """Fail fast, in plain words, when the Hub is needed but unreachable.

    Without this check an offline `from_pretrained` spends up to a minute retrying before it fails
    with a long traceback. Returns a one-line description of where models will come from.
    """
    if os.environ.get("HF_HUB_OFFLINE", "") in {"1", "true", "TRUE", "yes", "ON", "on"}:
        return "HF_HUB_OFFLINE=1: models, tokenizers and metrics are read from the local cache only"
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
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
