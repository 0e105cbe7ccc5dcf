"""Give every notebook the top-level metadata a Jupyter kernel writes, so that opening a chapter changes nothing.

JupyterLab, when a chapter's kernel starts, sets `kernelspec` from the kernel's spec ("Python 3 (ipykernel)") and
`language_info` from the kernel (ipykernel's `language_info`). The notebooks carry exactly that, except
`language_info.version`, the learner's own Python version: the git filter `make lab` installs strips it (with
the outputs), so it never shows as a change. Run after adding a chapter: `python scripts/notebook_metadata.py`
(needs ipykernel and nbformat, which `make install` puts in .venv). Nothing but the top-level metadata changes.
"""

import sys
from pathlib import Path

import nbformat

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def kernel_metadata() -> dict:
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    spec = get_kernel_dict()
    return {"kernelspec": {"display_name": spec["display_name"], "language": spec["language"], "name": KERNEL_NAME},
            "language_info": {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}}


def main() -> int:
    metadata = kernel_metadata()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        if nb.metadata != metadata:
            nb.metadata = nbformat.from_dict(metadata)
            path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
            print(f"updated {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
