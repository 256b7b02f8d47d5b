# Two entry points: `make demo` and `make test`. Both create .venv/ on first use.
# `make test` is the fast tier (tests/tiers.py); `make test-all` runs every test, as .ci/run does.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
OUT    ?= out/demo
JOBS   ?= auto

.PHONY: demo test test-all test-pythons test-vm test-no-cgroup test-unprivileged lint build bench venv sandbox browser clean docs image

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first, pinned: the local CPU build. Letting pip pick torch would pull CUDA wheels.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The sandbox that grading runs student code in (docs/sandbox.md): bubblewrap, installed with
# apt when running as root; otherwise a warning, and `grade` refuses to run student code.
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "warning: bubblewrap (bwrap) is not installed; install the bubblewrap package to grade." >&2; \
	  fi; }

# The browser the report test renders pages in (tests/test_report_browser.py): Debian's chromium and its
# chromedriver, installed with apt when running as root; otherwise a warning, and that test skips
# locally (it fails in CI, where .ci/run installs them).
browser:
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else \
	    echo "warning: chromium or chromedriver is not installed; install the chromium and chromium-driver packages to run the browser test." >&2; \
	  fi; }

demo: $(STAMP) sandbox
	$(PY) -m grader demo -o $(OUT)

build: $(STAMP)
	$(PY) -m grader build -o dist

# ruff first: a tree that does not lint does not test (pyproject.toml, [tool.ruff]).
lint: $(STAMP)
	$(PY) -m ruff check .

# Both tiers: loadgroup keeps a shared batch on one xdist worker; tests/tiers.py orders the longest
# groups first, so xdist must keep that order. The full tier runs one worker more than the cores
# (ALL_JOBS): many of its tests wait on a timeout or a cluster rather than compute (docs/development.md).
PYTEST   := $(PY) -m pytest --dist loadgroup --no-loadscope-reorder -q
ALL_JOBS ?= $(shell echo $$(( $$(nproc) + 1 )))

test: $(STAMP) sandbox lint
	$(PYTEST) -n $(JOBS) -m "not slow"

test-all: $(STAMP) sandbox browser lint
	$(PYTEST) -n $(ALL_JOBS)

# Every Python that requires-python in pyproject.toml claims, each in a venv of its own kept in
# ~/.cache/quantization-grader/pythons/ (torch 2.13.0 first: a 4 GB CUDA build but on 3.11, then this checkout):
# the demo's grades against tests/records/behaviour.json, then the sandbox, grade and hostile tests.
PYTHONS ?= 3.10 3.11 3.12 3.13
PYTHON_TESTS ?= tests/sandbox tests/grade tests/hostile

test-pythons: sandbox
	$(PYTHON) tests/pythons.py $(foreach t,$(PYTHON_TESTS),--tests $(t)) $(PYTHONS)

# Without a cgroup (docs/sandbox.md): the hostile suite again, as root in a mount namespace of its own where
# every cgroupfs mount is read-only, as in a container; the grader falls back to per-process rlimits. Left
# out: tests/hostile/test_caps.py, the batch of what only a cgroup holds, which needs one by design.
test-no-cgroup: $(STAMP) sandbox
	tests/fallbacks/read-only-cgroupfs.sh $(PYTEST) -n $(JOBS) --ignore=tests/hostile/test_caps.py tests/hostile

# Without root (docs/sandbox.md): as root, a venv of Debian's python3 that uid 65534 can read, cached in
# /var/cache/quantization-grader/; then, as that uid, the demo (its grades compared with root's) and the
# grade and hostile tests.
test-unprivileged: sandbox
	/usr/bin/python3 tests/fallbacks/unprivileged.py --jobs $(JOBS)

# cgroup v2 for real: this machine is a cgroup v1 host, so tests/vm/run_vm.py boots Debian's kernel in QEMU
# (TCG) with cgroup v2 only, sees this checkout read-only over 9p and runs the tests that need v2 there; the
# kernel and its initramfs are cached in ~/.cache/quantization-grader/vm/ (docs/development.md).
test-vm: $(STAMP) sandbox
	$(PY) tests/vm/run_vm.py

# The container image (Dockerfile; README, "In a container"): BASE is its base image, TORCH where torch 2.13.0
# comes from (a folder holding its wheel, or an index URL; PyTorch's CPU index by default, as the registry's
# torch for Linux is a CUDA build of several GB), IMAGE its name. pip's PIP_CERT, when set, goes in for pip.
BASE   ?= debian:bookworm-slim
TORCH  ?= https://download.pytorch.org/whl/cpu
IMAGE  ?= quant-grader
DOCKER ?= docker

image:
	rm -rf .image && mkdir -p .image/torch
	@if [ -d "$(TORCH)" ]; then \
	  ls "$(TORCH)"/torch-2.13.0*.whl >/dev/null 2>&1 || { echo "make image: no torch-2.13.0 wheel in $(TORCH)" >&2; exit 2; }; \
	  cp "$(TORCH)"/torch-2.13.0*.whl .image/torch/; \
	else case "$(TORCH)" in *://*) ;; *) echo "make image: TORCH=$(TORCH) is neither a folder nor an index URL" >&2; exit 2;; esac; \
	fi
	@if [ -n "$$PIP_CERT" ] && [ -f "$$PIP_CERT" ]; then cp "$$PIP_CERT" .image/pip-cert.pem; fi
	$(DOCKER) build --build-arg BASE=$(BASE) $(if $(wildcard $(TORCH)),,--build-arg TORCH_INDEX=$(TORCH)) -t $(IMAGE) .
	rm -rf .image

bench: $(STAMP) sandbox
	$(PY) benchmarks/grade_throughput.py

# The documentation (docs/, mkdocs.yml) as a site at http://127.0.0.1:8000, rebuilt as pages change.
docs: $(STAMP)
	$(PY) -m mkdocs serve

clean:
	rm -rf dist out .pytest_cache site
