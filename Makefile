# crlm — two commands on a fresh machine:  make run   |   make test
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
CRLM    = $(VENV)/bin/crlm
HOST   ?= 127.0.0.1
PORT   ?= 8000
PYTEST_ARGS ?=

.PHONY: install install-federated run test lint bench docs clean

install: $(VENV)/.installed

# setup.py and the C loops: an edited C file is compiled again by the next make
$(VENV)/.installed: pyproject.toml setup.py src/crlm/stats/_cloops.c
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[all,dev]'
	$(MAKE) install-federated
	@touch $@

# vantage6-algorithm-tools 4.x pins sqlalchemy 1.4: installed without its pins (see pyproject).
# Its wheels also ship their own top-level `tests` package, which would shadow crlm's tests/:
# removed (only when it is theirs).
VANTAGE6 ?= 4.15.2
install-federated:
	$(PY) -m pip install -q --no-deps vantage6-algorithm-tools==$(VANTAGE6) vantage6-common==$(VANTAGE6)
	$(PY) -c "import pathlib, shutil, sysconfig; p = pathlib.Path(sysconfig.get_paths()['purelib'], 'tests'); (p / 'test_docker_wrapper.py').exists() and shutil.rmtree(p)"

run: install
	$(CRLM) demo --if-empty
	$(CRLM) serve --host $(HOST) --port $(PORT)

lint: install
	$(VENV)/bin/ruff check src tests benchmarks

# pytest exits 5 when it collected no test: that is not a failure of the suite itself.
test: install lint
	@$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

bench: install
	$(PY) benchmarks/run.py
	$(PY) benchmarks/bench_startup.py
	$(PY) benchmarks/bench_whole_process.py
	$(PY) benchmarks/bench_pipeline.py
	$(PY) benchmarks/bench_report.py --n 100000
	$(PY) benchmarks/bench_body_limit.py
	$(PY) benchmarks/bench_assess.py
	$(PY) benchmarks/bench_assess_asgi.py
	$(PY) benchmarks/web_load.py --patients 0
	$(PY) benchmarks/bench_federated.py
	$(PY) benchmarks/bench_scale.py --n 100000

docs: install
	$(CRLM) rules --write docs/rules.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info src/*.egg-info
