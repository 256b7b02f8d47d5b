"""The tiers (tests/tiers.py): what is slow, and the guard that fails CI when a test is left out.

The guard is run for real: a small suite of its own, in a pytest of its own, with and without CI set,
in one process and under pytest-xdist.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tiers

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@pytest.mark.parametrize(("nodeid", "slow"), [
    ("tests/hostile/test_hostile.py::test_fork_bomb", True),
    ("tests/grade/test_grade.py::test_no_double_jeopardy[L2-A]", True),
    ("tests/grade/test_naming.py::test_canvas_names", False),
    ("tests/containers/test_engine.py::test_the_mirror_is_the_hosts_own[deb822]", True),
    ("tests/test_report.py::test_report_escapes", False),
    ("tests/test_report_browser.py::test_pages", True),  # a module whose name extends another's
    ("tests/test_diagnose_forms.py::test_the_issues_examples_are_named_when_graded_in_the_sandbox[L2-B]", True),
    ("tests/test_diagnose_forms.py::test_right_code_written_otherwise_gets_no_diagnosis_anywhere[correct1]", False),
])
def test_a_test_is_slow_by_its_path_and_id(nodeid, slow):
    assert tiers.is_slow(nodeid) is slow


def _defines(module: Path, prefix: str) -> bool:
    names = [node.name for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
             if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    return any(name.startswith(prefix) for name in names)


@pytest.mark.parametrize("prefix", sorted(set(tiers.SLOW) | set(tiers.LONG_FIRST)))
def test_every_entry_of_the_tiers_names_tests_that_exist(prefix):
    """A renamed module or test would otherwise drop out of the table without a word."""
    path, _, name = prefix.partition("::")
    assert (ROOT / path).exists(), prefix
    if (ROOT / path).is_dir():
        assert list((ROOT / path).rglob("test_*.py")), prefix
    if name:
        assert _defines(ROOT / path, name), prefix


def test_every_documented_skip_says_why():
    assert all(why.strip() for why in tiers.DOCUMENTED_SKIPS.values())
    assert not tiers.undocumented("no writable cgroup v2 hierarchy with memory and pids here: v1 only")
    assert tiers.undocumented("the browser test needs chromium")


SUITE = {
    "conftest.py": f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import tiers

def pytest_configure(config):
    tiers.configure(config)
""",
    "test_small.py": """
import pytest

def test_one():
    pass

def test_two():
    pass

def test_documented():
    pytest.skip("no writable cgroup v2 hierarchy with memory and pids here")
""",
}
UNDOCUMENTED = "import pytest\n\ndef test_skips():\n    pytest.skip('chromium is not installed')\n"


def _run_suite(tmp_path: Path, *args: str, ci: str, extra: dict[str, str] | None = None):
    for name, text in {**SUITE, **(extra or {})}.items():
        (tmp_path / name).write_text(text)
    env = {**os.environ, "CI": ci}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *args, str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_in_ci_a_deselected_test_fails_the_run(tmp_path, workers):
    run = _run_suite(tmp_path, "-k", "not test_two", *workers, ci="true")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "deselected: 1 (by -m, -k or --deselect); CI runs every test" in run.stdout, run.stdout
    assert "1 passed, 1 skipped" in run.stdout.splitlines()[-1]  # no test failed: the guard did


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_in_ci_an_undocumented_skip_fails_the_run_and_a_documented_one_does_not(tmp_path, workers):
    run = _run_suite(tmp_path, *workers, ci="true", extra={"test_more.py": UNDOCUMENTED})
    assert run.returncode == 1, run.stdout + run.stderr
    assert "test_more.py::test_skips: Skipped: chromium is not installed" in run.stdout, run.stdout
    assert "test_documented" not in run.stdout.split("CI runs the whole suite")[1]


def test_in_ci_the_whole_suite_with_documented_skips_passes(tmp_path):
    run = _run_suite(tmp_path, "-n", "2", ci="true")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed, 1 skipped" in run.stdout


@pytest.mark.parametrize("ci", ["", "false", "0"])
def test_outside_ci_the_fast_tier_may_deselect_and_skip(tmp_path, ci):
    run = _run_suite(tmp_path, "-k", "not test_two", ci=ci, extra={"test_more.py": UNDOCUMENTED})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "CI runs the whole suite" not in run.stdout


SHARED = """
import pathlib
import uuid

import pytest

@pytest.fixture(scope="module", params=["a", "b", "c"])
def batch(request):
    (pathlib.Path(OUT) / f"graded-{request.param}-{uuid.uuid4()}").touch()
    return request.param

@pytest.mark.parametrize("n", range(4))
def test_reads(batch, n):
    assert batch in "abc"
"""


def test_a_module_scoped_batch_is_computed_once_across_xdist_workers(tmp_path):
    """Four tests read each value of a module-scoped fixture; spread over two workers without a group,
    some values would be computed on both."""
    run = _run_suite(tmp_path, "-n", "2", "--dist", "loadgroup", ci="",
                     extra={"test_shared.py": SHARED.replace("OUT", repr(str(tmp_path)))})
    assert run.returncode == 0, run.stdout + run.stderr
    computed = sorted(p.name.split("-")[1] for p in tmp_path.glob("graded-*"))
    assert computed == ["a", "b", "c"], computed
