"""Diagnosis: a failing function that behaves like a known mistake is named, and nothing else is.

One path for every kind of lab: a probe is a function of `get(name)`, here the namespace of a
mistake's notebook or of a correct style, in grading proxies into the worker.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import mistakes
import quant_mistakes
from grader.diagnose import Raised, diagnose, findings, fits, same, signature_fits
from grader.labs import LABS
from quant_mistakes import catalogue
from quant_mistakes.signatures import Case, Signature, raises

CASES = [
    (key, lab, question)
    for key, mistake in mistakes.MISTAKES.items()
    for lab, questions in mistake.affects.items()
    for question in questions
    if question not in mistake.undiagnosed.get(lab, ())
]
#: A scale computed for int8 whatever the dtype: a dtype not forwarded to the scale function, or an
#: int8 range written into it, compute the same on every probe of these questions; both are named.
TWINS = {
    (key, lab, question): "dtype_not_forwarded or int8_range_hardcoded"
    for lab, question in (("L2-B", "linear_quantization"), ("L3-A", "linear_q_symmetric"),
                          ("L3-B", "linear_q_symmetric"))
    for key in ("dtype_not_forwarded", "dtype_not_forwarded/linear_quantization", "int8_range_hardcoded",
                "int8_range_hardcoded/symmetric")
}


def diagnosed(lab: str, question: str, env: dict):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # load_state_dict warns for every no-op copy into a meta tensor
        return diagnose(lab, question, env.__getitem__)


@pytest.mark.parametrize(("mistake", "lab", "question"), CASES, ids=[f"{m}-{lab}:{q}" for m, lab, q in CASES])
def test_every_known_mistake_is_named_on_every_question_it_affects(mistake, lab, question):
    """Named by the whole diagnosis; and where a signature of its id reads the question, by its
    signatures alone too (they must recognise the catalogued code, not only other forms of it)."""
    env = mistakes.mistake_env(mistake)
    found = diagnosed(lab, question, env)
    expected = TWINS.get((mistake, lab, question), mistakes.MISTAKES[mistake].id)
    assert found == (expected, quant_mistakes.explain(lab, *expected.split(" or ")))
    signatures = [s for s in quant_mistakes.signatures(lab, question) if s.id == mistakes.MISTAKES[mistake].id]
    if signatures:
        probes = quant_mistakes.probes(question)
        course_get = quant_mistakes.model(None).__getitem__
        theirs, course = findings(probes, env.__getitem__), findings(probes, course_get)
        cases = [Case(*finding, course_get) for finding in zip(probes, theirs, course, strict=True)]
        assert any(signature_fits(s, cases) for s in signatures), f"no signature of {mistake} recognises it"


STYLE_CASES = [(lab.id, style) for lab in LABS.values() for style in mistakes.styles_for(lab)]


@pytest.mark.parametrize(("lab", "style"), STYLE_CASES, ids=[f"{lab}-{style}" for lab, style in STYLE_CASES])
def test_correct_code_gets_no_diagnosis(lab, style):
    env = mistakes.student_env(mistakes.styles_for(LABS[lab])[style], label=style)
    for question in LABS[lab].question_names:
        assert diagnosed(lab, question, env) is None, (style, question)


def test_the_explanation_of_two_twins_names_both():
    found = diagnosed("L3-A", "linear_q_symmetric", mistakes.mistake_env("dtype_not_forwarded"))
    assert found[0] == "dtype_not_forwarded or int8_range_hardcoded"
    assert found[1] == (
        "Your results fit two known mistakes equally well; one of them is likely. "
        + quant_mistakes.EXPLANATIONS["dtype_not_forwarded"]
        + " Or: " + quant_mistakes.EXPLANATIONS["int8_range_hardcoded"]
    )


def test_a_mistake_explained_differently_in_a_later_lab_gets_that_labs_text():
    env = mistakes.mistake_env("replace_wrong_arg_order")
    in_l4b = diagnosed("L4-B", "replace_linear_with_target", env)
    in_l4d = diagnosed("L4-D", "load_quantized_model", env)
    assert in_l4b == ("replace_wrong_arg_order", quant_mistakes.EXPLANATIONS["replace_wrong_arg_order"])
    assert in_l4d == ("replace_wrong_arg_order", quant_mistakes.IN_LAB[("replace_wrong_arg_order", "L4-D")])
    assert in_l4b[1] != in_l4d[1]


def test_unknown_errors_and_exceptions_get_no_diagnosis():
    def zeros(tensor, *args, **kwargs):
        return torch.zeros_like(tensor, dtype=torch.int8)

    def broken(*args, **kwargs):
        raise NotImplementedError

    for function in (zeros, broken):
        assert diagnose("L2-A", "linear_q_with_scale_and_zero_point",
                        {"linear_q_with_scale_and_zero_point": function}.get) is None


def test_same_is_strict_about_types():
    assert same((torch.tensor([1.0]), 2.0), (torch.tensor([1.0 + 1e-9]), 2.0))
    assert not same(torch.tensor([1], dtype=torch.int8), torch.tensor([1], dtype=torch.int16))
    assert not same(1, 1.0) and not same([1], (1,))
    assert not same(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.1]))


def test_a_mistake_fits_only_where_the_student_answered_and_only_if_it_differs_from_the_course():
    course, mistake = [1, 2, 3], [1, 5, 3]
    assert fits(mistake, course, [1, 5, 3])
    assert fits(mistake, course, [Raised("ValueError"), 5, Raised("ValueError")])
    assert not fits(mistake, course, [1, 2, 3])  # the student's answers are the course's
    # where they answered, the mistake looks right
    assert not fits(mistake, course, [Raised("ValueError"), Raised("ValueError"), 3])
    assert not fits(mistake, course, [1, 6, 3])


def test_findings_of_probes_that_raise_carry_the_exception_type_and_message():
    def probe(get):
        return get("f")(2)

    assert findings([probe, probe], {"f": lambda x: x * 2}.__getitem__) == [4, 4]
    [raised] = findings([probe], {"f": lambda x: 1 / 0}.__getitem__)
    assert (raised.type, raised.message) == ("ZeroDivisionError", "division by zero")
    assert findings([probe], {}.__getitem__)[0].type == "KeyError"
    assert same(Raised("ValueError", "mine"), Raised("ValueError", "the course's"))
    assert not same(Raised("ValueError"), Raised("TypeError")) and not same(Raised("ValueError"), 1)


def test_an_exception_from_the_worker_keeps_the_students_type_name_and_trace():
    from grader.sandbox.session import raised_by

    error = raised_by({"type": "RuntimeError", "builtin": True, "message": "no grad", "traceback": "line 3"})
    assert Raised.of(error) == Raised("RuntimeError", "no grad", "line 3")


def test_probes_on_which_the_student_raises_are_left_out():
    # Dividing by |q_min| is /128 for int8, but a ZeroDivisionError for uint8.
    def scale(tensor, dtype=torch.int8):
        return tensor.abs().max().item() / abs(torch.iinfo(dtype).min)

    found = diagnose("L3-A", "get_q_scale_symmetric", {"get_q_scale_symmetric": scale}.__getitem__)
    assert found == ("sym_scale_128", quant_mistakes.EXPLANATIONS["sym_scale_128"])


def _cases(*pairs) -> list[Case]:
    """(student's finding, course's finding) per probe."""
    return [Case(lambda get: None, theirs, course, {}.__getitem__) for theirs, course in pairs]


def test_a_signature_fits_when_it_explains_every_difference_and_shows_one():
    doubled = Signature("x", "q", lambda case: None if case.raised else case.theirs == 2 * case.course)
    assert signature_fits(doubled, _cases((2, 1), (0, 0), (6, 3)))
    assert not signature_fits(doubled, _cases((1, 1), (0, 0)))  # the course's answers show nothing
    assert not signature_fits(doubled, _cases((2, 1), (5, 1)))  # a difference it does not explain
    assert signature_fits(doubled, _cases((2, 1), (Raised("TypeError"), 1)))  # a raise it cannot read is left out
    assert not signature_fits(doubled, _cases((Raised("TypeError"), 1)))


def test_a_signature_that_says_nothing_or_cannot_read_a_finding_names_nothing():
    silent = Signature("x", "q", lambda case: None)
    unreadable = Signature("x", "q", lambda case: case.theirs["codes"])
    ruled_out = Signature("x", "q", lambda case: case.theirs == 2 * case.course and case.course != 3)
    assert not signature_fits(silent, _cases((2, 1)))
    assert not signature_fits(unreadable, _cases((2, 1)))
    assert not signature_fits(ruled_out, _cases((2, 1), (3, 3)))  # False rules it out, even on a right answer


def test_an_exception_signature_matches_the_type_and_the_cause():
    refused = raises("RuntimeError", match="require gradients")
    assert refused(_cases((Raised("RuntimeError", "Only Tensors of floating point can require gradients"), 1))[0])
    assert not refused(_cases((Raised("RuntimeError", "shape mismatch"), 1))[0])
    assert not refused(_cases((Raised("TypeError", "cannot require gradients"), 1))[0])
    assert not refused(_cases((1, 1))[0])


def test_every_signature_reads_a_question_its_mistake_affects_and_says_what_it_recognises():
    assert quant_mistakes.SIGNATURES
    assert all(signature.what for signature in quant_mistakes.SIGNATURES)
    with pytest.raises(ValueError, match="no catalogued mistake of that id affects"):
        catalogue._checked([Signature("round_floor", "pack_weights", lambda case: None)])
