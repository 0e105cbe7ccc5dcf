"""Set up a Colab runtime for the course. The first cell of every chapter runs it (`%run .../install.py`).

1. Install the course's helper package from this clone, with the versions of the Hugging Face libraries
   the course is tested with (constraints.txt). Colab's own PyTorch (built for its CUDA) stays as it is,
   and so does every other package Colab already has, unless the new libraries need a newer one: then it
   gets the tested version.
2. Upgrade the Colab packages that the new versions would otherwise break (REPAIRS below).
3. Say, in one sentence, when the runtime must restart: when a library this kernel had already imported
   changed on disk (Colab imports pandas, and with it pyarrow, before the first cell runs).

Run a second time, it finds everything in place and installs nothing. `make test-colab` runs it on a
Colab-like set of preinstalled packages (colab/preinstalled.txt).
"""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

try:
    from packaging.version import Version
except ImportError:  # packaging is on every Colab image; pip vendors it anyway
    from pip._vendor.packaging.version import Version

COURSE_DIR = Path(__file__).resolve().parent.parent
# The libraries the chapters teach: always the exact tested version.
EXACT = {"transformers", "tokenizers", "datasets", "evaluate", "accelerate", "huggingface-hub", "safetensors"}
# Built for Colab's CUDA: never replaced (constraints.txt pins the CPU machine's torch).
COLAB_OWNS = {"torch", "torchvision", "torchaudio", "triton"}
# Colab packages the new versions break, and the release each is upgraded to when older (checked by
# `make test-colab`): peft before 0.21 fails `from transformers import TrainingArguments` (HybridCache);
# sentence-transformers 5 requires transformers<5; gradio before 6.31 requires huggingface_hub<2.
REPAIRS = {"peft": "0.21.2", "sentence-transformers": "6.3.0", "gradio": "6.31.0"}
RESTART_FLAG = "COURSE_RESTART_NEEDED"  # set in this kernel's environment; a restart clears it
RESTART_SENTENCE = ("Restart the runtime now (Runtime > Restart session), then run the next cells: "
                    "this runtime had already imported {}, which the install replaced.")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_versions() -> dict[str, str]:
    versions = {}
    for dist in importlib.metadata.distributions():
        versions.setdefault(canonical(dist.metadata["Name"]), dist.version)
    return versions


def read_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==")
            pins[canonical(name)] = version.strip()
    return pins


def older(have: str, version: str) -> bool:
    try:
        return Version(have) < Version(version)
    except ValueError:  # a version string that is not PEP 440: leave that package alone
        return False


def constraints(pins: dict[str, str], installed: dict[str, str]) -> list[str]:
    """constraints.txt adapted to a runtime that already has packages of its own."""
    lines = []
    for name, version in pins.items():
        have = installed.get(name)
        if name in COLAB_OWNS or name.startswith("nvidia-"):
            continue
        if name in EXACT or have is None:
            lines.append(f"{name}=={version}")
        elif older(have, version):
            lines.append(f"{name}<={version}")  # kept unless the new libraries need a newer one
    return lines


def repairs(installed: dict[str, str]) -> list[str]:
    return [f"{name}=={version}" for name, version in REPAIRS.items()
            if name in installed and older(installed[name], version)]


def course_installed(installed: dict[str, str]) -> bool:
    """True when course-utils is installed, editable, from this clone."""
    if "course-utils" not in installed:
        return False
    # The build leaves course_utils.egg-info in the clone, which is on sys.path too: look at every copy.
    urls = [json.loads(dist.read_text("direct_url.json") or "{}").get("url", "").rstrip("/")
            for dist in importlib.metadata.distributions(name="course-utils")]
    return COURSE_DIR.as_uri() in urls


def up_to_date(pins: dict[str, str], installed: dict[str, str]) -> bool:
    return (course_installed(installed) and not repairs(installed)
            and all(installed.get(name) == pins[name] for name in EXACT))


def loaded_distributions() -> set[str]:
    """Distributions that have a module imported in this process."""
    top_level = {name.partition(".")[0] for name in list(sys.modules)}
    owners = importlib.metadata.packages_distributions()
    return {canonical(dist) for module in top_level for dist in owners.get(module, [])}


def pip(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], text=True, **kwargs)


def unmet_requirements() -> set[str]:
    return set(pip("check", capture_output=True).stdout.splitlines()) - {"No broken requirements found."}


def main() -> None:
    pins = read_pins(COURSE_DIR / "constraints.txt")
    before = installed_versions()
    if up_to_date(pins, before):
        print("The course and its tested libraries are already installed: nothing to do.")
    else:
        print("Installing the course and the library versions it is tested with (a minute or two) ...")
        loaded = loaded_distributions()
        unmet_before = unmet_requirements()
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints_file:
            constraints_file.write("\n".join(constraints(pins, before)) + "\n")
        result = pip("install", "--quiet", "--no-warn-conflicts", "--root-user-action=ignore",
                     "-c", constraints_file.name, "-e", str(COURSE_DIR), *repairs(before))
        if result.returncode != 0:
            raise SystemExit("The install failed: pip's message is above. Check the runtime's internet "
                             "connection and run this cell again.")
        after = installed_versions()
        changed = {name: (before[name], after.get(name, "removed")) for name in before
                   if after.get(name) != before[name]}
        upgraded = [f"{name} {old} -> {new}" for name, (old, new) in changed.items() if name in REPAIRS]
        if upgraded:
            print(f"Upgraded for the new libraries: {', '.join(upgraded)}.")
        broken = sorted(unmet_requirements() - unmet_before)
        if broken:
            print("Colab packages the course does not use, left with unmet requirements:", *broken, sep="\n  ")
        in_use = sorted(set(changed) & loaded)
        if in_use:
            os.environ[RESTART_FLAG] = ", ".join(in_use)
    if str(COURSE_DIR) not in sys.path:
        sys.path.insert(0, str(COURSE_DIR))  # this kernel started before the install: show it the course
    if os.environ.get(RESTART_FLAG):
        print(RESTART_SENTENCE.format(os.environ[RESTART_FLAG]))


if __name__ == "__main__":
    main()
