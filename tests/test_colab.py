"""The Colab first cell and colab/install.py, without Colab: cheap checks of what `make test-colab` runs for real."""

import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from course_utils import environment as env
from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
install = load_script(ROOT / "colab" / "install.py", "colab_install")


def install_cells():
    return {p.name: nbformat.read(p, as_version=4).cells[1:3] for p in NOTEBOOKS}


def test_the_install_cell_is_the_same_in_every_notebook():
    cells = install_cells()
    first = cells[NOTEBOOKS[0].name]
    for name, (markdown, code) in cells.items():
        assert code.cell_type == "code" and "skip-execution" in code.metadata.get("tags", []), name
        assert code.source == first[1].source, f"{name}: its install cell differs from {NOTEBOOKS[0].name}'s"
        assert markdown.source == first[0].source, f"{name}: the set-up note differs from {NOTEBOOKS[0].name}'s"
    assert "colab/install.py" in first[1].source


def test_the_clone_line_can_run_twice(tmp_path):
    # The cell's `!` line, pointed at a local repository: a second run must not fail on the existing folder.
    origin = tmp_path / "origin"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(origin)], check=True)
    (origin / "README.md").write_text("course\n")
    subprocess.run(git + ["-C", str(origin), "add", "-A"], check=True)
    subprocess.run(git + ["-C", str(origin), "commit", "-qm", "x"], check=True)
    source = nbformat.read(NOTEBOOKS[0], as_version=4).cells[2].source
    line = next(s.strip()[1:] for s in source.splitlines() if s.strip().startswith("!"))
    url = re.search(r"https://github\.com/\S+?\.git", line).group(0)
    command = line.replace(url, origin.as_uri()).replace("/content/course", str(tmp_path / "course"))
    for attempt in (1, 2):
        ran = subprocess.run(["bash", "-c", command], capture_output=True, text=True)
        assert ran.returncode == 0, f"run {attempt}: {ran.stderr}"
    assert (tmp_path / "course" / "README.md").is_file()


def test_constraints_leave_colab_torch_alone_and_pin_the_hugging_face_libraries():
    pins = install.read_pins(ROOT / "constraints.txt")
    assert pins["torch"] == "2.13.0"  # the CPU machine's torch: never for Colab
    colab = {"torch": "2.8.0+cu126", "transformers": "4.57.1", "pyarrow": "18.1.0", "numpy": "2.0.2",
             "requests": "99.0"}
    lines = install.constraints(pins, colab)
    assert not [pin for pin in lines if pin.startswith("torch")]
    assert f"transformers=={pins['transformers']}" in lines  # upgraded to the tested version
    assert f"pyarrow<={pins['pyarrow']}" in lines  # Colab's kept unless a library needs newer, then tested
    assert not [pin for pin in lines if pin.startswith("requests")]  # Colab's is newer: never downgraded
    assert f"korpora=={pins['korpora']}" in lines  # not on Colab: the tested version


def test_repairs_only_upgrade_older_packages_colab_has():
    assert install.repairs({"peft": "0.17.1", "sentence-transformers": "9.0"}) == [f"peft=={install.REPAIRS['peft']}"]
    assert install.repairs({}) == []


@pytest.fixture
def fake_runtime(monkeypatch, capsys):
    """install.main() with pip and the installed packages faked: returns the pip calls made."""
    pins = {"transformers": "5.23.0", "pyarrow": "26.0.1"}
    old = {"transformers": "4.57.1", "pyarrow": "18.1.0", "peft": "0.17.1", "course-utils": "0.1.0"}
    new = {**old, "transformers": "5.23.0", "pyarrow": "26.0.1", "peft": install.REPAIRS["peft"]}
    state = {"installed": old}
    calls = []

    def fake_pip(*args, **kwargs):
        calls.append(args)
        if args[0] == "install":
            state["installed"] = new
        return types.SimpleNamespace(returncode=0, stdout="No broken requirements found.\n")

    monkeypatch.delenv(install.RESTART_FLAG, raising=False)
    monkeypatch.setattr(install, "read_pins", lambda path: pins)
    monkeypatch.setattr(install, "EXACT", {"transformers"})
    monkeypatch.setattr(install, "installed_versions", lambda: dict(state["installed"]))
    monkeypatch.setattr(install, "course_installed", lambda installed: installed == new)
    monkeypatch.setattr(install, "pip", fake_pip)
    monkeypatch.setattr(sys, "path", list(sys.path))
    return state, calls, capsys


def test_main_installs_once_then_says_restart_when_a_loaded_library_changed(fake_runtime, monkeypatch):
    _state, calls, capsys = fake_runtime
    monkeypatch.setattr(install, "loaded_distributions", lambda: {"pyarrow", "pandas"})
    install.main()
    out = capsys.readouterr().out
    assert [c[0] for c in calls] == ["check", "install", "check"]
    assert f"peft 0.17.1 -> {install.REPAIRS['peft']}" in out
    assert re.search(r"Restart the runtime now .* imported pyarrow, which the install replaced", out)
    install.main()  # a second run, before the restart: installs nothing, still says to restart
    out = capsys.readouterr().out
    assert [c[0] for c in calls] == ["check", "install", "check"] and "nothing to do" in out
    assert "Restart the runtime now" in out


def test_main_says_nothing_about_restarting_when_nothing_loaded_changed(fake_runtime, monkeypatch):
    _state, _calls, capsys = fake_runtime
    monkeypatch.setattr(install, "loaded_distributions", lambda: {"numpy"})
    install.main()
    assert "Restart" not in capsys.readouterr().out
    assert str(install.COURSE_DIR) in sys.path


def test_show_versions_says_restart_when_a_module_in_memory_is_older_than_installed(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", types.SimpleNamespace(__version__="0.0.1"))
    assert env.stale_modules()["pyarrow"][0] == "0.0.1"
    env.show_versions()
    out = capsys.readouterr().out
    assert "0.0.1 in memory" in out and "restart the runtime" in out.lower()


def test_show_versions_is_quiet_when_memory_matches_disk(capsys):
    import pandas  # noqa: F401  (and with it pyarrow and numpy: loaded, and as installed)

    assert "pyarrow" in sys.modules and env.stale_modules() == {}
    env.show_versions()
    assert "restart" not in capsys.readouterr().out.lower()


def test_make_test_colab_is_separate_from_make_test_and_runs_weekly():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^test-colab:", makefile, re.MULTILINE)
    test_recipe = re.search(r"^test: .*\n((?:\t.*\n)*)", makefile, re.MULTILINE).group(0)
    assert "colab" not in test_recipe
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    assert "make test-colab" in workflow


def test_preinstalled_list_says_where_it_comes_from_and_pins_everything_but_torch():
    text = (ROOT / "colab" / "preinstalled.txt").read_text()
    header = "\n".join(s for s in text.splitlines() if s.startswith("#"))
    assert "pip freeze" in header and re.search(r"20\d\d-\d\d-\d\d", header) and "approximation" in header
    packages = [s for s in text.splitlines() if s and not s.startswith("#")]
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+==[^=\s]+", pin) for pin in packages)
    names = {pin.split("==")[0].lower() for pin in packages}
    assert "torch" not in names and {"transformers", "pyarrow", "pandas", "peft", "sentence-transformers"} <= names
