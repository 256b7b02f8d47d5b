# Two entry points: `make demo` and `make test`. Both create .venv/ on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= out/demo
JOBS   ?= auto

.PHONY: demo test build bench venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the local CPU build. Letting pip pick torch would pull CUDA wheels.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m grader demo -o $(OUT)

build: $(STAMP)
	$(PY) -m grader build -o dist

test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -q

bench: $(STAMP)
	$(PY) benchmarks/grade_throughput.py

clean:
	rm -rf dist out .pytest_cache
