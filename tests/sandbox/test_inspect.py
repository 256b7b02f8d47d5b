"""The worker's `inspect` op: quantlab's registered inspections run beside the student's objects.

Only keys of quantlab's registry run, with the student's objects for the names the request
carries; findings come back as data; the student's exceptions come back as from a call.
"""

import textwrap

import pytest
import torch

from grader.labs import SUPPORT
from grader.sandbox import wire
from grader.sandbox.session import Limits, StudentCodeError, UndefinedName, WorkerSession
from quantlab.layer_findings import RECORDING

LAYER = "quantlab.layer_findings.layer_findings"
REPLACEMENT = "quantlab.layer_findings.replacement_findings"

PROGRAM = textwrap.dedent(
    """
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self, in_features, out_features, bias=True, dtype=torch.float32):
            super().__init__()
            self.register_buffer("int8_weights", torch.zeros(out_features, in_features, dtype=torch.int8))
            self.register_buffer("scales", torch.ones(out_features, dtype=dtype))
            self.bias = None

        def quantize(self, weights):
            if (weights == 0).all(dim=1).any():
                raise ValueError("an all-zero row")
            self.int8_weights = torch.ones_like(weights, dtype=torch.int8)

        def forward(self, input):
            return input @ self.int8_weights.to(input.dtype).T * self.scales

    def replace(module, target_class, module_name_to_exclude):
        for name, child in module.named_children():
            if isinstance(child, nn.Linear) and name not in module_name_to_exclude:
                setattr(module, name, target_class(child.in_features, child.out_features, child.bias is not None, child.weight.dtype))
            else:
                replace(child, target_class, module_name_to_exclude)

    import quantlab.harness
    def sneaky(*args):
        return "ran"
    quantlab.harness.REGISTRY["quantlab.sneaky.sneaky"] = sneaky
    """  # noqa: E501 - a student's program, run as written
)


@pytest.fixture(scope="module")
def session():
    s = WorkerSession([{"index": 1, "source": PROGRAM}], support=[SUPPORT], limits=Limits())
    s.start()
    yield s
    s.close()


def test_an_inspection_runs_on_the_students_class_and_returns_findings(session):
    findings = session.inspect(LAYER, (wire.StudentName("Layer"), 3, 2, False),
                               {"weights": torch.ones(2, 3), "inputs": [torch.ones(1, 3)]}, timeout=30)
    assert (findings["type"] == "Layer"
            and findings["buffers"] == {"int8_weights": [[2, 3], "int8"], "scales": [[2], "float32"]})
    assert torch.equal(findings["int8_weights"], torch.ones(2, 3, dtype=torch.int8))
    assert torch.equal(findings["outputs"][0], torch.full((1, 2), 3.0))


def test_a_replacement_inspection_changes_a_model_in_the_worker(session):
    findings = session.inspect(REPLACEMENT, (wire.StudentName("replace"), RECORDING, "dummy", ["lm_head"]), {},
                               timeout=30)
    assert findings["replaced"] == ["linear_1", "linear_2"] and findings["returned"] == "None"
    assert findings["built_with"]["linear_1"] == [[1, 1, True, torch.float32], []]


def test_the_students_exception_inside_an_inspection_arrives_as_from_a_call(session):
    with pytest.raises(ValueError) as caught:
        session.inspect(LAYER, (wire.StudentName("Layer"), 3, 2, False), {"weights": torch.zeros(2, 3)}, timeout=30)
    assert isinstance(caught.value, StudentCodeError) and caught.value.line is not None
    assert "all-zero row" in str(caught.value)


def test_an_undefined_name_is_reported_as_such(session):
    with pytest.raises(UndefinedName) as caught:
        session.inspect(LAYER, (wire.StudentName("W8A16LinearLayer"), 3, 2), {}, timeout=30)
    assert caught.value.name == "W8A16LinearLayer"


@pytest.mark.parametrize("key", [
    "os.system",                        # outside quantlab
    "quantlab.checks.expect_close",     # quantlab, but not an inspection
    "quantlab.harness.beside_student_code",
    "quantlab.sneaky.sneaky",           # registered by the student under a module that does not exist
    "quantlab",                         # no function at all
    "quantlab.layer_findings.__builtins__",
    3,
])
def test_only_quantlabs_registered_inspections_run(session, key):
    with pytest.raises(StudentCodeError) as caught:
        session.inspect(key, (), {}, timeout=30)
    assert caught.value.type_name == "InspectionRefused"
    assert session.alive


def test_objects_of_the_grader_never_cross(session):
    # A class of the grader's own process is described, never rebuilt: the inspection sees a description.
    with pytest.raises(StudentCodeError):
        session.inspect(LAYER, (torch.nn.Linear, 3, 2), {}, timeout=30)
