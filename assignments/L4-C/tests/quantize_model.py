import torch
from otter.test_files import test_case

from quantlab import checks, model_checks
from quantlab.model_findings import original_findings, quantization_findings
from quantlab.tiny_models import TinyTokenizer

OK_FORMAT = False
name = "quantize_model"

CODEGEN_EXCLUDE = ["lm_head"]
DETR_EXCLUDE = ["0", "1", "2", "class_labels_classifier"]


def _expected_types(original, exclude):
    types = dict(original["types"])
    for path in model_checks.replaced_paths(original["linears"], exclude):
        types[path] = "W8A16LinearLayer"
    return types


@test_case(name="tiny CodeGen in bfloat16, lm_head excluded: footprints before and after", points=1)
def quantize_codegen_footprints(quantize_model, W8A16LinearLayer):
    got = quantization_findings(quantize_model, W8A16LinearLayer, "codegen", CODEGEN_EXCLUDE, dtype=torch.bfloat16)
    original = original_findings("codegen", dtype=torch.bfloat16)
    # 232,448 bytes before; each replaced Linear(in, out) saves 2·in·out - (in·out + 2·out) bytes.
    after = model_checks.footprint_after(232448, original["linears"], CODEGEN_EXCLUDE)
    model_checks.expect_footprints(got["returned"], 232448, after, what="the tiny CodeGen")


@test_case(name="tiny CodeGen: every qkv_proj, out_proj, fc_in, fc_out replaced in place, lm_head kept", points=1)
def quantize_codegen_types(quantize_model, W8A16LinearLayer):
    got = quantization_findings(quantize_model, W8A16LinearLayer, "codegen", CODEGEN_EXCLUDE, dtype=torch.bfloat16)
    original = original_findings("codegen", dtype=torch.bfloat16)
    model_checks.expect_types(got["types"], _expected_types(original, CODEGEN_EXCLUDE), exclude=CODEGEN_EXCLUDE,
                              what="tiny CodeGen")


@test_case(name="tiny CodeGen: greedy generation from 'def hello_world():' is unchanged by quantization", points=1)
def quantize_codegen_generation(quantize_model, W8A16LinearLayer):
    got = quantization_findings(quantize_model, W8A16LinearLayer, "codegen", CODEGEN_EXCLUDE, dtype=torch.bfloat16)
    original = original_findings("codegen", dtype=torch.bfloat16)
    model_checks.expect_tokens(got["outputs"]["tokens"], original["outputs"]["tokens"],
                               what="quantized tiny CodeGen", decode=TinyTokenizer().decode)


@test_case(name="tiny DETR, excluding 0, 1, 2 and class_labels_classifier: layers and footprints", points=1)
def quantize_detr(quantize_model, W8A16LinearLayer):
    got = quantization_findings(quantize_model, W8A16LinearLayer, "detr", DETR_EXCLUDE)
    original = original_findings("detr")
    # The encoder's layer `0` is not a Linear: the Linears inside it are replaced. Only the Linears
    # named 0, 1, 2 (the box head) and class_labels_classifier stay.
    model_checks.expect_types(got["types"], _expected_types(original, DETR_EXCLUDE), exclude=DETR_EXCLUDE,
                              what="tiny DETR")
    after = model_checks.footprint_after(105352, original["linears"], DETR_EXCLUDE)
    model_checks.expect_footprints(got["returned"], 105352, after, what="the tiny DETR")


@test_case(name="tiny DETR: boxes and class scores close to those of the float32 model", points=1)
def quantize_detr_outputs(quantize_model, W8A16LinearLayer):
    got = quantization_findings(quantize_model, W8A16LinearLayer, "detr", DETR_EXCLUDE)
    original = original_findings("detr")["outputs"]
    # int8 weights move the outputs by about 0.3 % of their largest value here; 2 % is far more than that.
    for key in ("logits", "pred_boxes"):
        scale = float(original[key].abs().max())
        checks.expect_close(got["outputs"][key], original[key], what=f"{key} of the quantized tiny DETR",
                            rtol=0.0, atol=0.02 * scale, reveal=False)
