from otter.test_files import test_case
import torch
from quantlab import model_checks
import quant_reference as ref


def _quantize_compare(student, target_class, model_name, exclude, **options):
    want = quantization_findings(ref.quantize_model, ref.W8A16LinearLayer, model_name, exclude, **options)
    got = quantization_findings(student, target_class, model_name, exclude, **options)
    what = f"{model_name} model"
    model_checks.expect_types(got["types"], want["types"], exclude=exclude, what=what)
    before, after = want["returned"]
    model_checks.expect_footprints(got["returned"], before, after, what=f"a {what}", reveal=False)
    originals = original_findings(model_name, **options)["state_dict"]
    model_checks.expect_state_dict(got["state_dict"], want["state_dict"], originals=originals, what=what)
    model_checks.expect_outputs(got["outputs"], want["outputs"], options.get("dtype", torch.float32),
                                what=f"quantized {what}")


@test_case(name="hidden: CodeGen in bfloat16 with 3 blocks and attention without bias", points=1, hidden=True)
def hidden_quantize_codegen_no_bias(quantize_model, W8A16LinearLayer):
    _quantize_compare(quantize_model, W8A16LinearLayer, "codegen", ["lm_head"], seed=3, dtype=torch.bfloat16,
                      config={"num_layers": 3, "attention_bias": False})


@test_case(name="hidden: CodeGen in float32, nothing excluded (lm_head quantized too)", points=1, hidden=True)
def hidden_quantize_codegen_fp32_all(quantize_model, W8A16LinearLayer):
    _quantize_compare(quantize_model, W8A16LinearLayer, "codegen", [], seed=5)


@test_case(name="hidden: CodeGen in float32, fc_in and lm_head excluded", points=1, hidden=True)
def hidden_quantize_codegen_partial(quantize_model, W8A16LinearLayer):
    _quantize_compare(quantize_model, W8A16LinearLayer, "codegen", ["fc_in", "lm_head"], seed=6)


@test_case(name="hidden: DETR in float32 with two encoder layers, and in bfloat16", points=1, hidden=True)
def hidden_quantize_detr(quantize_model, W8A16LinearLayer):
    exclude = ["0", "1", "2", "class_labels_classifier"]
    _quantize_compare(quantize_model, W8A16LinearLayer, "detr", exclude, seed=7, config={"encoder_layers": 2})
    _quantize_compare(quantize_model, W8A16LinearLayer, "detr", exclude, seed=8, dtype=torch.bfloat16)
