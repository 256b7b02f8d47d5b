"""Two ways a test passes without checking anything, found in tests/ and kept out by reading its code.

- `assert_same(a, b) and assert_same(c, d)`: the helper returns None, so `and` stops after the first
  call and the second comparison never runs (an `assert helper(...)` fails for the same reason).
- `try: call() except Expected: ...` in a test with no `else: pytest.fail(...)`: a call that raises
  nothing passes. Use `pytest.raises`.
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
#: Code the tests import their helpers from (the support package, the reference, the mistakes).
HELPERS = [TESTS, TESTS.parent / "assignments" / "quantlab", TESTS.parent / "solutions"]


def _sources(folder: Path):
    for path in sorted(folder.rglob("*.py")):
        if "submissions" not in path.parts and not any(part.startswith(".") for part in path.parts):
            yield path, ast.parse(path.read_text(), str(path))


def _returns_nothing(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    nested = {id(n) for node in ast.walk(function) if node is not function
              and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) for n in ast.walk(node)}
    for node in ast.walk(function):
        if id(node) in nested:
            continue
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return False
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return False
    return True


def none_returning_functions(trees) -> set[str]:
    """Names of functions that never return a value, unless another function of that name does."""
    nothing, something = set(), set()
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                (nothing if _returns_nothing(node) else something).add(node.name)
    return nothing - something - {"__init__"}


def _called_name(node: ast.AST) -> str | None:
    if not isinstance(node, ast.Call):
        return None
    return getattr(node.func, "attr", None) or getattr(node.func, "id", None)


def truth_tested_none_calls(tree: ast.AST, none_functions: set[str]) -> list[int]:
    """Lines where the result of a None-returning call is tested: `assert f()`, `f() and g()`, `not f()`."""
    lines = []
    for node in ast.walk(tree):
        tested = (node.values if isinstance(node, ast.BoolOp) else [node.test] if isinstance(node, ast.Assert)
                  else [node.operand] if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not) else [])
        lines += [node.lineno for value in tested if _called_name(value) in none_functions]
    return sorted(set(lines))


def unguarded_excepts(tree: ast.AST) -> list[int]:
    """Lines of a try/except without an else inside a test function."""
    lines = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) and function.name.startswith("test_"):
            lines += [node.lineno for node in ast.walk(function)
                      if isinstance(node, ast.Try) and node.handlers and not node.orelse]
    return sorted(set(lines))


def test_no_test_tests_the_truth_of_a_helper_that_returns_none():
    trees = [tree for folder in HELPERS for tree in _sources(folder)]
    none_functions = none_returning_functions(trees)
    assert "assert_same" in none_functions  # the helper of tests/solutions/test_reference.py
    found = {str(path.relative_to(TESTS.parent)): lines for path, tree in _sources(TESTS)
             if (lines := truth_tested_none_calls(tree, none_functions))}
    assert found == {}, "split these into separate calls: `and`/`assert` over None never checks the rest"


def test_no_test_catches_an_expected_exception_without_failing_when_none_comes():
    found = {str(path.relative_to(TESTS.parent)): lines for path, tree in _sources(TESTS)
             if (lines := unguarded_excepts(tree))}
    assert found == {}, "use pytest.raises, or an else: pytest.fail(...) branch"


def test_the_checks_find_the_patterns():
    source = '''
def check(a, b) -> None:
    assert a == b

def equal(a, b):
    return a == b

def test_and():
    check(1, 1) and check(1, 2)

def test_assert():
    assert check(1, 1)

def test_fine():
    assert equal(1, 1) and equal(2, 2)
    check(1, 1)

def test_try():
    try:
        int("x")
    except ValueError:
        pass

def test_try_else():
    try:
        int("x")
    except ValueError:
        pass
    else:
        raise AssertionError

def helper():
    try:
        return int("x")
    except ValueError:
        return None
'''
    tree = ast.parse(source)
    none_functions = none_returning_functions([(None, tree)])
    assert {"check", "test_and", "test_try"} <= none_functions and "equal" not in none_functions
    assert truth_tested_none_calls(tree, none_functions) == [9, 12]
    assert unguarded_excepts(tree) == [19]
