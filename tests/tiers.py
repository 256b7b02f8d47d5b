"""The suite's two tiers, declared in one place, and the guard that keeps CI from losing a test.

- `make test` is the fast tier: `pytest -m "not slow"`, every test but those of `SLOW` below.
- `make test-all` is everything; `.ci/run` calls it.

A test is slow because of what it starts (a sandbox per submission, a Dask cluster, otter's runner,
Chromium, a fresh venv), never because of a mark on the test itself: `SLOW` names it by path and id,
and `mark_tiers` adds the `slow` mark while collecting.

In CI (`ci.in_ci()`) the guard fails the run when a test was deselected (`-m`, `-k`, `--deselect`)
or skipped for a reason `DOCUMENTED_SKIPS` does not list: CI runs the whole suite or says why not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pytest

from ci import in_ci

#: Node-id prefixes (from the project's root) of the full tier only, and what makes each slow.
SLOW: dict[str, str] = {
    "tests/audit/": "grades every lab's mistakes and correct styles in the sandbox",
    "tests/build/": "builds every hand-out and zip, runs otter's own runner, installs a hand-out in a fresh venv",
    "tests/check/test_check.py::test_messages_match": "runs a built hand-out's notebook in a kernel",
    "tests/containers/": "builds a Debian root, starts dockerd, builds images and grades in containers",
    "tests/demo/": "grades every lab's bundled examples in the sandbox",
    "tests/grade/test_cluster.py": "starts a Dask scheduler and workers on loopback",
    "tests/grade/test_grade.py": "grades a batch of every lab in the sandbox",
    "tests/grade/test_warm_grades.py": "grades three labs' batches twice, warm and cold",
    "tests/grade/test_resume.py": "grades, kills and regrades batches",
    "tests/grade/test_internal_error.py::test_a_sandbox_that_breaks": "grades batches, each try failing 3 times",
    "tests/grade/test_internal_error.py::test_three_in_a_row": "grades a batch, each try failing 3 times",
    "tests/gradescope/test_gradescope.py": "builds and installs the Gradescope zip, runs its run_autograder",
    "tests/hostile/": "grades hostile submissions in warm and cold sandboxes",
    "tests/test_own_logic.py": "grades every carried-over mistake in the sandbox, warm and cold",
    "tests/test_report_browser.py": "grades a batch and opens its reports in Chromium",
    "tests/test_diagnose_forms.py::test_the_issues_examples": "grades in the sandbox",
    "tests/test_diagnose_forms.py::test_forms_only_a_signature": "grades in the sandbox",
    "tests/sandbox/test_warm.py": "starts and kills warm sandboxes under memory and CPU caps",
    "tests/sandbox/test_session.py": "starts a sandbox per test, some until they time out",
}

#: Node-id prefixes of the longest serial groups, in the order they should start: a long group that
#: starts last keeps one core busy alone at the end (pytest-xdist's loadgroup gives a group to one worker).
LONG_FIRST: tuple[str, ...] = (
    "tests/containers/",
    "tests/test_report_browser.py",
    "tests/grade/test_cluster.py",
    "tests/hostile/",
    "tests/grade/test_resume.py",
    "tests/build/test_handout.py",
    "tests/build/",
    "tests/grade/test_grade.py",
)

#: Skip reasons CI accepts, each with why the test cannot run on CI's machine. Anything else skipped
#: in CI fails the run.
DOCUMENTED_SKIPS: dict[str, str] = {
    r"this Python lies where other users cannot run it": "make test-pythons runs pyenv's Pythons under /root, "
                                                          "which no other uid may enter; make test-all runs "
                                                          "the unprivileged-uid tests on a Python it can run",
    r"no writable cgroup v2 hierarchy": "CI's host mounts cgroup v1; make test-vm runs the v2 tests in a v2-only VM",
    r"the cgroup v1 layout; tests/sandbox/test_cgroup2.py": "a v1 check on a v2 host (make test-vm), where "
                                                           "test_cgroup2 checks the same of the v2 layout",
    r"no swap is on here": "memory.swap.max = 0 holds nothing back without swap; make test-vm's VM has swap on",
    r"the grader gives no sandbox a CPU weight": "the cpu controller is optional: without it no weight is set to check",
}


def _matches(nodeid: str, prefix: str) -> bool:
    """A folder (`tests/hostile/`), a module (`tests/test_x.py`) or tests whose names start so (`...py::test_a`)."""
    return nodeid.startswith(prefix + "::" if prefix.endswith(".py") else prefix)


def is_slow(nodeid: str) -> bool:
    return any(_matches(nodeid, prefix) for prefix in SLOW)


def _start_rank(nodeid: str) -> int:
    return next((rank for rank, prefix in enumerate(LONG_FIRST) if _matches(nodeid, prefix)), len(LONG_FIRST))


def mark_tiers(items: list[pytest.Item]) -> None:
    """Mark the slow tests, keep shared work on one worker, then put the longest groups first (a stable
    sort keeps each module's order)."""
    for item in items:
        if is_slow(item.nodeid):
            item.add_marker(pytest.mark.slow)
        group = _shared_group(item)
        if group and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=lambda item: _start_rank(item.nodeid))


def _shared_group(item: pytest.Item) -> str | None:
    """The xdist group of a test that takes a parameter of a module- or session-scoped fixture (a graded
    batch, say): each xdist worker computes such a fixture once for itself, so all the tests that share
    one value must run on one worker, or the work is done twice."""
    callspec = getattr(item, "callspec", None)
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    for name, defs in definitions.items():
        if callspec is not None and name in callspec.params and defs[-1].scope in ("module", "package", "session"):
            return f"{item.path.stem}-{name}-{callspec.indices[name]}"
    return None


def undocumented(reason: str) -> bool:
    return not any(re.search(pattern, reason) for pattern in DOCUMENTED_SKIPS)


@dataclass(eq=False)
class Guard:
    """Counts what CI must not lose: deselected tests, and skips without a documented reason."""

    deselected: int = 0
    skipped: list[str] = field(default_factory=list)

    @pytest.hookimpl
    def pytest_deselected(self, items):
        self.deselected += len(items)

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report):
        if report.skipped and not hasattr(report, "wasxfail"):
            self._skip(report)

    @pytest.hookimpl
    def pytest_collectreport(self, report):
        if report.skipped:
            self._skip(report)

    def _skip(self, report) -> None:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        if undocumented(reason):
            self.skipped.append(f"{report.nodeid}: {reason}")

    @pytest.hookimpl
    def pytest_testnodedown(self, node, error):
        """An xdist worker deselects while it collects; the controller adds up what each one sent."""
        self.deselected = max(self.deselected, getattr(node, "workeroutput", {}).get("deselected", 0))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session, exitstatus):
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["deselected"] = self.deselected
            return
        problems = self.problems()
        if problems:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            reporter = session.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_sep("=", "CI runs the whole suite", red=True)
                for line in problems:
                    reporter.write_line(line)

    def problems(self) -> list[str]:
        found = []
        if self.deselected:
            found.append(f"deselected: {self.deselected} (by -m, -k or --deselect); CI runs every test")
        found += [f"skipped without a reason tests/tiers.py documents: {line}" for line in self.skipped]
        return found


class Tiers:
    @pytest.hookimpl(tryfirst=True)  # before `-m` deselects, and before xdist reads the groups
    def pytest_collection_modifyitems(self, items):
        mark_tiers(items)


def configure(config: pytest.Config) -> None:
    """Mark and order the tests; in CI, also guard against losing any."""
    config.pluginmanager.register(Tiers(), "tiers")
    if in_ci():
        config.pluginmanager.register(Guard(), "ci-guard")
