"""tests/ci.py: the one helper that says whether this run is CI (where a test that cannot run fails)."""

import pytest

from ci import in_ci

#: The value of `CI` (None: unset) -> whether the run is CI. Written by hand: what CI systems set
#: (GitHub Actions and GitLab `true`, others `1`), and what a developer writes to say "not CI".
TABLE = {
    None: False,
    "": False,
    "   ": False,
    "0": False,
    "false": False,
    "False": False,
    "FALSE": False,
    " false\n": False,
    "no": False,
    "No": False,
    "off": False,
    "OFF": False,
    "true": True,
    "True": True,
    "TRUE": True,
    "1": True,
    "yes": True,
    "on": True,
    " true ": True,
    "github-actions": True,
}


@pytest.mark.parametrize(("value", "expected"), list(TABLE.items()), ids=[repr(v) for v in TABLE])
def test_in_ci_reads_the_ci_variable_as_the_table_says(value, expected):
    environ = {"PATH": "/usr/bin"} if value is None else {"PATH": "/usr/bin", "CI": value}
    assert in_ci(environ) is expected


@pytest.mark.parametrize(("value", "expected"), [(None, False), ("false", False), ("true", True)])
def test_in_ci_reads_the_process_environment_by_default(value, expected, monkeypatch):
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert in_ci() is expected
