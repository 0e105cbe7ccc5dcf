"""One repository address: pyproject.toml's [project.urls] Repository. Every Colab badge (notebooks' first cell,
README table) and every Colab install cell's `git clone` agree with it, and `make badges REPO=OWNER/NAME`
(scripts/set_repository.py) moves them all, and nothing else.
"""

import shutil
import subprocess
from pathlib import Path

import pytest

from script_module import load_script

ROOT = Path(__file__).resolve().parents[1]
set_repository = load_script(ROOT / "scripts" / "set_repository.py")


def test_every_badge_and_install_cell_points_at_the_one_address():
    assert set_repository.disagreements() == []
    places = [place.split(":")[0] for place, _ in set_repository.found_addresses()]
    for notebook in set_repository.notebooks():
        where = str(notebook.relative_to(ROOT))
        assert places.count(where) == 2, f"{where}: a badge and a git clone"
    english = [p for p in set_repository.notebooks() if p.parent.name == "notebooks"]
    korean = [p for p in set_repository.notebooks() if p.parent.name == "ko"]
    assert places.count("README.md") == len(english), "one README badge per chapter"
    assert places.count("README.ko.md") == len(korean) == len(english), "one README.ko.md badge per Korean chapter"


def test_a_stray_address_is_reported(tmp_path):
    copy, repo = scratch_copy(tmp_path), set_repository.configured()
    readme = copy / "README.md"
    readme.write_text(readme.read_text().replace(f"/github/{repo}/", "/github/someone/old/", 1))
    assert [line.split(": ")[1] for line in set_repository.disagreements(copy)] == [
        f"someone/old (pyproject.toml says {repo})"]


def scratch_copy(tmp_path):
    for name in ["pyproject.toml", "README.md", "README.ko.md"]:
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ["notebooks", "colab"]:
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "*-model",
                                                                                      "checkpoints", "outputs"))
    return tmp_path


def test_publishing_under_another_address_changes_every_address_and_only_them(tmp_path):
    copy = scratch_copy(tmp_path)
    old = set_repository.configured()
    new = "someone/else" if old != "someone/else" else "someone/other"
    before = {p: p.read_text(encoding="utf-8") for p in copy.rglob("*") if p.is_file()}
    changed = set_repository.write_everywhere(new, root=copy)
    assert set_repository.configured(copy) == new
    assert set_repository.disagreements(copy) == []
    assert {found for _, found in set_repository.found_addresses(copy)} == {new}
    assert len(set_repository.found_addresses(copy)) == len(set_repository.found_addresses())
    assert len(changed) == 3 + len(set_repository.notebooks())  # pyproject.toml, both READMEs, every notebook
    for path, text in before.items():  # nothing but the address moved
        assert path.read_text(encoding="utf-8").replace(new, old) == text, path.name
    set_repository.write_everywhere(old, root=copy)  # and back, byte for byte
    assert all(path.read_text(encoding="utf-8") == text for path, text in before.items())


@pytest.mark.parametrize("repo", ["someone", "https://github.com/someone/else", "someone/else.git", "a/b/c"])
def test_a_repository_that_is_not_owner_slash_name_is_refused(repo, tmp_path):
    with pytest.raises(SystemExit, match="OWNER/NAME"):
        set_repository.write_everywhere(repo, root=scratch_copy(tmp_path))


def test_make_badges_runs_the_script_with_the_new_address():
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry = subprocess.run(["make", "-n", "badges", "REPO=someone/else"], cwd=ROOT, capture_output=True, text=True)
    assert dry.returncode == 0 and "scripts/set_repository.py someone/else" in dry.stdout, dry.stdout + dry.stderr
