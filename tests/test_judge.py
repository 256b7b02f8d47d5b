"""judge: the student's names reach the tests as proxies; classes and in-place functions go to inspections.

A proxy handed to a quantlab inspection sends the whole inspection to the worker; its findings
are judged in the grader against the same inspection run here on the reference.
"""

import textwrap
import time

import pytest
import torch
from otter.test_files.exception_test import ExceptionTestFile

from grader import judge
from grader.labs import SUPPORT
from grader.sandbox.session import Limits, WorkerSession
from quantlab import fixtures
from quantlab.layer_findings import layer_findings

PROGRAM = textwrap.dedent(
    """
    import torch
    from torch import nn

    class W8A16LinearLayer(nn.Module):
        def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
            super().__init__()
            self.register_buffer("int8_weights", torch.zeros(out_features, in_features, dtype=torch.int8))
            self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
            self.bias = None

        def quantize(self, weights):
            scales = weights.abs().max(dim=-1).values / 127
            if (scales == 0).any():
                raise ValueError("all-zero row")
            self.int8_weights = torch.round(weights / scales[:, None]).to(torch.int8)
            self.scales = scales

        def forward(self, input):
            return input @ self.int8_weights.to(input.dtype).T * self.scales

    def double(t):
        return t * 2
    """
)

TESTS = textwrap.dedent(
    '''
    from otter.test_files import test_case
    import torch
    import quant_reference as ref
    from quantlab import checks, fixtures
    from quantlab.layer_findings import layer_findings

    OK_FORMAT = False
    name = "W8A16LinearLayer"

    @test_case(name="codes of W", points=1)
    def codes(W8A16LinearLayer):
        got = layer_findings(W8A16LinearLayer, 3, 3, False, weights=fixtures.W())
        want = layer_findings(ref.W8A16LinearLayer, 3, 3, False, weights=fixtures.W())
        checks.expect_codes(got["int8_weights"], want["int8_weights"], what="int8 weights")

    @test_case(name="an all-zero row", points=1)
    def zero_row(W8A16LinearLayer):
        layer_findings(W8A16LinearLayer, 3, 2, False, weights=torch.zeros(2, 3))
    '''
)


@pytest.fixture(scope="module")
def session():
    s = WorkerSession([{"index": 1, "source": PROGRAM}], support=[SUPPORT], limits=Limits())
    s.start()
    yield s
    s.close()


def proxy(session, name):
    return judge.StudentFunction(session, name, time.monotonic() + 30)


def test_a_class_proxy_goes_to_the_worker_through_an_inspection(session):
    findings = layer_findings(proxy(session, "W8A16LinearLayer"), 3, 3, False, weights=fixtures.W())
    assert torch.equal(findings["int8_weights"],
                       torch.tensor([[-127, -72, 27], [-118, 20, 127], [14, 80, 127]], dtype=torch.int8))


def test_calling_a_class_proxy_directly_is_a_clear_error(session):
    with pytest.raises(judge.RemoteOnly, match="inspection"):
        proxy(session, "W8A16LinearLayer")(3, 3)
    assert torch.equal(proxy(session, "double")(torch.ones(2)), torch.full((2,), 2.0))


def test_a_missing_class_is_named_as_a_class(session):
    with pytest.raises(judge.MissingFunction) as caught:
        layer_findings(proxy(session, "W8A16LinearLayr"), 3, 3)
    assert "does not define the class `W8A16LinearLayr`" in str(caught.value)
    with pytest.raises(judge.MissingFunction) as caught:
        proxy(session, "w8_a16_forward")(torch.ones(1), torch.ones(1), torch.ones(1))
    assert "does not define `w8_a16_forward`" in str(caught.value)


def test_a_question_judged_through_inspections(session):
    test_file = ExceptionTestFile.from_string(TESTS, path="tests/W8A16LinearLayer.py")
    question = judge.judge_question(test_file, session, budget=60)
    codes, zero_row = question.tests
    assert codes.passed and question.score == 1
    assert not zero_row.passed
    assert zero_row.message == "Your code raised ValueError: all-zero row (line 15 of its cell)."
