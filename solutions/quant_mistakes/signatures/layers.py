"""Signatures of the mistakes of labs L4-A and L4-B: each recognised by what it does, whatever its form.

The layer's probes are `layer_findings` inspections: the layer's buffers and parameters, its codes
and scales after `quantize(weights)`, and its outputs (`quantlab.layer_findings`). The replacement
functions' probes are `replacement_findings` with quantlab's `RecordingLinear` as the target: how
each new layer was built (`built_with`: its positional arguments and the names of its keyword
arguments), its bias, the model's module types and state dict.
"""

from __future__ import annotations

from collections import Counter

import torch

from quant_mistakes.signatures import Case, Signature, raises, same

FORWARD = "w8_a16_forward"
LAYER = "W8A16LinearLayer"
REPLACE = "replace_linear_with_target"
REPLACE_AND_QUANTIZE = "replace_linear_with_target_and_quantize"
LOAD = "load_quantized_model"

#: What torch says when an int8 tensor is made a Parameter (which requires gradients by default).
INT8_PARAMETER_ERROR = raises("RuntimeError", match=r"only tensors of floating point.*can require gradients")


def int8_parameter(case: Case) -> bool | None:
    """int8_weights is a Parameter: torch refuses it (requires_grad), or it is listed among the
    parameters with the right codes, scales and outputs."""
    if case.raised:
        return INT8_PARAMETER_ERROR(case)
    theirs, course = case.theirs, case.course
    listed = {**theirs.get("parameters", {}), **theirs.get("parameters_after_quantize", {})}
    if "int8_weights" not in listed:
        return False
    return all(same(theirs.get(key), course[key]) for key in ("int8_weights", "scales", "outputs") if key in course)


def column_codes(weights: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Per-column scales of `weights` (max over the output dimension / 127, in the weights' dtype),
    and the codes that scales like these give: in float32 or cast to the weights' dtype first,
    divided in float32 or in the weights' dtype."""
    single = weights.float().abs().max(dim=0).values / 127
    scales = single.to(weights.dtype)

    def codes(divided: torch.Tensor) -> torch.Tensor:
        return torch.round(divided.float()).clamp(-128, 127).to(torch.int8)

    candidates = [codes(weights.float() / single), codes(weights.float() / scales.float()), codes(weights / scales)]
    if weights.shape[0] == weights.shape[1]:  # a per-column scale broadcast along rows, as unsqueeze(1) does
        candidates += [codes(weights.float() / single[:, None]), codes(weights.float() / scales.float()[:, None])]
    return scales, candidates


def scales_per_column(case: Case) -> bool | None:
    """Codes made with one scale per input column; the scales stored per column, or per row as they should be."""
    if case.raised or "weights" not in case.kwargs:
        return None
    scales, codes = column_codes(case.kwargs["weights"])
    theirs = case.theirs
    return (any(same(theirs.get("int8_weights"), c) for c in codes)
            and any(same(theirs.get("scales"), s) for s in (scales, case.course.get("scales"))))


#: What a layer's quantize changes: its codes and scales, and so its outputs.
_QUANTIZED = ("int8_weights", "scales", "outputs")


def _quantized_only(case: Case) -> bool | None:
    """None when the case quantized nothing; whether all but what quantizing makes is the course's."""
    if case.raised or "weights" not in case.kwargs:
        return None
    return all(same(case.theirs.get(key), value) for key, value in case.course.items() if key not in _QUANTIZED)


def scale_128(case: Case) -> bool | None:
    """Scales of max|w| / 128 per row, in the weights' dtype, and the codes they give, clamped or wrapped
    past 127; everything else as the course's."""
    fits = _quantized_only(case)
    if not fits:
        return fits
    theirs = case.theirs
    weights = case.kwargs["weights"]
    single = weights.float().abs().max(dim=-1).values / 128
    scales = single.to(weights.dtype)
    if not same(theirs.get("scales"), scales):
        return False
    codes = theirs.get("int8_weights")
    for divided in (weights.float() / single[:, None], weights.float() / scales.float()[:, None]):
        rounded = torch.round(divided)
        wrapped = (rounded.long() + 128) % 256 - 128
        if any(same(codes, c.to(torch.int8)) for c in (rounded.clamp(-128, 127), wrapped)):
            return True
    return False


def divided_in_weights_dtype(case: Case) -> bool | None:
    """Codes `round(w / scales)` computed in the weights' own (low) precision, clamped or wrapped past
    127; the scales per row as the course's, or computed in that precision too."""
    fits = _quantized_only(case)
    if not fits:
        return fits
    theirs = case.theirs
    weights = case.kwargs["weights"]
    scales = theirs.get("scales")
    low = weights.abs().max(dim=-1).values / 127
    if not (same(scales, case.course.get("scales")) or same(scales, low)):
        return False
    divided = torch.round(weights / scales[:, None]).float()
    candidates = (divided.clamp(-128, 127), (divided.long() + 128) % 256 - 128)
    return any(same(theirs.get("int8_weights"), c.to(torch.int8)) for c in candidates)


def bias_scaled(x: torch.Tensor, codes: torch.Tensor, scales: torch.Tensor, bias) -> torch.Tensor:
    """`(x @ codes.T + bias) * scales`, in float64: the bias added before the scales multiply."""
    output = x.double() @ codes.double().T
    if bias is not None:
        output = output + bias.double().reshape(-1)
    return output * scales.double()


def close_to(found, expected: torch.Tensor, dtype: torch.dtype) -> bool:
    return (isinstance(found, torch.Tensor) and found.dtype == dtype and found.shape == expected.shape
            and bool(torch.allclose(found.double(), expected, rtol=1e-2 if dtype != torch.float32 else 1e-5,
                                    atol=1e-6)))


def forward_bias_before_scale(case: Case) -> bool | None:
    """w8_a16_forward's output is `(x @ W.T + b) * s`; without a bias, the course's."""
    if case.raised:
        return None
    codes, x, scales, *rest = case.args
    bias = rest[0] if rest else case.kwargs.get("bias")
    if bias is None:
        return None if same(case.theirs, case.course) else False
    return close_to(case.theirs, bias_scaled(x, codes, scales, bias), case.course.dtype)


def layer_bias_before_scale(case: Case) -> bool | None:
    """The layer's buffers, codes and scales are the course's, its outputs `(x @ W.T + b) * s`."""
    if case.raised or "bias_values" not in case.kwargs:
        return None if case.raised or same(case.theirs, case.course) else False
    theirs, course = case.theirs, case.course
    if any(not same(theirs.get(key), course[key]) for key in course if key != "outputs"):
        return False
    outputs = theirs.get("outputs")
    inputs = case.kwargs.get("inputs", ())
    if not isinstance(outputs, list) or len(outputs) != len(inputs) or not inputs:
        return False
    return all(close_to(found, bias_scaled(x, course["int8_weights"], course["scales"], case.kwargs["bias_values"]),
                        want.dtype) for found, x, want in zip(outputs, inputs, course["outputs"], strict=True))


#: What replacing Linears leaves as the course's whatever a new layer is built with or given as its bias.
_UNCHANGED = ("returned", "types", "replaced", "kept_linears", "other_modules_kept", "quantized_with")
#: `target_class`'s parameters, in the order the course passes them.
_PARAMETERS = ("in_features", "out_features", "bias", "dtype")


def _others_same(theirs, course: dict) -> bool:
    return isinstance(theirs, dict) and all(same(theirs.get(key), course[key]) for key in _UNCHANGED if key in course)


def _bias_flag_off(got, want) -> bool:
    """The new layer was built with the course's arguments, but False for `bias`."""
    if got is None or not same(got[1], want[1]) or len(got[0]) != len(want[0]) or len(want[0]) < 3:
        return False
    others = [i for i in range(len(want[0])) if i != 2]
    return got[0][2] is False and all(same(got[0][i], want[0][i]) for i in others)


def bias_dropped(case: Case) -> bool | None:
    """The new layers lack the old bias: None, or the target's own zeros, where a Linear had one (built
    with `bias=False` or not); the state dict differs only by those biases."""
    if case.raised:
        return None
    theirs, course = case.theirs, case.course
    if not _others_same(theirs, course) or "bias" not in course:
        return False
    dropped = set()
    for path, want in course["bias"].items():
        got = theirs["bias"].get(path, "missing")
        if want is None or same(got, want):
            if not same(got, want):
                return False
            continue
        if got is not None and not (isinstance(got, torch.Tensor) and not got.any()):
            return False
        dropped.add(path)
    for path, want in course.get("built_with", {}).items():
        got = theirs.get("built_with", {}).get(path)
        if not (same(got, want) or _bias_flag_off(got, want)):
            return False
    # The state dict as the course's, but for the biases of those layers: gone, or the target's own.
    state, course_state = theirs.get("state_dict", {}), course.get("state_dict", {})
    biases = {f"{path}.bias" for path in dropped}
    if any(not same(state.get(key), course_state.get(key)) for key in (set(state) | set(course_state)) - biases):
        return False
    return True if dropped else None


def replaced_as(case: Case, replaced: set) -> bool | None:
    """The Linears at `replaced` (and no others) were replaced, those the course replaces too as the
    course does; True when that differs from what the course replaces."""
    theirs, course = case.theirs, case.course
    linears = set(course["replaced"]) | set(course["kept_linears"])
    kept = linears - replaced
    both = replaced & set(course["replaced"])
    if not isinstance(theirs, dict) or set(theirs.get("replaced", ())) != replaced:
        return False
    if set(theirs.get("kept_linears", ())) != kept or not all(
            same(theirs.get(key), course[key]) for key in ("returned", "other_modules_kept")):
        return False
    target = next(iter({course["types"][path] for path in course["replaced"]}), None)
    types = {path: "Linear" if path in kept else target if path in replaced else kind
             for path, kind in course["types"].items()}
    if not same(theirs.get("types"), types):
        return False
    for key in ("built_with", "quantized_with", "bias"):
        found = theirs.get(key, {})
        if key in course and (set(found) != replaced or any(not same(found[p], course[key][p]) for p in both)):
            return False
    state, course_state = theirs.get("state_dict", {}), course["state_dict"]
    if any(not same(state.get(key), course_state.get(key)) for key in set(state) | set(course_state)
           if key.rsplit(".", 1)[0] not in linears - both):
        return False
    return True if replaced != set(course["replaced"]) else None


def top_level_only(case: Case) -> bool | None:
    """Only the model's own children were replaced: the Linears inside submodules stay."""
    if case.raised:
        return None
    return replaced_as(case, {path for path in case.course["replaced"] if "." not in path})


def excluded_by_substring_or_path(case: Case) -> bool | None:
    """The Linears excluded are those whose name *contains* an excluded name, or whose dotted path
    equals one, not those whose own name equals one."""
    if case.raised:
        return None
    exclude = list(case.args[2])
    linears = set(case.course["replaced"]) | set(case.course["kept_linears"])
    by_substring = {path for path in linears if not any(x in path.rsplit(".", 1)[-1] for x in exclude)}
    by_path = {path for path in linears if path not in exclude}
    verdicts = [replaced_as(case, by_substring), replaced_as(case, by_path)]
    return True if True in verdicts else None if None in verdicts else False


def _arrangement(got, want) -> str:
    """How a new layer's arguments compare with the course's: "same", "keywords" (the course's order,
    some by keyword), "rearranged" (the course's values in another order) or "other"."""
    if same(got, want):
        return "same"
    args, keywords = got
    want_args = want[0]
    if want[1] or len(want_args) != len(_PARAMETERS) or list(keywords) != sorted(_PARAMETERS[len(args):]):
        return "other"
    given = want_args[:len(args)]
    if same(list(args), list(given)):
        return "keywords"
    return "rearranged" if Counter(map(repr, args)) == Counter(map(repr, given)) else "other"


def arguments_rearranged(case: Case) -> bool | None:
    """The new layers get the course's arguments in another order. Square layers cannot show it: there,
    the course's order with keywords is consistent with it; elsewhere it rules it out."""
    if case.raised:
        return None
    theirs, course = case.theirs, case.course
    if not isinstance(theirs, dict) or "built_with" not in course:
        return False
    if set(course) != {"built_with"} and not _others_same(theirs, course):
        return False
    built = theirs.get("built_with")
    if not isinstance(built, dict) or set(built) != set(course["built_with"]):
        return False
    verdicts = set()
    for path, want in course["built_with"].items():
        found = _arrangement(built[path], want)
        square = same(want[0][0], want[0][1])
        verdicts.add("consistent" if found == "keywords" and square else found)
    if "other" in verdicts:
        return False
    if "rearranged" in verdicts:
        return True
    if verdicts == {"same"}:
        # A model with a non-square Linear always shows the order: the course's order there rules it out.
        return False if any(not same(w[0][0], w[0][1]) for w in course["built_with"].values()) else None
    return True if verdicts <= {"same", "consistent"} else None


def skeleton_refused(case: Case) -> bool | None:
    """L4-D: the replacement's own probe shows the arguments rearranged (it must answer: a load that
    fails says nothing of why), and the load raised building the skeleton (a dtype where a bool
    belongs) or loading into it (buffers of the wrong shape)."""
    if isinstance(case.course, dict) and set(case.course) == {"built_with"}:
        return False if case.raised else arguments_rearranged(case)
    if case.raised:
        return None
    theirs = case.theirs
    if same(theirs, case.course):
        return None
    if not isinstance(theirs, dict):
        return False
    # A strict load that refused the skeleton's keys or shapes leaves no model, so no missing keys to list.
    refused = "built_on" in theirs and theirs.get("missing") is None and theirs.get("unexpected") is None
    return refused or theirs.get("raised") in ("RuntimeError", "TypeError")


SIGNATURES = (
    Signature("w8a16_int8_parameter", LAYER, int8_parameter,
              "int8_weights made an nn.Parameter (a RuntimeError, or a parameter where a buffer belongs)"),
    Signature("w8a16_scales_per_column", LAYER, scales_per_column,
              "codes computed with one scale per input column"),
    Signature("w8a16_bias_before_scale", FORWARD, forward_bias_before_scale,
              "the bias added before the scales multiply the output"),
    Signature("w8a16_bias_before_scale", LAYER, layer_bias_before_scale,
              "the layer's output scaled after its bias is added"),
    Signature("w8a16_scale_128", LAYER, scale_128, "scales of max|w| / 128, codes clamped or wrapped past 127"),
    Signature("w8a16_lowprec_divide_no_clamp", LAYER, divided_in_weights_dtype,
              "the weights divided by the scales in their own low precision: codes off by one, or wrapped"),
    *(Signature("replace_drops_bias", question, bias_dropped, "the new layers do not get the old bias")
      for question in (REPLACE, REPLACE_AND_QUANTIZE)),
    *(Signature("replace_no_recursion", question, top_level_only,
                "only the model's direct children replaced: no recursion into submodules")
      for question in (REPLACE, REPLACE_AND_QUANTIZE)),
    *(Signature("exclude_by_substring_or_path", question, excluded_by_substring_or_path,
                "Linears excluded when their name contains an excluded one, or by their dotted path")
      for question in (REPLACE, REPLACE_AND_QUANTIZE)),
    *(Signature("replace_wrong_arg_order", question, arguments_rearranged,
                "the new layer built with the course's arguments in another order")
      for question in (REPLACE, REPLACE_AND_QUANTIZE)),
    Signature("replace_wrong_arg_order", LOAD, skeleton_refused,
              "a skeleton whose new layers got their arguments in another order: it cannot be built or loaded"),
)
