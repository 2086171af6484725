# nameko-shop: `make run` starts everything on this machine, `make test` runs every suite.
# The first of these that is Python >= 3.11; `make PYTHON=/path/to/python3.x run` to choose.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Each suite is its own pytest process: eventlet's monkey patching (services) must not leak
# into the asyncio gateway tests.
SUITES := tests/unit tests/integration/services tests/integration/gateway tests/e2e tests/security tests/browser
PYTEST_ARGS ?=
# The lock files (README "Deploying", "The lock file"): every package, transitive ones included, pinned
# with its hashes, for Python >= 3.11 on any platform. The images install runtime.txt; make and CI
# install test.txt (runtime.txt's pins and the test extra's). `make lock` regenerates both from
# setup.cfg, keeping every pin it can; `make lock UPGRADE=1` moves them all to the newest releases.
RUNTIME_LOCK := requirements/runtime.txt
TEST_LOCK := requirements/test.txt
LOCK_COMPILE = $(BIN)/uv pip compile setup.cfg --universal --python-version 3.11 --generate-hashes \
	--quiet --custom-compile-command 'make lock' $(if $(UPGRADE),--upgrade)

.PHONY: run test install lock infra lint typecheck migrate bench clean

run: $(INSTALLED)
	$(BIN)/shopctl up

$(INSTALLED): setup.cfg pyproject.toml $(TEST_LOCK)
	@test -x $(BIN)/python || { \
		if [ -z "$(PYTHON)" ]; then \
			echo "make: Python 3.11 or newer is needed (none of python3, python3.1[1-3] on PATH is);" \
				"install it or run make PYTHON=/path/to/python3.11 $(MAKECMDGOALS)"; exit 1; \
		fi; \
		echo "$(PYTHON) -m venv $(VENV)"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --require-hashes -r $(TEST_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

install: $(INSTALLED)

# After editing setup.cfg's dependencies; commit setup.cfg and requirements/ together
# (tests/unit/ops/test_lock.py fails while a pin of setup.cfg is not in the lock).
lock: $(INSTALLED)
	$(LOCK_COMPILE) -o $(RUNTIME_LOCK)
	$(LOCK_COMPILE) --extra test --constraint $(RUNTIME_LOCK) -o $(TEST_LOCK)

infra: $(INSTALLED)
	$(BIN)/shopctl ensure-infra

# Lint, type checks, then every suite, even when one fails; any failure (exit code 5, "no tests
# collected", included) fails the target.
test: infra
	@failed=""; \
	echo "==> ruff check ."; $(BIN)/ruff check . || failed="$$failed lint"; \
	echo "==> mypy nameko_services gateway"; $(BIN)/mypy nameko_services gateway || failed="$$failed typecheck"; \
	for suite in $(SUITES); do \
		echo "==> pytest $$suite"; \
		$(BIN)/pytest $$suite $(PYTEST_ARGS) || failed="$$failed $$suite"; \
	done; \
	if [ -n "$$failed" ]; then echo "FAILED:$$failed"; exit 1; fi; \
	echo "all suites passed"

lint: $(INSTALLED)
	$(BIN)/ruff check .

typecheck: $(INSTALLED)
	$(BIN)/mypy nameko_services gateway

migrate: $(INSTALLED)
	$(BIN)/shopctl migrate

bench: $(INSTALLED)
	$(BIN)/python bench/product_get.py
	$(BIN)/python bench/product_get.py --search --rounds 1
	$(BIN)/python bench/gateway_overhead.py
	$(BIN)/python bench/order_confirm.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .coverage .hypothesis
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +
