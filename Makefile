# Keystead: the two set-up commands are `make serve` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYTEST_ARGS ?=
PORT   ?= 8000

.PHONY: serve test install install-test clean

# A stamp per install kind, redone when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

## serve: install, create instance/ (secret key, database, administrator), serve on
## 127.0.0.1:$(PORT) (PORT=8000 unless given: make serve PORT=8080); a port in use is
## said in one line before anything starts
serve: install
	$(BIN)/keystead init
	$(BIN)/keystead serve --bind 127.0.0.1:$(PORT)

## test: install the test extras and run the whole suite on SQLite, and at the same time
## again on PostgreSQL when KEYSTEAD_TEST_POSTGRES_URL names a server (.ci/run starts one)
test: install-test
	PYTHON=$(BIN)/python bash tests/run-suites.sh $(PYTEST_ARGS)

## mutation: mutation testing of the security modules with mutmut, one module at a time
## against its own test files (long, so not part of `make test`); the report is
## build/mutation/report.md (docs/testing.md). MUTATION_ARGS="passwords throttle" runs some
## modules; MUTATION_ARGS=--again tests again only the mutants the last run left alive;
## MUTATION_JOBS=2 mutants are tested at once.
MUTATION_ARGS ?=
$(VENV)/.installed-mutation: $(VENV)/.installed-test
	$(BIN)/python -m pip install -q -e '.[test,mutation]'
	touch $@

.PHONY: mutation
mutation: $(VENV)/.installed-mutation
	$(BIN)/python mutation/run.py $(MUTATION_ARGS)

clean:
	rm -rf $(VENV) *.egg-info

## bench: the benchmark (bench/, docs/performance.md) in its own environment, .venv-bench:
## the project plus Flask-Security-Too and matplotlib (bench/requirements.txt), never in
## the project's dependencies. Installs wrk when root and missing (else a Python driver).
## BENCH_ARGS=--quick for a short machinery check. BENCH_POSTGRES_URL=postgresql://... adds
## the people search at 1,000,000 people on that PostgreSQL server (bench/people_search_pg.py).
BENCH_VENV := .venv-bench
BENCH_ARGS ?=

$(BENCH_VENV)/.installed: pyproject.toml bench/requirements.txt
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q -e . -r bench/requirements.txt
	touch $@

.PHONY: bench
bench: $(BENCH_VENV)/.installed
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1 || \
	    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null 2>&1; } || \
	    echo "bench: could not install wrk; using the Python load driver"; \
	  else echo "bench: wrk not installed (apt-get install wrk); using the Python load driver"; fi; }
	$(BENCH_VENV)/bin/python -m bench.run $(if $(BENCH_POSTGRES_URL),--postgres-url '$(BENCH_POSTGRES_URL)') $(BENCH_ARGS)
