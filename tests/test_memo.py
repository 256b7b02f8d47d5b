"""grader.memo: the reference answers a batch's hidden cases once, and no answer can be changed by its user."""

import types

import pytest
import torch

import quant_reference as ref
from grader.memo import ReferenceMemo, Unencodable, encode


def test_the_encoding_is_exact_content_not_identity():
    t = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    assert encode(t) == encode(t.clone())
    assert encode(t) != encode(t.to(torch.float64))
    assert encode(t) != encode(t.reshape(3, 2))
    assert encode(t) != encode(t.t().contiguous().t())  # same values, other strides
    other = t.clone()
    other[1, 2] = 5.000001
    assert encode(t) != encode(other)
    assert encode(0.0) != encode(-0.0) and encode(1) != encode(1.0) != encode(True)
    assert encode((1, 2)) != encode([1, 2])
    assert encode(float("nan")) == encode(float("nan"))
    assert encode({"dtype": torch.int8}) != encode({"dtype": torch.uint8})


@pytest.mark.parametrize("value", [
    torch.ones(2, requires_grad=True), torch.nn.Parameter(torch.ones(2)), torch.nn.Linear(2, 2),
    object(), {1: 2}, lambda: None,
])
def test_what_cannot_be_encoded_exactly_is_refused(value):
    with pytest.raises(Unencodable):
        encode(value)


def test_a_second_call_is_answered_from_the_memo_with_a_fresh_copy():
    memo = ReferenceMemo()
    r = torch.randn(8, 8, generator=torch.Generator().manual_seed(0))
    first = memo.call(ref.linear_q_with_scale_and_zero_point, (r.clone(), 0.03, 5, torch.int8), {})
    first.fill_(0)  # a test body that changes its answer in place
    second = memo.call(ref.linear_q_with_scale_and_zero_point, (r.clone(), 0.03, 5, torch.int8), {})
    assert torch.equal(second, ref.linear_q_with_scale_and_zero_point(r.clone(), 0.03, 5, torch.int8))
    assert memo.stats()["hits"] == 1 and memo.stats()["misses"] == 1
    other = memo.call(ref.linear_q_with_scale_and_zero_point, (r.clone(), 0.03, 6, torch.int8), {})
    assert memo.stats()["misses"] == 2 and not torch.equal(other, second)


def test_containers_in_answers_are_copied_too():
    memo = ReferenceMemo()

    def pair(t):
        return [t * 2, {"n": 1}]

    pair.__module__ = "quant_reference.fake"
    answer = memo.call(pair, (torch.ones(2),), {})
    answer[0].add_(100)
    answer[1]["n"] = 99
    answer.append("extra")
    again = memo.call(pair, (torch.ones(2),), {})
    assert len(again) == 2 and torch.equal(again[0], torch.full((2,), 2.0)) and again[1] == {"n": 1}


def test_a_function_that_changes_its_arguments_or_draws_random_numbers_is_not_memoised():
    memo = ReferenceMemo()
    calls = []

    def in_place(t):
        calls.append(1)
        return t.mul_(2)

    def noisy(t):
        calls.append(1)
        return t + torch.rand(1)

    for function in (in_place, noisy):
        for _ in range(3):
            memo.call(function, (torch.ones(3),), {})
    assert len(calls) == 6 and memo.stats()["hits"] == 0
    assert set(memo.stats()["impure"]) == {f"{__name__}.{f.__qualname__}" for f in (in_place, noisy)}


def test_unencodable_arguments_and_results_go_straight_to_the_function():
    memo = ReferenceMemo()
    layer = torch.nn.Linear(2, 2)
    assert memo.call(lambda m: m, (layer,), {}) is layer
    assert memo.call(lambda: layer, (), {}) is layer  # a result it does not copy is not kept
    assert memo.stats()["hits"] == 0 and memo.stats()["bypassed"] == 2


def test_install_rebinds_only_the_reference():
    memo = ReferenceMemo()
    helper = types.FunctionType((lambda: 1).__code__, {})
    test_globals = {"ref": ref, "torch": torch, "helper": helper,
                    "linear_dequantization": ref.linear_dequantization}
    memo.install(test_globals)
    assert test_globals["torch"] is torch and test_globals["helper"] is helper
    assert test_globals["ref"] is not ref and test_globals["ref"].W8A16LinearLayer is ref.W8A16LinearLayer
    q = torch.tensor([-128, 0, 127], dtype=torch.int8)
    for function in (test_globals["ref"].linear_dequantization, test_globals["linear_dequantization"]):
        assert torch.equal(function(q, 0.5, 3), ref.linear_dequantization(q, 0.5, 3))
    assert memo.stats()["hits"] == 1
