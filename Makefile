# Two commands on a fresh machine: `make demo` (the main job) and `make test` (the test suite).
# `make test-fast` is the edit-test loop: everything but the end-to-end runs (marker `e2e`).
# Both create .venv and install the pinned stack first (tools/bootstrap.sh) when it is missing or
# older than the requirement files; with everything present that step is skipped.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEPS   := setup.py tools/bootstrap.sh $(wildcard requirements/*.txt)

.PHONY: demo test test-fast lint setup clean

$(STAMP): $(DEPS)
	bash tools/bootstrap.sh

setup: $(STAMP)

demo: $(STAMP)
	$(PY) tools/toy_tasks.py

test: $(STAMP)
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not e2e" $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf work_dirs .pytest_cache .ruff_cache
