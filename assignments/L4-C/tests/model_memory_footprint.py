import torch
from otter.test_files import test_case

from quantlab import checks, model_checks
from quantlab.model_findings import footprint_findings

OK_FORMAT = False
name = "model_memory_footprint"

_HINT = (
    " The footprint is the sum, over every parameter and every buffer of the model, of "
    "numel() * element_size(): 4 bytes per element in float32, 2 in bfloat16, 1 in int8."
)


def _footprint_check(model_memory_footprint, model_name, dtype, want, what):
    got = footprint_findings(model_memory_footprint, model_name, dtype=dtype)["footprint"]
    try:
        model_checks.expect_bytes(got, want, what=f"footprint of {what} (bytes)")
    except checks.CheckFailed as failure:
        raise checks.CheckFailed(str(failure) + _HINT) from None


@test_case(name="tiny CodeGen in float32: 116,224 parameters of 4 bytes", points=1)
def footprint_codegen_fp32(model_memory_footprint):
    _footprint_check(model_memory_footprint, "codegen", torch.float32, 464896, "the tiny CodeGen in float32")


@test_case(name="tiny CodeGen in bfloat16: the same parameters, 2 bytes each", points=1)
def footprint_codegen_bf16(model_memory_footprint):
    _footprint_check(model_memory_footprint, "codegen", torch.bfloat16, 232448, "the tiny CodeGen in bfloat16")


@test_case(name="tiny DETR in float32: its frozen batch norms keep their statistics in buffers", points=1)
def footprint_detr_buffers(model_memory_footprint):
    # 26,242 parameters and 96 buffer elements (4 buffers of 8 and 4 of 16 channels), 4 bytes each.
    _footprint_check(model_memory_footprint, "detr", torch.float32, 105352, "the tiny DETR (parameters and buffers)")
