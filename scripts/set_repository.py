"""Point every Colab badge and Colab install cell at the course's repository, written in one place.

The address lives in pyproject.toml, `[project.urls] Repository = "https://github.com/OWNER/NAME"`. It appears
in the Colab badge of each notebook's first cell (English and Korean, notebooks/ko/) and of the chapter tables of
README.md and README.ko.md
(`https://colab.research.google.com/github/OWNER/NAME/blob/main/notebooks/...`), and in the `git clone` of each
notebook's Colab install cell (`https://github.com/OWNER/NAME.git`).

    python scripts/set_repository.py              # rewrite every place from pyproject.toml
    python scripts/set_repository.py OWNER/NAME   # publish under another address: pyproject.toml first, then the rest
    python scripts/set_repository.py --check      # list the places that disagree with pyproject.toml (exit 1)

`make badges REPO=OWNER/NAME` runs the second form. Only the address changes: the notebooks are rewritten
byte for byte as nbformat writes them (standard library only, so it runs before `make install`).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = r"[A-Za-z0-9_.-]+"
PYPROJECT_URL = re.compile(r'^(Repository\s*=\s*")https://github\.com/([^"/]+/[^"/]+?)/?(")$', re.MULTILINE)
# The two shapes the address takes, each with the OWNER/NAME part as group 2.
BADGE = re.compile(rf"(https://colab\.research\.google\.com/github/)({NAME}/{NAME})(/blob/)")
CLONE = re.compile(rf"(https://github\.com/)({NAME}/{NAME})(\.git\b)")
PATTERNS = (BADGE, CLONE)


def configured(root: Path = ROOT) -> str:
    """OWNER/NAME from pyproject.toml's [project.urls] Repository."""
    found = PYPROJECT_URL.search((root / "pyproject.toml").read_text(encoding="utf-8"))
    if not found:
        raise SystemExit('pyproject.toml needs [project.urls] Repository = "https://github.com/OWNER/NAME"')
    return found.group(2)


def notebooks(root: Path = ROOT) -> list[Path]:
    """The English chapters, then their Korean twins."""
    return sorted((root / "notebooks").glob("*.ipynb")) + sorted((root / "notebooks" / "ko").glob("*.ipynb"))


def readmes(root: Path = ROOT) -> list[Path]:
    return [path for path in (root / "README.md", root / "README.ko.md") if path.is_file()]


def _cells_with_the_address(nb: dict) -> list[dict]:
    """The title cell (badge) and the Colab install cell (git clone): the only cells that carry the address."""
    install = [c for c in nb["cells"] if c["cell_type"] == "code" and "google.colab" in "".join(c["source"])]
    return nb["cells"][:1] + install[:1]


def found_addresses(root: Path = ROOT) -> list[tuple[str, str]]:
    """(place, OWNER/NAME) for every badge and clone address in the README, the notebooks and colab/."""
    places = []
    texts = [(path, path.read_text(encoding="utf-8")) for path in [*readmes(root), *sorted((root / "colab").glob("*"))]
             if path.is_file()]
    texts += [(path, path.read_text(encoding="utf-8")) for path in notebooks(root)]
    for path, text in texts:
        for pattern in PATTERNS:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                places.append((f"{path.relative_to(root)}:{line}", match.group(2)))
    return places


def disagreements(root: Path = ROOT) -> list[str]:
    repo = configured(root)
    return [f"{place}: {found} (pyproject.toml says {repo})" for place, found in found_addresses(root) if found != repo]


def _rewrite(text: str, repo: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + repo + m.group(3), text)
    return text


def write_everywhere(repo: str, root: Path = ROOT) -> list[Path]:
    """Rewrite the address in pyproject.toml, the README, the notebooks' badge and install cells and colab/;
    returns the files that changed."""
    if not re.fullmatch(rf"{NAME}/{NAME}", repo) or repo.endswith(".git"):
        raise SystemExit(f"REPO must look like OWNER/NAME (as in github.com/OWNER/NAME), got {repo!r}")
    changed = []
    pyproject = root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    if not PYPROJECT_URL.search(text):
        configured(root)  # exits with the explanation
    new = PYPROJECT_URL.sub(lambda m: f"{m.group(1)}https://github.com/{repo}{m.group(3)}", text)
    if new != text:
        pyproject.write_text(new, encoding="utf-8")
        changed.append(pyproject)
    for path in [*readmes(root), *sorted((root / "colab").glob("*"))]:
        if path.is_file() and path.suffix in {".md", ".py", ".txt"}:
            text = path.read_text(encoding="utf-8")
            if _rewrite(text, repo) != text:
                path.write_text(_rewrite(text, repo), encoding="utf-8")
                changed.append(path)
    for path in notebooks(root):
        text = path.read_text(encoding="utf-8")
        nb = json.loads(text)
        for cell in _cells_with_the_address(nb):
            source = cell["source"]
            cell["source"] = [_rewrite(line, repo) for line in source] if isinstance(source, list) else _rewrite(source, repo)
        new = json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # what nbformat.write produces
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", nargs="?", help="OWNER/NAME on GitHub (default: the one pyproject.toml names)")
    parser.add_argument("--check", action="store_true", help="only list the places that disagree")
    args = parser.parse_args(argv)
    if args.check:
        wrong = disagreements()
        print("\n".join(wrong) or f"every badge and install cell points at {configured()}")
        return 1 if wrong else 0
    repo = args.repo or configured()
    changed = write_everywhere(repo)
    print(f"{len(changed)} files changed; every badge and install cell points at github.com/{repo}")
    for path in changed:
        print("  " + str(path.relative_to(ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
