import torch
from otter.test_files import test_case

from quantlab import checks, model_checks
from quantlab.model_findings import save_findings

OK_FORMAT = False
name = "save_quantized_state_dict"


@test_case(name="tiny CodeGen in float32, saved to an io.BytesIO", points=1)
def save_codegen_buffer(save_quantized_state_dict):
    found = save_findings(save_quantized_state_dict, "codegen", to="buffer")
    model_checks.expect_saved(found, what="tiny CodeGen")


@test_case(name="tiny CodeGen quantized in bfloat16 (lm_head kept), saved to quantized_state_dict.pth", points=1)
def save_quantized_codegen_file(save_quantized_state_dict, replace_linear_with_target_and_quantize, W8A16LinearLayer):
    found = save_findings(save_quantized_state_dict, "codegen", dtype=torch.bfloat16, to="file",
                          quantize_with=(replace_linear_with_target_and_quantize, W8A16LinearLayer, ["lm_head"]))
    model_checks.expect_saved(found, what="quantized tiny CodeGen")
    int8_keys = [k for k, t in found["saved"].items() if t.dtype == torch.int8]
    if len(int8_keys) != 8:
        raise checks.CheckFailed(
            f"The saved state dict holds {len(int8_keys)} int8 tensors; the quantized tiny CodeGen has 8 "
            "(4 replaced Linears in each of 2 blocks)."
        )
