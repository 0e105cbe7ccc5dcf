"""The set-up files agree with each other: pyproject is the one dependency list, the others follow it."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _requirements():
    reqs = PYPROJECT["dependencies"] + [r for extra in PYPROJECT["optional-dependencies"].values() for r in extra]
    return [Requirement(r) for r in reqs]


def _constraints():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_constraints_pin_every_dependency_inside_its_bounds():
    pins = _constraints()
    for req in _requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"constraints.txt does not pin {req.name}: run `make constraints`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} breaks '{req}'"


def test_torch_pin_has_no_local_build_tag():
    # `torch==2.13.0` matches the CPU build (2.13.0+cpu) and the CUDA build alike, on every platform.
    assert re.fullmatch(r"\d+\.\d+\.\d+", _constraints()["torch"])


def test_environment_yml_installs_the_package_with_its_constraints():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    python = next(d for d in conda if d.startswith("python="))
    assert SpecifierSet(PYPROJECT["requires-python"]).contains(python.split("=")[1] + ".0")
    assert pip == ["-c constraints.txt", "-e .[dev,lab]"], "the dependency list belongs in pyproject.toml only"
    assert all(d.split("=")[0] in {"python", "pip"} for d in conda), "no second copy of the dependencies"


def test_makefile_python_matches_requires_python():
    spec = SpecifierSet(PYPROJECT["requires-python"])
    assert spec.contains("3.11.0"), "the machines CI runs on have Python 3.11"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and re.search(r"^make test$", ci, re.MULTILINE)
    workflow = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    assert "make test" in workflow and "schedule" in workflow
