import sys
from pathlib import Path

import pytest
import torch

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
