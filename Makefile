# The two commands of the README: `make demo` and `make test`. Both set up .venv from scratch:
# the demo needs the package alone; the tests add their tools and every extra (torch, JAX,
# ONNX, Jupyter, Ray: some GB), installed on top of the same .venv on the first `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE := $(BIN)/.installed-base
EXTRAS := $(BIN)/.installed-test
export TF_CPP_MIN_LOG_LEVEL := 2
# Tests: oneDNN off for reproducible logs and numerics (the demo keeps the faster default),
# and a Keras cache of their own; the demo uses the user's (~/.keras), where `keras-seg
# weights fetch` puts published weights.
test: export TF_ENABLE_ONEDNN_OPTS := 0
test: export KERAS_HOME := $(CURDIR)/.keras_home

.PHONY: demo test lint install

$(BASE): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(EXTRAS): $(BASE)
	$(BIN)/python -m pip install --quiet -e ".[test,torch,jax,notebooks,export,augment,coco,hub,ray]"
	# loss tests' reference; --no-deps: its losses need only torch, PyPI's torchvision won't run
	$(BIN)/python -m pip install --quiet --no-deps segmentation-models-pytorch==0.6.0
	touch $@

install: $(EXTRAS)

demo: $(BASE)
	$(BIN)/keras-seg demo --out build/demo

lint: $(EXTRAS)
	$(BIN)/ruff check .

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)
