# Two commands do all the set-up on a fresh machine (Python 3.10-3.13 with venv):
#   make lab    install everything into .venv and open the course in JupyterLab
#   make test   install everything into .venv and run the whole test suite, notebooks included
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The tested set of versions; `make test CONSTRAINTS=` tries the newest releases instead.
CONSTRAINTS ?= constraints.txt
TORCH ?= torch==2.13.0
# On Linux without an NVIDIA GPU, take PyTorch's CPU build: the default wheel drags in gigabytes of CUDA.
TORCH_INDEX ?= $(if $(and $(filter Linux,$(shell uname -s)),$(if $(shell command -v nvidia-smi),,cpu)),--extra-index-url https://download.pytorch.org/whl/cpu --retries 1)
PYTEST_ARGS ?= -n auto -v
# Jupyter refuses to start as root (containers, some cloud VMs) unless told it is intended.
JUPYTER_ARGS ?= --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: install lab lab-smoke test test-colab smoke-cache constraints clean verify-real

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/activate pyproject.toml $(CONSTRAINTS)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "Installing PyTorch ($(TORCH)) first, so that nothing else pulls a different build ..."
	$(BIN)/python -m pip install --no-deps "$(TORCH)" $(TORCH_INDEX)
	$(BIN)/python -m pip install $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e ".[dev,lab]"
	touch $@

install: $(VENV)/.installed

lab: install
	@echo "Opening the course: JupyterLab prints the URL to open below (Ctrl+C twice to stop)."
	$(BIN)/jupyter lab $(JUPYTER_ARGS)

# The course on tiny offline stand-ins, as the tests see it (no network needed).
lab-smoke: install smoke-cache
	HF_HOME=$(CURDIR)/.cache/smoke HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 COURSE_SMOKE=1 \
	  $(BIN)/jupyter lab $(JUPYTER_ARGS)

smoke-cache: install
	$(BIN)/python -m course_utils.smoke build .cache/smoke

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The chapters' Colab first cell on a Colab-like preinstalled stack (colab/preinstalled.txt), in its own venv
# under .cache/colab/ (not .venv): pip check, the chapters' imports, the pipelines and Trainer chapters in smoke mode.
# Needs PyPI, not the Hub; a few minutes. Not part of `make test`.
test-colab:
	$(PYTHON) colab/check.py --torch-index="$(TORCH_INDEX)"

# Real pretrained weights on real data, offline: does each fine-tuning recipe learn? About half an hour
# of a 2-core CPU (two epochs per recipe; README). DATA_DIR: real MRPC and NSMC in the COURSE_DATA_DIR layout (README); without it, the Hub.
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

clean:
	rm -rf $(VENV) .cache .pytest_cache
