import torch
from otter.test_files import test_case

from quantlab import checks, model_checks
from quantlab.model_findings import load_findings, published_state_dict, round_trip_findings

OK_FORMAT = False
name = "load_quantized_model"

CODEGEN_EXCLUDE = ["lm_head"]
DETR_EXCLUDE = ["0", "1", "2", "class_labels_classifier"]


def _expect_published(found, published, what):
    model_checks.expect_loaded(found, what=what, reveal=True)
    for key, tensor in published.items():
        got = found["state_dict"][key]
        if not (isinstance(got, torch.Tensor) and got.dtype == tensor.dtype
                and torch.equal(got.reshape(-1), tensor.reshape(-1))):
            raise checks.CheckFailed(f"After loading, `{key}` of the {what} does not hold the saved values.")


@test_case(name="tiny CodeGen (bfloat16, lm_head kept) loads strictly into a meta skeleton, nothing left on meta",
           points=1)
def load_published_codegen(load_quantized_model, W8A16LinearLayer):
    published = published_state_dict("codegen", CODEGEN_EXCLUDE, dtype=torch.bfloat16)
    found = load_findings(load_quantized_model, W8A16LinearLayer, "codegen", CODEGEN_EXCLUDE, published,
                          dtype=torch.bfloat16)
    _expect_published(found, published, "tiny CodeGen")
    if (found["types"].get("lm_head") != "Linear"
            or found["types"].get("transformer.h.0.attn.qkv_proj") != "W8A16LinearLayer"):
        raise checks.CheckFailed(
            "After loading, lm_head should be an nn.Linear and every other Linear a W8A16LinearLayer."
        )


@test_case(name="the skeleton is built under `with torch.device(\"meta\"):`, once", points=1)
def load_builds_on_meta(load_quantized_model, W8A16LinearLayer):
    published = published_state_dict("codegen", CODEGEN_EXCLUDE, dtype=torch.bfloat16)
    found = load_findings(load_quantized_model, W8A16LinearLayer, "codegen", CODEGEN_EXCLUDE, published,
                          dtype=torch.bfloat16)
    if found["built_on"] != ["meta"]:
        raise checks.CheckFailed(
            f"build_model() was called {len(found['built_on'])} time(s), on the device(s) {found['built_on']}; "
            "call it once, inside `with torch.device(\"meta\"):`, so no memory is spent on weights that the "
            "saved ones replace."
        )


@test_case(name="tiny DETR loads from a file path", points=1)
def load_published_detr_file(load_quantized_model, W8A16LinearLayer):
    published = published_state_dict("detr", DETR_EXCLUDE)
    found = load_findings(load_quantized_model, W8A16LinearLayer, "detr", DETR_EXCLUDE, published, to="file")
    _expect_published(found, published, "tiny DETR")


@test_case(name="round trip: quantize, save, load; the loaded CodeGen gives identical outputs", points=1)
def load_round_trip(load_quantized_model, save_quantized_state_dict, replace_linear_with_target_and_quantize,
                    W8A16LinearLayer):
    found = round_trip_findings(save_quantized_state_dict, load_quantized_model,
                                replace_linear_with_target_and_quantize, W8A16LinearLayer,
                                "codegen", CODEGEN_EXCLUDE, dtype=torch.bfloat16)
    model_checks.expect_round_trip(found, what="tiny CodeGen", reveal=True)
