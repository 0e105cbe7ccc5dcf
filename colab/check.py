"""`make test-colab`: the chapters' first cell, run the way Colab runs it, on a Colab-like stack.

    python colab/check.py [--repo DIR] [--torch-index "ARGS"]    the check (about 5 minutes; needs PyPI, not the Hub)
    python colab/check.py refresh FREEZE                         rewrite colab/preinstalled.txt from a Colab `pip freeze`

The check:
1. builds a venv under .cache/colab/ holding torch 2.13.0 (CPU) and colab/preinstalled.txt (Colab's versions),
   once, and copies it fresh for every run;
2. makes a git repository of the course as it is on disk (committed or not), for the cell to clone;
3. starts one long-lived Python (IPython, like Colab's kernel) that imports pandas first, as Colab does,
   then runs the install cell of the pipelines chapter twice, with its GitHub address and
   /content/course pointed at that repository and a scratch folder, then tries `import datasets` and
   `from transformers import TrainingArguments` and `env.show_versions()` in that same process;
4. "restarts" (new processes): `pip check`, imports every module a chapter imports and the Colab packages
   built on the Hugging Face libraries, then executes the pipelines and Trainer chapters in smoke mode.
It fails when the cell raises, prints a resolver ERROR or more than a few lines, reinstalls anything on its
second run, leaves a library that fails in the running process without saying to restart, or when any
check after the restart fails. The inner steps run inside the Colab-like venv (`live`, `imports`, `execute`).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PREINSTALLED = HERE / "preinstalled.txt"
TORCH = "torch==2.13.0"
CHAPTERS = ["*_pipelines.ipynb", "*_trainer.ipynb"]  # a pipeline chapter and a Trainer chapter, by topic
# Colab packages built on the Hugging Face libraries: they must still import after the cell.
COLAB_DEPENDENTS = ["peft", "sentence_transformers", "gradio", "diffusers", "gcsfs"]
# The real google-colab's pins that the freeze in preinstalled.txt satisfies (googlecolab/colabtools setup.py).
GOOGLE_COLAB_PINS = ["ipykernel==6.17.1", "ipython==7.34.0", "pandas==2.2.2"]
MAX_OUTPUT_LINES = 8
# This machine's pip configuration names local package mirrors; pip warns about each package they lack.
MACHINE_NOISE = re.compile(r"^WARNING: Location '.*' is ignored")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
BEGIN, END = "----- cell output begins -----", "----- cell output ends -----"


# ---------------------------------------------------------------- outside: build, run, report

def sh(cmd, **kwargs):
    return subprocess.run(cmd, check=True, text=True, **kwargs)


def stand_in_google_colab(folder: Path) -> Path:
    """A wheel named google-colab 1.0.0 that requires what the real one pins, and holds no code."""
    wheel = folder / "google_colab-1.0.0-py3-none-any.whl"
    info = "google_colab-1.0.0.dist-info"
    files = {
        f"{info}/METADATA": "Metadata-Version: 2.1\nName: google-colab\nVersion: 1.0.0\n"
                            + "".join(f"Requires-Dist: {pin}\n" for pin in GOOGLE_COLAB_PINS),
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: colab/check.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
        zf.writestr(f"{info}/RECORD", "".join(f"{name},,\n" for name in files) + f"{info}/RECORD,,\n")
    return wheel


def base_venv(cache: Path, torch_index: list[str]) -> Path:
    """The Colab-like venv, built once per version of preinstalled.txt."""
    base = cache / "base"
    stamp = hashlib.sha256(PREINSTALLED.read_bytes() + TORCH.encode() + GOOGLE_COLAB_PINS.__repr__().encode()).hexdigest()
    if (base / ".stamp").is_file() and (base / ".stamp").read_text() == stamp:
        return base
    print(f"Building the Colab-like venv in {base} (once; a few minutes) ...", flush=True)
    shutil.rmtree(base, ignore_errors=True)
    sh([sys.executable, "-m", "venv", str(base)])
    python = str(base / "bin" / "python")
    pip = [python, "-m", "pip", "install", "--quiet", "--no-deps"]
    sh(pip + [TORCH, *torch_index])  # first, so that nothing pulls a CUDA build
    sh(pip + ["-r", str(PREINSTALLED)])
    sh(pip + [str(stand_in_google_colab(cache))])
    sh([python, "-m", "pip", "check"])
    (base / ".stamp").write_text(stamp)
    return base


def snapshot(repo: Path, dest: Path) -> Path:
    """A git repository holding the course's files as they are on disk, for the cell to clone."""
    files = sh(["git", "-C", str(repo), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
               capture_output=True).stdout.split("\0")
    for name in filter(None, files):
        source = repo / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git = ["git", "-C", str(dest), "-c", "user.name=colab-check", "-c", "user.email=colab-check@localhost"]
    sh(["git", "init", "--quiet", str(dest)])
    sh(git + ["add", "-A"])
    sh(git + ["commit", "--quiet", "-m", "snapshot for make test-colab"])
    return dest


def install_cell(notebook: Path) -> str:
    nb = json.loads(notebook.read_text())
    sources = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    return next(s for s in sources if "google.colab" in s and ("%pip" in s or "install" in s))


class Report:
    def __init__(self):
        self.failures = []

    def check(self, ok: bool, what: str, why: str = ""):
        print(f"  {'ok  ' if ok else 'FAIL'}  {what}" + ("" if ok else f"\n        {why}"), flush=True)
        if not ok:
            self.failures.append(what)


def learner_lines(text: str) -> list[str]:
    lines = (ANSI.sub("", line) for line in text.splitlines())
    return [line for line in lines if line.strip() and not MACHINE_NOISE.match(line)]


def indented(text: str, limit: int = 3000) -> str:
    return "\n        ".join(learner_lines(text[-limit:]))


def run(args) -> int:
    started = time.time()
    repo = Path(args.repo).resolve()
    cache = ROOT / ".cache" / "colab"
    cache.mkdir(parents=True, exist_ok=True)
    base = base_venv(cache, shlex.split(args.torch_index))
    work = cache / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    # Hard links: pip replaces files (new inodes) rather than writing into them, so the base stays as built.
    shutil.copytree(base, work / "venv", symlinks=True, copy_function=os.link)
    python = str(work / "venv" / "bin" / "python")
    origin = snapshot(repo, work / "origin")
    content = work / "content"
    content.mkdir()
    chapters = [next((repo / "notebooks").glob(pattern)).name for pattern in CHAPTERS]
    cell = install_cell(repo / "notebooks" / chapters[0])
    url = re.search(r"https://github\.com/\S+?\.git", cell).group(0)
    cell = cell.replace(url, origin.as_uri()).replace("/content/course", str(content / "course"))
    (work / "cell.py").write_text(cell)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    setup_s = time.time() - started
    report = Report()

    print(f"\nThe first cell, in a running kernel that imported pandas first ({chapters[0]}):", flush=True)
    live = subprocess.run([python, __file__, "live", str(work / "cell.py"), str(content)], env=env,
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # one stream, as Colab shows it
    out = live.stdout
    (work / "live.log").write_text(out)
    if "RESULT " not in out:
        print(out[-4000:])
        report.check(False, "the simulated kernel ran to the end", "see .cache/colab/run/live.log")
        return 1
    result = json.loads(out.rsplit("RESULT ", 1)[1])
    for run_, output in zip(result["runs"], re.findall(re.escape(BEGIN) + r"\n(.*?)" + re.escape(END), out, re.S)):
        run_["output"] = output
    first = learner_lines(result["runs"][0]["output"])
    print("  what the learner sees on the first run:\n" + "\n".join(f"    | {line}" for line in first))
    print(f"  first run {result['runs'][0]['seconds']:.0f} s, second run {result['runs'][1]['seconds']:.1f} s")
    for i, label in enumerate(["first", "second"]):
        report.check(result["runs"][i]["ok"], f"the cell's {label} run raises nothing",
                     result["runs"][i]["output"][-1500:])
    errors = [line for line in first if "ERROR" in line]
    report.check(not errors, "no ERROR in the cell's output", "\n        ".join(errors))
    report.check(len(first) <= MAX_OUTPUT_LINES, f"the output is short (at most {MAX_OUTPUT_LINES} lines)",
                 f"{len(first)} lines")
    report.check(not result["reinstalled"], "a second run installs nothing",
                 f"reinstalled: {', '.join(result['reinstalled'])}")
    said_restart = bool(re.search(r"restart the (runtime|session)", result["runs"][0]["output"], re.I))
    broken_live = {probe: err for probe, err in result["probes"].items() if err}
    report.check(not broken_live or said_restart, "the cell says to restart when the running kernel needs it",
                 "in the same kernel, after the cell:\n        "
                 + "\n        ".join(f"{probe}: {err}" for probe, err in broken_live.items()))
    versions_say_restart = "restart the runtime" in result["show_versions"].lower()
    report.check(not broken_live or versions_say_restart,
                 "env.show_versions() in that kernel says to restart, not the new versions",
                 indented(result["show_versions"], 800))

    print("\nAfter a restart (new processes):", flush=True)
    check = subprocess.run([python, "-m", "pip", "check"], env=env, text=True, capture_output=True)
    report.check(check.returncode == 0, "pip check", indented(check.stdout))
    imports = subprocess.run([python, __file__, "imports", str(content / "course" / "notebooks")], env=env,
                             text=True, capture_output=True, cwd=content)
    report.check(imports.returncode == 0, "every module the chapters import, and Colab's "
                 + ", ".join(COLAB_DEPENDENTS) + ", import",
                 indented(imports.stdout + imports.stderr))
    smoke = subprocess.run([python, "-m", "course_utils.smoke", "build", str(work / "smoke")], env=env,
                           text=True, capture_output=True, cwd=content)
    exports = re.search(r"export (.+)", smoke.stdout)
    report.check(smoke.returncode == 0 and exports is not None, "the smoke cache builds",
                 indented(smoke.stdout + smoke.stderr))
    if exports:
        env.update(dict(pair.split("=", 1) for pair in exports.group(1).split()))
        env.update(MPLBACKEND="Agg", TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1",  # as conftest.py
                   HF_HUB_DISABLE_PROGRESS_BARS="1", TRANSFORMERS_VERBOSITY="error",
                   PYDEVD_DISABLE_FILE_VALIDATION="1")  # ipykernel's debugger notes, not the chapter's
        for chapter in chapters:
            t0 = time.time()
            ran = subprocess.run([python, __file__, "execute", str(content / "course" / "notebooks" / chapter),
                                  str(content)], env=env, text=True, capture_output=True)
            report.check(ran.returncode == 0, f"{chapter} runs in smoke mode ({time.time() - t0:.0f} s)",
                         indented(ran.stdout + ran.stderr))
    print(f"\nmake test-colab: {len(report.failures)} failed, {time.time() - started:.0f} s in all "
          f"({setup_s:.0f} s to set up the venv and the clone)")
    return 1 if report.failures else 0


# ---------------------------------------------------------------- inside the Colab-like venv

def dist_info_state() -> dict[str, int]:
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    return {d.name: d.stat().st_mtime_ns for d in site.iterdir() if d.name.endswith(".dist-info")}


def live(cell_file: str, content: str) -> None:
    """One long-lived kernel: pandas first, the cell twice, then what a learner's next cells would do."""
    import io
    from contextlib import redirect_stdout

    import pandas  # noqa: F401  Colab's runtime imports pandas (and with it pyarrow) before any cell

    import importlib.machinery
    import importlib.util

    # What the cell tests for; a module with a spec, as the real one has (transformers looks specs up).
    sys.modules["google.colab"] = importlib.util.module_from_spec(importlib.machinery.ModuleSpec("google.colab", None))
    os.chdir(content)
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    cell = Path(cell_file).read_text()
    runs = []
    for attempt in range(2):
        if attempt == 1:
            state = dist_info_state()
        print(BEGIN, flush=True)
        t0 = time.time()
        outcome = shell.run_cell(cell)
        sys.stdout.flush()
        print(END, flush=True)
        runs.append({"ok": outcome.success, "seconds": time.time() - t0})
    reinstalled = sorted(name for name, mtime in dist_info_state().items() if state.get(name) != mtime)
    probes = {}
    for probe in ["import datasets", "from transformers import TrainingArguments"]:
        try:
            exec(probe, {})
            probes[probe] = None
        except Exception as err:  # what the learner's next cell would show
            probes[probe] = f"{type(err).__name__}: {err}"[:300]
    buffer = io.StringIO()
    try:
        with redirect_stdout(buffer):
            from course_utils import environment as env

            env.show_versions()
    except Exception as err:
        buffer.write(f"{type(err).__name__}: {err}")
    print("RESULT " + json.dumps({"runs": runs, "reinstalled": reinstalled, "probes": probes,
                                  "show_versions": buffer.getvalue()}))


def chapter_imports(notebooks: str) -> int:
    import nbformat
    from IPython.core.inputtransformer2 import TransformerManager

    modules = set()
    for path in sorted(Path(notebooks).glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "google.colab" in cell.source:
                continue
            for node in ast.walk(ast.parse(TransformerManager().transform_cell(cell.source))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.partition(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0:
                    modules.add(node.module.partition(".")[0])
    failed = 0
    for name in sorted(modules) + COLAB_DEPENDENTS:
        try:
            __import__(name)
        except Exception as err:
            failed += 1
            print(f"import {name}: {type(err).__name__}: {str(err)[:300]}")
    print(f"{len(modules)} modules the chapters import, {len(COLAB_DEPENDENTS)} Colab packages: {failed} failed")
    return 1 if failed else 0


def execute(notebook: str, cwd: str) -> int:
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": cwd}})
    try:
        client.execute()  # cells tagged skip-execution (the install cell) are skipped, as in CI
    except CellExecutionError as err:
        print(str(err)[-3000:])
        return 1
    return 0


# ---------------------------------------------------------------- refresh preinstalled.txt

def refresh(freeze: str) -> int:
    """Resolve the names in preinstalled.txt again, with a Colab `pip freeze` as constraints."""
    text = PREINSTALLED.read_text()
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    names = [line.split("==")[0] for line in text.splitlines() if "==" in line and not line.startswith("#")]
    ours = re.compile(r"^(torch|torchvision|torchaudio|triton|nvidia-|setuptools==)", re.I)  # see the header
    pins = [line for line in Path(freeze).read_text().splitlines()
            if "==" in line and not line.startswith("#") and "@" not in line and not ours.match(line)]
    pins += [line for line in text.splitlines() if line.lower().startswith("setuptools==")]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "c.txt").write_text("\n".join(pins) + "\n")
        (Path(tmp) / "r.txt").write_text("\n".join([TORCH] + names) + "\n")
        sh([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
            f"{tmp}/report.json", "-r", f"{tmp}/r.txt", "-c", f"{tmp}/c.txt"])
        report = json.loads((Path(tmp) / "report.json").read_text())
    resolved = sorted((i["metadata"]["name"], i["metadata"]["version"]) for i in report["install"])
    body = [f"{n}=={v}" for n, v in resolved if n.lower() != "torch"]
    PREINSTALLED.write_text(header + "\n".join(body) + "\n")
    print(f"{PREINSTALLED}: {len(body)} packages. Update its header (source, date), then run make test-colab.")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", nargs="?", default="run", choices=["run", "refresh", "live", "imports", "execute"])
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--repo", default=str(ROOT), help="the course checkout whose first cell to test")
    parser.add_argument("--torch-index", default="", help="pip options for torch (the Makefile's TORCH_INDEX)")
    args = parser.parse_args()
    if args.command == "live":
        live(*args.paths)
        return 0
    if args.command == "imports":
        return chapter_imports(*args.paths)
    if args.command == "execute":
        return execute(*args.paths)
    if args.command == "refresh":
        return refresh(*args.paths)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
