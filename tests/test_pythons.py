"""The Pythons the package claims are the ones `make test-pythons` runs (tests/pythons.py).

pyproject.toml's requires-python and its classifiers, and the Makefile's default PYTHONS, name the
same minor versions: a version claimed but not tested (3.10 was, and every student got 0 there) or
tested but not claimed fails here.
"""

import re
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet

if sys.version_info >= (3, 11):
    import tomllib
else:  # pytest itself needs tomli on 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent


def test_requires_python_the_classifiers_and_make_test_pythons_name_the_same_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    admitted = {f"3.{minor}" for minor in range(30) if f"3.{minor}.0" in SpecifierSet(project["requires-python"])}
    classified = {c.rsplit(" :: ", 1)[1] for c in project["classifiers"]
                  if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    tested = re.search(r"^PYTHONS \?= (.+)$", (ROOT / "Makefile").read_text(encoding="utf-8"), re.M).group(1).split()
    assert admitted == classified == set(tested), (admitted, classified, tested)
    minors = sorted(int(version.split(".")[1]) for version in admitted)
    assert minors == list(range(minors[0], minors[-1] + 1)), "a gap: every version in the range is tested"
