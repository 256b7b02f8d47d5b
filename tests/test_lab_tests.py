"""The otter test files of every lab grade the way docs/course.md says, for every kind of lab.

Each question's public file (assignments/<lab>/tests/<question>.py) and hidden file
(solutions/<lab>/tests/<question>.py) are merged as the build merges them and parsed with otter's
own parser; every case is then run, here, against:

- the hidden reference (the lab's `reference` module): passes everything;
- every correct way of writing the lab's functions (`mistakes.styles_for`): passes everything;
- every catalogued mistake, on every lab that uses a function it changes: fails at least one case,
  with a check's message and not only a crash, of each question it affects, and passes every
  other question (a mistake carried into a later lab may fail only the cases that take the
  student's earlier code too);
- the handed-out stub (NotImplementedError): fails every case.

It also checks the files' shape: public files hold no hidden case and never import the reference,
hidden files hold only hidden cases and define no `name`/`OK_FORMAT`, every case is worth 1 point
and the cases add up to the declared points, case names and functions are unique across the merged
pair, cases take only the lab's own functions, and randomness only ever comes from a seeded
`torch.Generator`. Every parameter comes from the course catalogue (`grader.labs.LABS`).
"""

from __future__ import annotations

import ast
import functools
import time
import warnings

import mistake_forms
import pytest
import torch
from otter.test_files.exception_test import ExceptionTestFile

import mistakes
from grader.labs import LABS, Kind, grading_lab

PAIRS = [(lab.id, question) for lab in LABS.values() for question in lab.question_names]
PAIR_IDS = [f"{lab}:{question}" for lab, question in PAIRS]

#: CPU seconds a case may take against the reference: far below a question's 30 s budget, so that
#: a correct but slow submission never times out. Whole-model cases build, save and load models.
CASE_SECONDS = {Kind.FUNCTIONS: 2.0, Kind.CLASS_OR_IN_PLACE: 2.0, Kind.WHOLE_MODELS: 6.0}
#: Random constructors that must be given a seeded generator.
_RANDOM_CALLS = {"rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial", "rand_like",
                 "randn_like", "randint_like"}


# Merging and loading: exactly as the build and `grader grade` do ----------------------------------

def merged_source(lab: str, question: str) -> str:
    return LABS[lab].test_source(question, hidden=True)


@functools.cache
def load(lab: str, question: str) -> ExceptionTestFile:
    return ExceptionTestFile.from_string(merged_source(lab, question), f"{lab}/tests/{question}.py")


def run_cases(lab: str, question: str, env: dict) -> dict[str, BaseException | None]:
    """Run every case of the merged file against `env`; map case name -> exception (None: passed)."""
    results: dict[str, BaseException | None] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load_state_dict warns for every no-op copy into a meta tensor
        for tc in load(lab, question).test_cases:
            try:
                tc.body.call_func(env)
            except Exception as error:  # a failing case, as otter sees it
                results[tc.name] = error
            else:
                results[tc.name] = None
    return results


def describe(failures: dict[str, BaseException | None]) -> str:
    return "\n".join(
        f"- {name}: {type(error).__name__}: {error}" for name, error in failures.items() if error is not None
    )


# Environments ------------------------------------------------------------------------------------

def reference_env(lab: str) -> dict:
    """The reference of every function the lab uses, each from the lab that grades it."""
    return {name: grading_lab(name).reference_function(name) for name in LABS[lab].functions}


@functools.cache
def style_env(lab: str, style: str) -> dict:
    return mistakes.student_env(mistakes.styles_for(LABS[lab])[style], label=f"style {style}")


@functools.cache
def mistake_env(mistake: str) -> dict:
    return mistakes.mistake_env(mistake)


def labs_using(mistake: str) -> list[str]:
    """The labs in which `mistake` can show: those that use a function it changes."""
    changed = set(mistakes.MISTAKES[mistake].functions)
    return [lab.id for lab in LABS.values() if changed & set(lab.functions)]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Run torch on one thread: these tensors are small, and CPU time is then a fair measure."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# File structure ----------------------------------------------------------------------------------

def _decorated_cases(source: str) -> list[ast.FunctionDef]:
    tree = ast.parse(source)
    return [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(isinstance(d, ast.Call) and getattr(d.func, "id", None) == "test_case" for d in node.decorator_list)
    ]


def _assigned_names(source: str) -> set[str]:
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _imports(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _function_names(source: str) -> list[str]:
    return [node.name for node in ast.parse(source).body if isinstance(node, ast.FunctionDef)]


@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_public_file_shape(lab, question):
    source = LABS[lab].public_tests(question).read_text()
    assert "quant_reference" not in source, "a public test file must not mention the hidden reference"
    assert not {name for name in _imports(source) if name.split(".")[0] == "quant_reference"}
    public = ExceptionTestFile.from_string(source, str(LABS[lab].public_tests(question)))
    assert public.name == question
    env: dict = {}
    exec(compile(source, "<public>", "exec"), env)
    assert env.get("OK_FORMAT") is False
    assert public.test_cases, "a public file needs at least one case"
    for tc in public.test_cases:
        assert not tc.hidden, f"public case {tc.name!r} is hidden"
        assert tc.points == 1, f"public case {tc.name!r} is worth {tc.points}"
        assert not tc.name.startswith("hidden"), tc.name


@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_hidden_file_shape(lab, question):
    source = LABS[lab].hidden_tests(question).read_text()
    assert not ({"name", "OK_FORMAT"} & _assigned_names(source)), "a hidden file must not redefine name/OK_FORMAT"
    cases = _decorated_cases(source)
    assert cases, "a hidden file needs at least one case"
    env: dict = {}
    exec(compile(merged_source(lab, question), "<merged>", "exec"), env)
    for node in cases:
        case = env[node.name]
        assert case.hidden is True, f"hidden case {node.name} is not hidden=True"
        assert case.points == 1, f"hidden case {node.name} is worth {case.points}"
        assert case.name and case.name.startswith("hidden: "), node.name


@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_merged_file_shape(lab, question):
    source = merged_source(lab, question)
    decorated = [node.name for node in _decorated_cases(source)]
    assert len(decorated) == len(set(decorated)), "case functions must be unique across the pair"
    helpers = [name for name in _function_names(source) if name not in decorated]
    assert len(helpers) == len(set(helpers)), "helper functions must be unique across the pair"
    public = set(_function_names(LABS[lab].public_tests(question).read_text()))
    hidden = set(_function_names(LABS[lab].hidden_tests(question).read_text()))
    assert not public & hidden, "public and hidden files must not share a function name"
    test_file = load(lab, question)
    assert test_file.name == question
    assert len(test_file.test_cases) == len(decorated), "a case was shadowed when the files were merged"
    names = [tc.name for tc in test_file.test_cases]
    assert len(names) == len(set(names)), "case names must be unique"
    for tc in test_file.test_cases:
        params = tc.body._get_func_params()
        assert params[0] == question and set(params[1:]) <= set(LABS[lab].functions), (
            f"case {tc.name!r} may only take the student's {question} and the lab's other functions"
        )


@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_points_are_the_declared_points(lab, question):
    test_file = load(lab, question)
    declared = next(q.points for q in LABS[lab].questions if q.name == question)
    assert [tc.points for tc in test_file.test_cases] == [1] * declared


@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_randomness_is_seeded(lab, question):
    source = merged_source(lab, question)
    assert "manual_seed(" not in source.replace("Generator().manual_seed(", ""), "no global seeding"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _RANDOM_CALLS:
            keywords = {k.arg for k in node.keywords}
            assert "generator" in keywords, f"line {node.lineno}: {node.func.attr}(...) without generator="


# Behaviour ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_reference_passes_every_case(lab, question):
    env = reference_env(lab)
    slow, failures = {}, {}
    for tc in load(lab, question).test_cases:
        start = time.process_time()
        failures.update(run_cases_one(tc, env))
        seconds = time.process_time() - start
        if seconds > CASE_SECONDS[LABS[lab].kind]:
            slow[tc.name] = seconds
    assert not any(failures.values()), describe(failures)
    assert not slow, f"cases too slow against the reference: {slow}"


def run_cases_one(tc, env: dict) -> dict[str, BaseException | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tc.body.call_func(env)
        except Exception as error:  # a failing case
            return {tc.name: error}
    return {tc.name: None}


STYLE_CASES = [(lab, question, style) for lab, question in PAIRS for style in mistakes.styles_for(LABS[lab])]


@pytest.mark.parametrize(("lab", "question", "style"), STYLE_CASES,
                         ids=[f"{lab}:{question}-{style}" for lab, question, style in STYLE_CASES])
def test_correct_style_passes_every_case(lab, question, style):
    failures = run_cases(lab, question, style_env(lab, style))
    assert not any(failures.values()), f"style {style} fails:\n{describe(failures)}"


MISTAKE_CASES = [
    (mistake, lab, question)
    for mistake in mistakes.MISTAKES
    for lab in labs_using(mistake)
    for question in LABS[lab].question_names
]


@pytest.mark.parametrize(("mistake", "lab", "question"), MISTAKE_CASES,
                         ids=[f"{m}-{lab}:{q}" for m, lab, q in MISTAKE_CASES])
def test_mistake(mistake, lab, question):
    entry = mistakes.MISTAKES[mistake]
    failures = run_cases(lab, question, mistake_env(mistake))
    failed = {name: error for name, error in failures.items() if error is not None}
    if question in entry.affects.get(lab, ()):
        assert failed, f"no case of {lab}:{question} catches {mistake}"
        assert any(isinstance(error, AssertionError) for error in failed.values()), (
            f"{mistake} only makes {lab}:{question} crash, no check reports it:\n{describe(failures)}"
        )
    elif question in entry.carried_into.get(lab, ()):
        # The student's own code of an earlier lab is wrong, and this question uses it.
        assert failed, f"{mistake} is declared carried into {lab}:{question}, but no case fails"
        if LABS[lab].kind is not Kind.WHOLE_MODELS:
            # Here it is handed to the cases that take it as an argument; whole-model functions call it themselves.
            end_to_end = {tc.name for tc in load(lab, question).test_cases if tc.body._get_func_params()[1:]}
            assert set(failed) <= end_to_end, (f"{mistake} should only change the end-to-end cases:\n"
                                               f"{describe(failures)}")
    else:
        assert not failed, f"{mistake} should not change {lab}:{question}, but:\n{describe(failures)}"


@pytest.mark.parametrize(("lab", "question"), PAIRS, ids=PAIR_IDS)
def test_stub_fails_every_case(lab, question):
    env = mistakes.student_env(mistakes.STUB, label="stub")
    failures = run_cases(lab, question, env)
    assert failures
    passed = [name for name, error in failures.items() if error is None]
    assert not passed, f"the stub passes {passed}"
    # A case that expects an exception reports the NotImplementedError it got instead.
    assert all(isinstance(error, NotImplementedError) or "got NotImplementedError" in str(error)
               for error in failures.values()), describe(failures)


def test_mistakes_of_the_later_labs_reproduce_the_labs_section_5_figures():
    """The wrong code behind each §5 id of L3-C .. L5-C gives the wrong values docs/course.md gives."""
    import quant_reference
    from quantlab import fixtures

    def run(mistake, name, *args):
        return mistake_env(mistake)[name](*args)

    t, u8 = fixtures.T(), torch.uint8
    q, s = run("per_channel_wrong_dim", "linear_q_symmetric_per_channel", t, 0)
    error = quant_reference.quantization_error(t, s * q.float()).item()
    assert error == 1.0781488418579102
    q, s = run("per_channel_missing_reshape", "linear_q_symmetric_per_channel", t, 0)
    assert q.tolist() == [[33, -6, 127], [16, 127, -34], [0, 127, 46]]
    assert quant_reference.quantization_error(t, s * q.float()).item() == 17038.546875
    q, _ = run("per_group_wrong_axis", "linear_q_symmetric_per_group", fixtures.A(), 2)
    assert q.tolist() == [[25, 42, 54, 64], [127, 127, 127, 127]]
    q, _ = run("per_group_wrong_axis", "linear_q_symmetric_per_group", fixtures.G(), 3)
    assert int((q != quant_reference.linear_q_symmetric_per_group(fixtures.G(), 3)[0]).sum()) == 30
    q_w, s_w = quant_reference.linear_q_symmetric(fixtures.W())
    x = torch.tensor([1.0, 2.0, 3.0])
    y = run("w8a32_missing_scale", "quantized_linear_W8A32_without_bias", x, q_w, s_w, 0)
    assert y.tolist() == [-177.0, 229.0, 555.0]
    y = run("w8a32_transposed_weight", "quantized_linear_W8A32_without_bias", x, q_w, s_w, 0)
    assert torch.allclose(y, torch.tensor([-4.3000, 3.4366, 10.1236]), atol=5e-5)
    codes = torch.tensor([1, 0, 3, 2], dtype=u8)
    assert run("pack_msb_first", "pack_weights", codes, 2).tolist() == [78]
    assert run("pack_msb_first", "pack_weights", torch.tensor([1, 15, 7, 0], dtype=u8), 4).tolist() == [31, 112]
    assert run("pack_wrong_shift", "pack_weights", codes, 2).tolist() == [29]
    assert run("pack_wrong_shift/constant", "pack_weights", codes, 2).tolist() == [12]
    packed = torch.tensor([177, 255], dtype=u8)
    assert run("unpack_no_mask", "unpack_weights", packed, 2).tolist() == [177, 44, 11, 2, 255, 63, 15, 3]
    assert run("unpack_no_mask", "unpack_weights", torch.tensor([241, 7], dtype=u8), 4).tolist() == [241, 15, 7, 0]
    assert run("unpack_msb_first", "unpack_weights", torch.tensor([177], dtype=u8), 2).tolist() == [2, 3, 0, 1]


# Each form of a mistake (tests/mistake_forms) fails a case of every question where the probes show it:
# tests/test_diagnose_forms.py checks that in the same test that checks its diagnosis (each form runs once).


@pytest.mark.parametrize("index", range(len(mistake_forms.CORRECT)),
                         ids=[f"correct{i + 1}" for i in range(len(mistake_forms.CORRECT))])
def test_right_code_written_otherwise_passes_every_case_of_the_labs_it_writes(index):
    source = mistake_forms.CORRECT[index]
    env = mistakes.student_env(mistakes.COURSE_LITERAL, source, label="correct form")
    labs = mistake_forms.labs_written(source)
    assert labs
    for lab in labs:
        for question in lab.question_names:
            failures = run_cases(lab.id, question, env)
            assert not any(failures.values()), f"{lab.id}:{question} fails:\n{describe(failures)}"
