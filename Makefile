# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/nncli: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The CPU build from local disk first: an unpinned torch would pull a ~5 GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/nncli
	$(BIN)/nncli train configs/moons.yaml

test: $(BIN)/nncli
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n auto  # one worker per core: each test pins torch to one thread

bench: $(BIN)/nncli
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs comparisons
