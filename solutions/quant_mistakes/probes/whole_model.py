"""Probes of labs L4-C and L4-D: inspections of the student's objects on the seeded tiny models,
reduced to what the mistakes change (footprints, module types, saved keys, error types).

These questions take several of the student's objects at once (the graded function, the carried
W8A16LinearLayer), so each probe is written out as a function of `get`.
"""

from __future__ import annotations

import functools

_DETR_EXCLUDE = ["0", "1", "2", "class_labels_classifier"]


def _error_name(error: BaseException) -> str:
    return getattr(error, "type_name", type(error).__name__)


def _footprint(model_name, **options):
    return functools.partial(_footprint_of, model_name, options)


def _footprint_of(model_name, options, get):
    from quantlab.model_findings import footprint_findings

    return footprint_findings(get("model_memory_footprint"), model_name, **options)["footprint"]


def _quantize(model_name, exclude, **options):
    return functools.partial(_quantized_by, model_name, options, exclude)


def _quantized_by(model_name, options, exclude, get):
    from quantlab.model_findings import quantization_findings

    found = quantization_findings(get("quantize_model"), get("W8A16LinearLayer"), model_name, exclude, **options)
    return {"returned": found["returned"], "types": found["types"]}


def _save(model_name):
    return functools.partial(_saved_by, model_name, {})


def _saved_by(model_name, options, get):
    from quantlab.model_findings import save_findings

    # Unquantized: a whole model of quantlab's classes pickles anywhere, so the file is written
    # and only `weights_only=True` refuses it; DETR's frozen batch norms are buffers.
    found = save_findings(get("save_quantized_state_dict"), model_name)
    error = found["load_error"]
    return {"error": error and error.split(":")[0], "keys": sorted(found["saved"]) if found["saved"] else None}


def quantization_excludes(probe) -> list | None:
    """The names a quantization probe excludes (None for another probe)."""
    if isinstance(probe, functools.partial) and probe.func is _quantized_by:
        return list(probe.args[2])
    return None


def measured_model(probe) -> tuple[str, dict] | None:
    """The model a footprint, quantization or save probe builds, and the options it is built with
    (None for another probe): a signature builds the same to compute what a mistake gives."""
    if isinstance(probe, functools.partial) and probe.func in (_footprint_of, _quantized_by, _saved_by):
        return probe.args[0], dict(probe.args[1])
    return None


def _load(model_name, exclude):
    from quantlab.model_findings import load_findings, published_state_dict

    def probe(get):
        state = published_state_dict(model_name, exclude)
        try:
            found = load_findings(get("load_quantized_model"), get("W8A16LinearLayer"), model_name, exclude, state)
        except Exception as error:  # which error is the finding
            return {"raised": _error_name(error)}
        return {"built_on": found["built_on"], "missing": found.get("missing_keys"),
                "unexpected": found.get("unexpected_keys"), "on_meta": bool(found.get("meta_tensors"))}

    return probe


def _skeleton_layers(get):
    """How the student's carried replacement builds a non-square layer of the skeleton (L4-D builds it)."""
    from quantlab.layer_findings import RECORDING, replacement_findings

    found = replacement_findings(get("replace_linear_with_target"), RECORDING, "non_square", [])
    return {"built_with": found["built_with"]}


def probes() -> dict:
    """Per question, functions of `get(name)` whose findings reveal the mistakes (plain, comparable data)."""
    import torch

    return {
        "model_memory_footprint": [_footprint("codegen", dtype=torch.bfloat16), _footprint("detr"), _footprint("zoo")],
        "quantize_model": [_quantize("detr", _DETR_EXCLUDE), _quantize("codegen", ["lm_head"], dtype=torch.bfloat16)],
        "save_quantized_state_dict": [_save("codegen"), _save("detr")],
        # The skeleton's layers first: it is quick, and without it a failed load says nothing of why.
        "load_quantized_model": [_skeleton_layers, _load("codegen", ["lm_head"]), _load("detr", _DETR_EXCLUDE)],
    }
