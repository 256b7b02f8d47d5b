"""Every test module under tests/ is collected: none is dropped by a pytest setting.

pytest's default `norecursedirs` skips folders named `build`, and tests/build/ never ran; a module
that pytest never visits passes silently. This test compares what pytest collected with the
`test_*.py` files under the paths it was run on (the `testpaths` when none are given).
"""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent


def invoked_paths(config: pytest.Config) -> list[Path]:
    """The files and folders pytest was run on (node ids reduced to their file)."""
    paths = []
    for arg in config.args:
        part = Path(arg.split("::")[0])
        for base in (config.invocation_params.dir, config.rootpath):
            candidate = (base / part).resolve()
            if candidate.exists():
                paths.append(candidate)
                break
    return paths


def expected_test_modules(paths: list[Path], tests: Path = TESTS, ignored: list[Path] = (),
                          ignored_globs: list[str] = ()) -> set[Path]:
    """The `test_*.py` files under `tests` that running pytest on `paths` must collect.

    Only hidden folders (`.venv`, `.git`, ...) and what the command line itself ignores (`--ignore`,
    `--ignore-glob`) are left out: `norecursedirs` is what this check is about, so it is not applied.
    """
    found: set[Path] = set()
    for path in paths:
        if path.is_file():
            if path.name.startswith("test_") and path.suffix == ".py" and path.is_relative_to(tests):
                found.add(path)
            continue
        if tests.is_relative_to(path):
            path = tests  # run on the project or a parent: everything under tests/
        elif not path.is_relative_to(tests):
            continue
        for module in path.rglob("test_*.py"):
            if not any(part.startswith(".") for part in module.relative_to(path).parts):
                found.add(module.resolve())

    def is_ignored(module: Path) -> bool:
        return (any(module.is_relative_to(i) for i in ignored)
                or any(fnmatch.fnmatch(str(module), pattern) for pattern in ignored_globs))

    return {module for module in found if not is_ignored(module)}


def test_every_test_module_is_collected(request, collected_modules):
    config = request.config
    if config.getoption("lf", False):
        pytest.skip("--lf leaves out the files without failures on purpose")
    base = config.invocation_params.dir
    ignored = [(base / p).resolve() for p in config.getoption("ignore") or []]
    ignored_globs = [str(base / g) if not Path(g).is_absolute() else g for g in config.getoption("ignore_glob") or []]
    expected = expected_test_modules(invoked_paths(config), TESTS, ignored, ignored_globs)
    assert Path(__file__).resolve() in expected, (config.args, expected)
    missing = sorted(str(m.relative_to(TESTS.parent)) for m in expected - collected_modules)
    assert missing == [], (
        f"pytest did not collect these test modules (check norecursedirs and testpaths in pyproject.toml): {missing}")


def test_the_check_finds_a_module_left_out(tmp_path):
    tests = tmp_path / "tests"
    for name in ("build/test_a.py", "sandbox/test_b.py", "test_c.py", ".venv/test_hidden.py",
                 "hostile/submissions/printer.py", "sandbox/helper.py"):
        (tests / name).parent.mkdir(parents=True, exist_ok=True)
        (tests / name).write_text("")
    a, b, c = tests / "build/test_a.py", tests / "sandbox/test_b.py", tests / "test_c.py"
    assert expected_test_modules([tests], tests) == {a, b, c}
    assert expected_test_modules([tmp_path], tests) == {a, b, c}
    assert expected_test_modules([tests / "sandbox"], tests) == {b}
    assert expected_test_modules([b, tests / "sandbox/helper.py"], tests) == {b}
    assert expected_test_modules([tests], tests, ignored=[tests / "build"]) == {b, c}
    assert expected_test_modules([tests], tests, ignored_globs=[str(tests / "s*")]) == {a, c}
    # what the default norecursedirs did: tests/build/ never collected
    assert expected_test_modules([tests], tests) - {b, c} == {a}


def test_norecursedirs_skips_the_generated_folders_but_not_build(request):
    patterns = request.config.getini("norecursedirs")

    def skipped(name):
        return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)

    assert not skipped("build")
    for name in (".venv", "venv", ".git", "dist", "out", "__pycache__", ".pytest_cache",
                 "quantization_grader.egg-info"):
        assert skipped(name), name
    # every folder under tests/ that holds a test module is walked
    assert not [p.name for p in TESTS.rglob("*") if p.is_dir() and any(p.glob("test_*.py")) and skipped(p.name)]
