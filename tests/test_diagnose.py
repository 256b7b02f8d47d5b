"""Diagnosis: a failing function that behaves like a known mistake is named, and nothing else is."""


import pytest
import torch

import mistakes

from grader.diagnose import diagnose, same

CASES = [
    (mistake, lab, question)
    for mistake, spec in mistakes.MISTAKES.items()
    for lab, questions in spec["affects"].items()
    for question in questions
]


@pytest.mark.parametrize("mistake, lab, question", CASES, ids=[f"{m}-{lab}-{q}" for m, lab, q in CASES])
def test_every_known_mistake_is_named_on_every_question_it_affects(mistake, lab, question):
    function = mistakes.mistake_env(mistake)[question]
    found = diagnose(lab, question, function)
    assert found is not None
    assert mistake.split("/")[0] in found[0].split(" or ")
    assert len(found[1]) > 20


@pytest.mark.parametrize("style", sorted(mistakes.CORRECT_STYLES))
def test_correct_code_gets_no_diagnosis(style):
    env = mistakes.student_env(mistakes.CORRECT_STYLES[style])
    for lab, questions in mistakes.QUESTIONS.items():
        for question in questions:
            assert diagnose(lab, question, env[question]) is None, (style, question)


def test_unknown_errors_and_exceptions_get_no_diagnosis():
    def zeros(tensor, *args, **kwargs):
        return torch.zeros_like(tensor, dtype=torch.int8)

    def broken(*args, **kwargs):
        raise NotImplementedError

    for function in (zeros, broken):
        assert diagnose("L2-A", "linear_q_with_scale_and_zero_point", function) is None


def test_same_is_strict_about_types():
    assert same((torch.tensor([1.0]), 2.0), (torch.tensor([1.0 + 1e-9]), 2.0))
    assert not same(torch.tensor([1], dtype=torch.int8), torch.tensor([1], dtype=torch.int16))
    assert not same(1, 1.0) and not same([1], (1,))


def test_probes_on_which_the_student_raises_are_left_out():
    # Dividing by |q_min| is /128 for int8, but a ZeroDivisionError for uint8.
    def scale(tensor, dtype=torch.int8):
        return tensor.abs().max().item() / abs(torch.iinfo(dtype).min)

    assert diagnose("L3-A", "get_q_scale_symmetric", scale)[0] == "sym_scale_128"
