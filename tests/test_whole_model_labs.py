"""The otter test files of L4-C and L4-D grade whole models the way LABS.md §4 says.

Each question's public and hidden files are merged as the build merges them and parsed with otter's
parser; every case then runs (locally, the inspections called on real objects) against:

- the hidden reference: passes everything;
- the course's code with the project decisions (`whole_model.SOLUTION`) and bob's example script,
  another style: pass everything;
- every mistake of `quant_mistakes.whole_model`: fails at least one case of each question it
  affects (with a check's message, not only a crash), passes the other questions;
- the handed-out notebook's stubs: fail every case.

Diagnosis names each mistake on the questions whose probes show it, and correct code gets none.
These cases build and run small models, so each costs up to a few tenths of a second.
"""

from __future__ import annotations

import ast
import functools
import re
import warnings

import nbformat
import pytest
from otter.test_files.exception_test import ExceptionTestFile

import quant_reference
from quant_mistakes import whole_model

from grader.diagnose import diagnose
from grader.labs import EXAMPLES, LABS

PAIRS = [(lab, question) for lab, questions in whole_model.QUESTIONS.items() for question in questions]
PAIR_IDS = [f"{lab}:{question}" for lab, question in PAIRS]


@functools.lru_cache(maxsize=None)
def load(lab: str, question: str) -> ExceptionTestFile:
    return ExceptionTestFile.from_string(LABS[lab].test_source(question, hidden=True), f"{lab}/{question}.py")


def run_cases(lab: str, question: str, env: dict) -> dict:
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load_state_dict warns for every no-op copy into a meta tensor
        for tc in load(lab, question).test_cases:
            try:
                tc.body.call_func(env)
            except Exception as error:  # noqa: BLE001 - a failing case, as otter sees it
                results[tc.name] = error
            else:
                results[tc.name] = None
    return results


def _describe(results: dict) -> str:
    return "\n".join(f"- {name}: {type(e).__name__}: {e}" for name, e in results.items() if e is not None)


def _namespace(source: str, label: str) -> dict:
    namespace: dict = {"__name__": f"__{label}__"}
    exec(compile(source, f"<{label}>", "exec"), namespace)
    return namespace


def _notebook_source(path) -> str:
    notebook = nbformat.read(path, as_version=4)
    cells = [c.source for c in notebook.cells if c.cell_type == "code" and "grader" not in c.source and "NotImplementedError" in c.source]
    return "import torch\nfrom torch import nn\nimport torch.nn.functional as F\n" + "\n\n".join(cells)


REFERENCE = {name: getattr(quant_reference, name) for name in whole_model.FUNCTIONS}
STYLES = {
    "course": whole_model.SOLUTION,
    "bob_L4-C": (EXAMPLES / "L4-C" / "bob.py").read_text(),
    "bob_L4-D": (EXAMPLES / "L4-D" / "bob.py").read_text(),
}


# File structure ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_files_shape(lab, question):
    public_source = LABS[lab].public_tests(question).read_text()
    assert "quant_reference" not in public_source
    public = ExceptionTestFile.from_string(public_source, "public")
    assert public.name == question and public.test_cases
    assert all(not tc.hidden and tc.points == 1 for tc in public.test_cases)
    hidden_source = LABS[lab].hidden_tests(question).read_text()
    assert not re.search(r"^(name|OK_FORMAT)\s*=", hidden_source, re.M)
    merged = load(lab, question)
    hidden = [tc for tc in merged.test_cases if tc.hidden]
    assert hidden and all(tc.name.startswith("hidden: ") and tc.points == 1 for tc in hidden)
    names = [tc.name for tc in merged.test_cases]
    assert len(names) == len(set(names))
    functions = [n.name for n in ast.parse(LABS[lab].test_source(question, hidden=True)).body if isinstance(n, ast.FunctionDef)]
    assert len(functions) == len(set(functions)), "a hidden helper shadows a public one"
    for tc in merged.test_cases:
        params = tc.body._get_func_params()
        assert params[0] == question and set(params) <= set(whole_model.FUNCTIONS), (tc.name, params)


# Behaviour ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_reference_passes_every_case(lab, question):
    results = run_cases(lab, question, REFERENCE)
    assert not any(results.values()), _describe(results)


@pytest.mark.parametrize("style", ["course", "bob"])
@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_correct_style_passes_every_case(lab, question, style):
    source = STYLES[f"bob_{lab}"] if style == "bob" else STYLES[style]
    results = run_cases(lab, question, _namespace(source, style))
    assert not any(results.values()), _describe(results)


_MISTAKE_PAIRS = [
    (mistake, lab, question)
    for mistake, spec in whole_model.MISTAKES.items()
    for lab, question in PAIRS
    if lab in spec["affects"] or lab == spec["lab"]
]


@pytest.mark.parametrize(("mistake", "lab", "question"), _MISTAKE_PAIRS, ids=[f"{m}-{q}" for m, _, q in _MISTAKE_PAIRS])
def test_mistake(mistake, lab, question):
    affected = question in whole_model.MISTAKES[mistake]["affects"].get(lab, ())
    results = run_cases(lab, question, whole_model.model(mistake))
    failed = {name: error for name, error in results.items() if error is not None}
    if affected:
        assert failed, f"no case of {lab}:{question} catches {mistake}"
        # As the docstring says: a check's message, not only a crash (CheckFailed is an AssertionError).
        assert any(isinstance(error, AssertionError) for error in failed.values()), (
            f"{mistake} only makes {lab}:{question} crash, no check reports it:\n{_describe(results)}"
        )
    else:
        assert not failed, f"{mistake} should not change {lab}:{question}:\n{_describe(results)}"


@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_untouched_notebook_fails_every_case(lab, question):
    env = _namespace(_notebook_source(LABS[lab].notebook), "stub")
    results = run_cases(lab, question, env)
    assert all(isinstance(error, NotImplementedError) for error in results.values()), _describe(results)


#: Where each mistake's probes show it (a save mistake also breaks the round trip of the load
#: question, whose probes load a given file and so cannot tell).
DIAGNOSED = [
    ("footprint_ignores_buffers", "L4-C", "model_memory_footprint"),
    ("footprint_ignores_buffers", "L4-C", "quantize_model"),
    ("footprint_counts_elements", "L4-C", "model_memory_footprint"),
    ("footprint_counts_elements", "L4-C", "quantize_model"),
    ("footprint_from_state_dict", "L4-C", "model_memory_footprint"),
    ("quantize_model_not_in_place", "L4-C", "quantize_model"),
    ("save_whole_model", "L4-D", "save_quantized_state_dict"),
    ("save_parameters_only", "L4-D", "save_quantized_state_dict"),
    ("load_without_assign", "L4-D", "load_quantized_model"),
    ("replace_wrong_arg_order", "L4-D", "load_quantized_model"),
]


def test_every_mistake_is_diagnosed_somewhere():
    assert {m for m, _, _ in DIAGNOSED} == set(whole_model.MISTAKES)
    assert set(whole_model.EXPLANATIONS) == set(whole_model.MISTAKES)


@pytest.mark.parametrize(("mistake", "lab", "question"), DIAGNOSED, ids=[f"{m}-{q}" for m, _, q in DIAGNOSED])
def test_mistake_is_diagnosed(mistake, lab, question):
    env = whole_model.model(mistake)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = diagnose(lab, question, env[question], lookup=env.__getitem__)
    assert found is not None and found[0] == mistake, found
    assert found[1] == whole_model.EXPLANATIONS[mistake]


@pytest.mark.parametrize("style", ["course", "bob"])
def test_correct_code_gets_no_diagnosis(style):
    for lab, question in PAIRS:
        env = _namespace(STYLES[f"bob_{lab}"] if style == "bob" else STYLES[style], style)
        assert diagnose(lab, question, env[question], lookup=env.__getitem__) is None, (style, question)
