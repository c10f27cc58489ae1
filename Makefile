# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
ARGS   ?=

.PHONY: demo test setup setup-test lint typecheck pytest bench lock locale clean

$(BIN)/python:
	scripts/ensure-venv.sh $(PYTHON) $(VENV)

# The first command: set up and run the whole platform on the embedded default.
demo: setup
	$(BIN)/openmyna demo $(ARGS)

# Installs exactly the locked, hash-checked releases, then openmyna itself on top of them.
PIP := $(BIN)/pip --disable-pip-version-check

setup: $(BIN)/python
	$(PIP) install --quiet --require-hashes -r requirements/demo.txt
	$(PIP) install --quiet --no-deps -e .

# The second command: set up everything the tests need, then lint, type-check and test.
test: setup-test lint typecheck pytest

setup-test: $(BIN)/python
	scripts/setup-test-env.sh
	$(PIP) install --quiet --require-hashes -r requirements/test.txt
	$(PIP) install --quiet --no-deps -e .

lint:
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples

# Each conftest.py on its own: in one run they would all be the module `conftest` (pyproject.toml).
typecheck:
	$(BIN)/mypy src benchmarks tests examples
	for f in $$(find tests -name conftest.py | sort); do $(BIN)/mypy "$$f" || exit 1; done

# On every core (pytest-xdist); the tests marked pcsc share one worker (tests/conftest.py).
WORKERS ?= auto
pytest:
	$(BIN)/pytest -n $(WORKERS) --dist loadgroup $(ARGS)

bench: setup
	$(BIN)/python -m benchmarks.numbers

# Regenerate both locks from pyproject.toml's ranges (Python 3.11, Linux x86_64), keeping the
# current pins where they still fit; `make lock LOCK_ARGS=--upgrade` moves to the newest releases.
# The demo lock is constrained by the test lock so that both pin the same versions.
PIP_TOOLS ?= pip-tools==7.7.0
LOCK_ARGS ?=
PIP_COMPILE = CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

lock: $(BIN)/python
	$(PIP) install --quiet '$(PIP_TOOLS)'
	$(PIP_COMPILE) --extra pg,nats,pcsc,dev -o requirements/test.txt pyproject.toml
	$(PIP_COMPILE) --extra pg,nats -c requirements/test.txt -o requirements/demo.txt pyproject.toml

# The portal's messages: extract them from the code and the templates and add the new ones,
# untranslated, to the English catalogue of the part that uses them (scripts/portal_locale.py);
# a test refuses a message without its English.
locale: $(BIN)/python
	$(BIN)/python scripts/portal_locale.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
