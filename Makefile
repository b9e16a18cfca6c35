# Two commands set everything up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test test-ui lint bench clean

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

# The one test the suite skips without them: the MLflow UI in a real browser (tests/test_tracking.py).
# mlflow (the UI server), Playwright, and Debian's Chromium (Playwright's own download needs the
# internet): about 2 minutes to install.
test-ui: $(BIN)/nncli
	$(BIN)/pip install --quiet 'mlflow>=3.1,<4' playwright
	command -v chromium-headless-shell || (apt-get update -q && apt-get install -y -q chromium-headless-shell)
	$(BIN)/pytest tests/test_tracking.py -k real_browser -rs

bench: $(BIN)/nncli
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) runs comparisons mlruns
