from otter.test_files import test_case
import torch
from quantlab import checks
from quantlab.model_findings import save_findings

OK_FORMAT = False
name = "save_quantized_state_dict"


def _expect_saved(found, what):
    """The file holds the model's state dict (every parameter and buffer, same values), read safely."""
    if found["load_error"] is not None:
        raise checks.CheckFailed(
            f"The file saved from the {what} could not be read back with torch.load(file, weights_only=True): "
            f"{found['load_error']}. Save model.state_dict() (a dict of tensors), not the model itself."
        )
    if found["saved"] is None:
        raise checks.CheckFailed(
            f"The file saved from the {what} holds a {found['loaded_type']}, not a state dict. Save model.state_dict()."
        )
    missing = [k for k in found["expected_keys"] if k not in found["saved"]]
    extra = [k for k in found["saved"] if k not in found["expected_keys"]]
    if missing or extra:
        raise checks.CheckFailed(
            f"The saved state dict of the {what} has {len(missing)} key(s) missing ({', '.join(missing[:4])}) and "
            f"{len(extra)} unexpected. A quantized layer keeps int8_weights and scales in buffers: "
            "model.state_dict() holds buffers too, model.named_parameters() does not."
        )
    if not found["matches_model"]:
        raise checks.CheckFailed(f"The saved tensors differ from the {what}'s own (values or dtypes).")


@test_case(name="tiny CodeGen in float32, saved to an io.BytesIO", points=1)
def save_codegen_buffer(save_quantized_state_dict):
    found = save_findings(save_quantized_state_dict, "codegen", to="buffer")
    _expect_saved(found, "tiny CodeGen")


@test_case(name="tiny CodeGen quantized in bfloat16 (lm_head kept), saved to quantized_state_dict.pth", points=1)
def save_quantized_codegen_file(save_quantized_state_dict, replace_linear_with_target_and_quantize, W8A16LinearLayer):
    found = save_findings(save_quantized_state_dict, "codegen", dtype=torch.bfloat16, to="file",
                          quantize_with=(replace_linear_with_target_and_quantize, W8A16LinearLayer, ["lm_head"]))
    _expect_saved(found, "quantized tiny CodeGen")
    int8_keys = [k for k, t in found["saved"].items() if t.dtype == torch.int8]
    if len(int8_keys) != 8:
        raise checks.CheckFailed(
            f"The saved state dict holds {len(int8_keys)} int8 tensors; the quantized tiny CodeGen has 8 "
            "(4 replaced Linears in each of 2 blocks)."
        )
