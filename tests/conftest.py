import sys
from pathlib import Path

import pytest
import torch
from filelock import FileLock

import tiers
from grader.build import build
from grader.config import BuildConfig
from grader.labs import make_tests_importable

# Tests import the support package (quantlab), the reference and the mistakes (solutions/) as the
# grader does, and the submissions module beside this file.
make_tests_importable()
sys.path.insert(0, str(Path(__file__).resolve().parent))

# pytest-xdist runs one process per core; torch's own thread pool on top of that oversubscribes
# the machine and makes numeric tests tens of times slower.
torch.set_num_threads(1)


# What pytest collected, for tests/test_collection.py. session.items alone misses the modules whose
# tests were all deselected (-k, -m, --deselect) and those skipped as a whole while collecting.
_DESELECTED: set[Path] = set()
_SKIPPED_NODES: set[str] = set()


def pytest_deselected(items):
    _DESELECTED.update(Path(item.path).resolve() for item in items)


def pytest_configure(config):
    tiers.configure(config)


@pytest.fixture(scope="session")
def dist(tmp_path_factory, worker_id) -> Path:
    """`grader build` of every lab, once for the whole run: xdist's workers share one folder, and the
    first to come builds it while the others wait."""
    if worker_id == "master":
        output = tmp_path_factory.mktemp("dist")
        build(BuildConfig(output=output))
        return output
    shared = tmp_path_factory.getbasetemp().parent  # this run's folder, common to its workers
    with FileLock(str(shared / "dist.lock")):
        if not (shared / "dist.built").exists():
            build(BuildConfig(output=shared / "dist"))
            (shared / "dist.built").touch()
    return shared / "dist"


def pytest_collectreport(report):
    if report.skipped:
        _SKIPPED_NODES.add(report.fspath)


@pytest.fixture
def collected_modules(request) -> set[Path]:
    """The files of every test module pytest collected in this process (an xdist worker collects
    the whole session too), whether its tests run here, elsewhere or not at all."""
    root = request.config.rootpath
    return ({Path(item.path).resolve() for item in request.session.items} | _DESELECTED
            | {(root / node).resolve() for node in _SKIPPED_NODES})


def pytest_terminal_summary(terminalreporter, config):
    """The recognition rate per mistake id of tests/test_diagnose_forms.py, from what each test recorded."""
    rows: dict[str, list] = {}
    for report in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", []):
        for name, value in getattr(report, "user_properties", ()):
            if name == "recognition" and report.when == "call":
                rows.setdefault(value["id"], []).append(value)
    if not rows:
        return
    lines = ["| mistake id | forms | forms named wherever shown | (lab, question) named / shown | "
             "(lab, question) no form changes | signatures: what it recognises |", "|---|---|---|---|---|---|"]
    for mistake_id in sorted(rows):
        forms = rows[mistake_id]
        named = sum(f["named"] for f in forms)
        seen = named + sum(len(f["missed"]) for f in forms)
        whole = sum(1 for f in forms if not f["missed"])
        unseen = set.intersection(*(set(f["unseen"]) for f in forms))
        lines.append(f"| {mistake_id} | {len(forms)} | {whole}/{len(forms)} | {named}/{seen} "
                     f"({100 * named / max(seen, 1):.0f}%) | {len(unseen)} | {'; '.join(forms[0]['signatures'])} |")
    table = "\n".join(lines) + "\n"
    if getattr(config, "cache", None) is not None:  # absent under -p no:cacheprovider
        (config.cache.mkdir("diagnosis") / "recognition.md").write_text(table, encoding="utf-8")
    terminalreporter.write_sep("-", "recognition rate of mistake forms (tests/test_diagnose_forms.py)")
    terminalreporter.write(table)
