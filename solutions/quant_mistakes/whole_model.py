"""Known mistakes of labs L4-C and L4-D (whole models: footprint, quantize, save, load), as code.

The same shape as the core labs' catalogue (`quant_mistakes`): each mistake is notebook source
for the wrong function(s), laid over `SOLUTION` (the course's code with the project decisions,
as a student who passed L4-A and L4-B has it), and `affects` names the questions whose tests
must catch it. These labs' functions take models, classes and files, which cannot cross to the
student's process as values, so the probes of a question are *inspections*: each probe is a
function of `get(name)` (the student's object of that name, or a mistake model's) that returns
plain findings, reduced to what the mistakes change (footprints, module types, keys, error types).

The ids beyond LABS.md §5 (`footprint_*`, `quantize_model_*`, `save_*`, `load_*`) are the
mistakes these two labs invite; `replace_wrong_arg_order` is §5's, seen through L4-D's strict load.

Instructor-only (it ships with the autograder, never to students).
"""

from __future__ import annotations

import functools
import textwrap

from .layers import COURSE_LAYERS

__all__ = ["QUESTIONS", "FUNCTIONS", "SOLUTION", "MISTAKES", "EXPLANATIONS", "source", "model", "explain", "probes"]

QUESTIONS = {
    "L4-C": ("model_memory_footprint", "quantize_model"),
    "L4-D": ("save_quantized_state_dict", "load_quantized_model"),
}

#: Code carried over from labs L4-A and L4-B, then the graded functions.
CARRIED = ("w8_a16_forward", "W8A16LinearLayer", "replace_linear_with_target", "replace_linear_with_target_and_quantize")
FUNCTIONS = CARRIED + ("model_memory_footprint", "quantize_model", "save_quantized_state_dict", "load_quantized_model")


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


_REPLACE = """
def replace_linear_with_target(module, target_class, module_name_to_exclude):
    for name, child in module.named_children():
        if isinstance(child, nn.Linear) and not any([x == name for x in module_name_to_exclude]):
            old_bias = child.bias
            new_module = target_class({arguments})
            setattr(module, name, new_module)
            if old_bias is not None:
                getattr(module, name).bias = old_bias
        else:
            replace_linear_with_target(child, target_class, module_name_to_exclude)
"""

_FOOTPRINT = """
def model_memory_footprint(model):
    return {expression}
"""

#: The course's code of lessons 10 to 13, with the project decisions of LABS.md §3.4-§3.6: the
#: layer and the replacements of L4-A/L4-B as `layers` has them, then the graded functions.
SOLUTION = COURSE_LAYERS + "\n\n" + _src(
    """
    def quantize_model(model, target_class, module_name_to_exclude):
        previous_memory_footprint = model_memory_footprint(model)
        replace_linear_with_target_and_quantize(model, target_class, module_name_to_exclude)
        return previous_memory_footprint, model_memory_footprint(model)

    def save_quantized_state_dict(model, file):
        torch.save(model.state_dict(), file)

    def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
        with torch.device("meta"):
            model = build_model()
        replace_linear_with_target(model, target_class, module_name_to_exclude)
        state_dict = torch.load(file, weights_only=True)
        model.load_state_dict(state_dict, strict=True, assign=True)
        return model
    """
) + _src(
    _FOOTPRINT.format(
        expression="sum(p.numel() * p.element_size() for p in model.parameters()) + "
        "sum(b.numel() * b.element_size() for b in model.buffers())"
    )
)

_FP, _QM, _SAVE, _LOAD = FUNCTIONS[4:]

MISTAKES: dict[str, dict] = {
    "footprint_ignores_buffers": {
        "lab": "L4-C",
        "functions": {_FP: _src(_FOOTPRINT.format(expression="sum(p.numel() * p.element_size() for p in model.parameters())"))},
        "affects": {"L4-C": [_FP, _QM]},
    },
    "footprint_counts_elements": {
        "lab": "L4-C",
        "functions": {_FP: _src(_FOOTPRINT.format(
            expression="sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())"))},
        "affects": {"L4-C": [_FP, _QM]},
    },
    "footprint_from_state_dict": {
        "lab": "L4-C",
        "functions": {_FP: _src(_FOOTPRINT.format(
            expression="sum(t.numel() * t.element_size() for t in model.state_dict().values())"))},
        # The tiny models share no weight and have no non-persistent buffer: only the hidden zoo shows it.
        "affects": {"L4-C": [_FP]},
    },
    "quantize_model_not_in_place": {
        "lab": "L4-C",
        "functions": {
            _QM: _src(
                """
                import copy

                def quantize_model(model, target_class, module_name_to_exclude):
                    before = model_memory_footprint(model)
                    quantized = copy.deepcopy(model)
                    replace_linear_with_target_and_quantize(quantized, target_class, module_name_to_exclude)
                    return before, model_memory_footprint(quantized)
                """
            )
        },
        "affects": {"L4-C": [_QM]},
    },
    "save_whole_model": {
        "lab": "L4-D",
        "functions": {
            _SAVE: _src(
                """
                def save_quantized_state_dict(model, file):
                    torch.save(model, file)
                """
            )
        },
        # The round trip of load_quantized_model saves with the student's function too.
        "affects": {"L4-D": [_SAVE, _LOAD]},
    },
    "save_parameters_only": {
        "lab": "L4-D",
        "functions": {
            _SAVE: _src(
                """
                def save_quantized_state_dict(model, file):
                    torch.save(dict(model.named_parameters()), file)
                """
            )
        },
        "affects": {"L4-D": [_SAVE, _LOAD]},
    },
    "load_without_assign": {
        "lab": "L4-D",
        "functions": {
            _LOAD: _src(
                """
                def load_quantized_model(build_model, file, target_class, module_name_to_exclude):
                    with torch.device("meta"):
                        model = build_model()
                    replace_linear_with_target(model, target_class, module_name_to_exclude)
                    model.load_state_dict(torch.load(file, weights_only=True), strict=True)
                    return model
                """
            )
        },
        "affects": {"L4-D": [_LOAD]},
    },
    "replace_wrong_arg_order": {
        "lab": "L4-B",
        "functions": {
            "replace_linear_with_target": _src(_REPLACE.format(
                arguments="child.out_features, child.in_features, old_bias is not None, child.weight.dtype"))
        },
        # The quantized model is right (quantize overwrites the buffers); the skeleton is not.
        "affects": {"L4-D": [_LOAD]},
    },
}

EXPLANATIONS = {
    "footprint_ignores_buffers": "Your footprint counts the parameters only. Buffers take memory too: a "
    "W8A16LinearLayer keeps its int8 weights and scales in buffers, and DETR's frozen batch norms keep their "
    "statistics in buffers. Add `sum(b.numel() * b.element_size() for b in model.buffers())`.",
    "footprint_counts_elements": "Your footprint counts elements, not bytes. Multiply each tensor's `numel()` by "
    "its `element_size()` (4 bytes in float32, 2 in bfloat16, 1 in int8): quantizing changes the bytes per "
    "element, not the number of elements.",
    "footprint_from_state_dict": "Your footprint adds up `model.state_dict()`. A state dict lists a weight shared "
    "by two layers twice and leaves out non-persistent buffers; `model.parameters()` and `model.buffers()` "
    "list each tensor in memory once.",
    "quantize_model_not_in_place": "`quantize_model` quantizes a copy of the model: the model you were given "
    "keeps its nn.Linear layers. Call `replace_linear_with_target_and_quantize` on `model` itself, and measure "
    "that model before and after.",
    "save_whole_model": "You save the whole model object, which `torch.load(file, weights_only=True)` refuses to "
    "read (and which needs your class definitions to load). Save `model.state_dict()`: a dict of tensors.",
    "save_parameters_only": "You save the parameters only. The int8 weights and scales of a W8A16LinearLayer are "
    "buffers, so they are missing from your file. Save `model.state_dict()`, which holds parameters and buffers.",
    "load_without_assign": "Your model is loaded with `load_state_dict(..., strict=True)` but without "
    "`assign=True`: it copies the saved tensors into the skeleton's meta tensors, which hold nothing, so the "
    "model stays on the meta device. Pass `assign=True` so the saved tensors take their place.",
    "replace_wrong_arg_order": "Your `replace_linear_with_target` builds the new layer with its arguments in "
    "another order than `(in_features, out_features, bias, dtype)`. After quantizing, the layer does not show "
    "it (quantize overwrites its buffers), but an empty skeleton gets (in, out) buffers for (out, in) weights, "
    "and the strict load fails with a size mismatch.",
}


def source(mistake: str | None) -> str:
    """The whole notebook of a student who made `mistake` and nothing else (None: no mistake)."""
    if mistake is None:
        return SOLUTION
    return SOLUTION + "\n\n" + "\n\n".join(MISTAKES[mistake]["functions"].values())


@functools.lru_cache(maxsize=None)
def model(mistake: str | None) -> dict:
    """The namespace of `source(mistake)`."""
    namespace: dict = {"__name__": f"quant_mistakes.whole_model.{mistake}"}
    exec(compile(source(mistake), f"<mistake {mistake}>", "exec"), namespace)
    return namespace


def explain(*mistakes: str) -> str:
    texts = [EXPLANATIONS[m.split("/")[0]] for m in mistakes]
    if len(texts) == 1:
        return texts[0]
    return "Your results fit two known mistakes equally well; one of them is likely. " + " Or: ".join(texts)


# Probes: inspections reduced to what the mistakes change ---------------------------------------------

_DETR_EXCLUDE = ["0", "1", "2", "class_labels_classifier"]


def _error_name(error: BaseException) -> str:
    return getattr(error, "type_name", type(error).__name__)


def _footprint(model_name, **options):
    from quantlab.model_findings import footprint_findings

    return lambda get: footprint_findings(get(_FP), model_name, **options)["footprint"]


def _quantize(model_name, exclude, **options):
    from quantlab.model_findings import quantization_findings

    def probe(get):
        found = quantization_findings(get(_QM), get("W8A16LinearLayer"), model_name, exclude, **options)
        return {"returned": found["returned"], "types": found["types"]}

    return probe


def _save(model_name):
    from quantlab.model_findings import save_findings

    def probe(get):
        # Unquantized: a whole model of quantlab's classes pickles anywhere, so the file is written
        # and only `weights_only=True` refuses it; DETR's frozen batch norms are buffers.
        found = save_findings(get(_SAVE), model_name)
        error = found["load_error"]
        return {"error": error and error.split(":")[0], "keys": sorted(found["saved"]) if found["saved"] else None}

    return probe


def _load(model_name, exclude):
    from quantlab.model_findings import load_findings, published_state_dict

    def probe(get):
        state = published_state_dict(model_name, exclude)
        try:
            found = load_findings(get(_LOAD), get("W8A16LinearLayer"), model_name, exclude, state)
        except Exception as error:  # noqa: BLE001 - which error is the finding
            return {"raised": _error_name(error)}
        return {"built_on": found["built_on"], "missing": found.get("missing_keys"),
                "unexpected": found.get("unexpected_keys"), "on_meta": bool(found.get("meta_tensors"))}

    return probe


def probes() -> dict:
    """Per question, functions of `get(name)` whose findings reveal the mistakes (plain, comparable data)."""
    import torch

    return {
        _FP: [_footprint("codegen", dtype=torch.bfloat16), _footprint("detr"), _footprint("zoo")],
        _QM: [_quantize("detr", _DETR_EXCLUDE), _quantize("codegen", ["lm_head"], dtype=torch.bfloat16)],
        _SAVE: [_save("codegen"), _save("detr")],
        _LOAD: [_load("codegen", ["lm_head"]), _load("detr", _DETR_EXCLUDE)],
    }
