# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: demo test setup setup-test lint typecheck pytest bench clean

$(BIN)/python:
	scripts/ensure-venv.sh $(PYTHON) $(VENV)

# The first command: set up and run the whole platform on the embedded default.
demo: setup
	$(BIN)/openmyna demo $(ARGS)

setup: $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[pg,nats]'

# The second command: set up everything the tests need, then lint, type-check and test.
test: setup-test lint typecheck pytest

setup-test: $(BIN)/python
	scripts/setup-test-env.sh
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[pg,nats,pcsc,dev]'

lint:
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck:
	$(BIN)/mypy src benchmarks

pytest:
	$(BIN)/pytest $(ARGS)

bench: setup
	$(BIN)/python -m benchmarks.numbers

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
