from otter.test_files import test_case
import torch
from quantlab import model_checks
import quant_reference as ref

_DETR_EXCLUDE = ["0", "1", "2", "class_labels_classifier"]


@test_case(name="hidden: tiny DETR quantized in float32, saved to a file path", points=1, hidden=True)
def hidden_save_detr_file(save_quantized_state_dict, replace_linear_with_target_and_quantize, W8A16LinearLayer):
    options = dict(seed=3, to="file")
    found = save_findings(save_quantized_state_dict, "detr", **options,
                          quantize_with=(replace_linear_with_target_and_quantize, W8A16LinearLayer, _DETR_EXCLUDE))
    model_checks.expect_saved(found, what="quantized tiny DETR")
    want = save_findings(ref.save_quantized_state_dict, "detr", **options,
                         quantize_with=(ref.replace_linear_with_target_and_quantize, ref.W8A16LinearLayer,
                                        _DETR_EXCLUDE))
    model_checks.expect_state_dict(found["saved"], want["saved"], what="saved tiny DETR")


@test_case(name="hidden: CodeGen with 3 blocks in bfloat16, nothing excluded, saved to an io.BytesIO",
           points=1, hidden=True)
def hidden_save_codegen_buffer(save_quantized_state_dict, replace_linear_with_target_and_quantize, W8A16LinearLayer):
    options = dict(seed=4, dtype=torch.bfloat16, config={"num_layers": 3, "attention_bias": False}, to="buffer")
    found = save_findings(save_quantized_state_dict, "codegen", **options,
                          quantize_with=(replace_linear_with_target_and_quantize, W8A16LinearLayer, []))
    model_checks.expect_saved(found, what="quantized CodeGen")
    want = save_findings(ref.save_quantized_state_dict, "codegen", **options,
                         quantize_with=(ref.replace_linear_with_target_and_quantize, ref.W8A16LinearLayer, []))
    model_checks.expect_state_dict(found["saved"], want["saved"], what="saved CodeGen")
