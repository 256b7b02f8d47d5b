from otter.test_files import test_case
import torch
from quantlab import model_checks
from quantlab.model_findings import quantization_findings
import quant_reference as ref


def _reference_quantized(model_name, exclude, **options):
    return quantization_findings(ref.quantize_model, ref.W8A16LinearLayer, model_name, exclude, **options)["state_dict"]


def _load_compare(student, target_class, model_name, exclude, *, to="buffer", **options):
    state = _reference_quantized(model_name, exclude, **options)
    load_options = {k: v for k, v in options.items() if k != "seed"}
    found = load_findings(student, target_class, model_name, exclude, state, to=to, **load_options)
    want = load_findings(ref.load_quantized_model, ref.W8A16LinearLayer, model_name, exclude, state, to=to,
                         **load_options)
    what = {"codegen": "CodeGen", "detr": "DETR"}[model_name]
    model_checks.expect_loaded(found, what=what)
    model_checks.expect_types(found["types"], want["types"], exclude=exclude, what=what)
    model_checks.expect_state_dict(found["state_dict"], want["state_dict"], what=what)
    model_checks.expect_outputs(found["outputs"], want["outputs"], options.get("dtype", torch.float32), what=what)


@test_case(name="hidden: CodeGen quantized in float32, 3 blocks, attention without bias", points=1, hidden=True)
def hidden_load_codegen_fp32(load_quantized_model, W8A16LinearLayer):
    _load_compare(load_quantized_model, W8A16LinearLayer, "codegen", ["lm_head"], seed=2,
                  config={"num_layers": 3, "attention_bias": False})


@test_case(name="hidden: CodeGen in bfloat16 with lm_head quantized too, from a file", points=1, hidden=True)
def hidden_load_codegen_all(load_quantized_model, W8A16LinearLayer):
    _load_compare(load_quantized_model, W8A16LinearLayer, "codegen", [], seed=9, dtype=torch.bfloat16, to="file")


@test_case(name="hidden: DETR quantized in float32", points=1, hidden=True)
def hidden_load_detr(load_quantized_model, W8A16LinearLayer):
    _load_compare(load_quantized_model, W8A16LinearLayer, "detr", ["0", "1", "2", "class_labels_classifier"], seed=5)


@test_case(name="hidden: round trip of a DETR in bfloat16", points=1, hidden=True)
def hidden_load_round_trip_detr(load_quantized_model, save_quantized_state_dict,
                                replace_linear_with_target_and_quantize, W8A16LinearLayer):
    found = round_trip_findings(save_quantized_state_dict, load_quantized_model,
                                replace_linear_with_target_and_quantize, W8A16LinearLayer,
                                "detr", ["0", "1", "2", "class_labels_classifier"], seed=6, dtype=torch.bfloat16)
    model_checks.expect_round_trip(found, what="DETR")
