"""Checks of whole models (labs L4-C and L4-D), on the findings of `quantlab.model_findings`.

Like `quantlab.checks`, every check raises `checks.CheckFailed` with a message for the student
and records metrics for the report. Tolerances (§7 of the grader's docs/course.md): a quantized
model's outputs in float32 agree with the reference to 1e-4 of their largest value; in bfloat16
valid code differs by up to about 1.3e-2 (the rounding of each layer adds up), so outputs there are
checked to 3e-2 and the exact checks are on the int8 weights, the scales and the greedy tokens.
"""

from __future__ import annotations

import torch

from quantlab import checks

__all__ = [
    "OUTPUT_TOLERANCE",
    "expect_bytes",
    "expect_footprints",
    "expect_types",
    "expect_outputs",
    "expect_tokens",
    "expect_state_dict",
    "expect_saved",
    "expect_loaded",
    "expect_round_trip",
    "replaced_paths",
    "footprint_after",
]

#: Largest |output - reference| allowed, as a fraction of the reference's largest |value|.
OUTPUT_TOLERANCE = {torch.float32: 1e-4, torch.bfloat16: 3e-2, torch.float16: 3e-2}
_SHOWN = 4


def replaced_paths(linears: dict, exclude) -> list:
    """The Linears that are replaced: those whose own name (the last part of the path) is not excluded."""
    return sorted(path for path in linears if path.rsplit(".", 1)[-1] not in exclude)


def footprint_after(before: int, linears: dict, exclude) -> int:
    """Each replaced Linear(in, out) with b-byte weights: b·in·out bytes of weight become in·out + b·out."""
    saved = 0
    for path in replaced_paths(linears, exclude):
        n_in, n_out, b = linears[path]["in"], linears[path]["out"], linears[path]["bytes"]
        saved += b * n_in * n_out - (n_in * n_out + b * n_out)
    return before - saved


def expect_bytes(got, want: int, *, what: str, reveal: bool = True, metric: str = "footprint_error") -> int:
    """A footprint: a Python int, the number of bytes."""
    if isinstance(got, (float, torch.Tensor)) and not isinstance(got, bool):
        raise checks.CheckFailed(
            f"The {what} should be a Python int, the number of bytes, but it is a {type(got).__name__}"
            f" ({got!r}). Sum integers (numel() * element_size() is one) and do not divide by 1e6."
        )
    return checks.expect_int(got, want, what=what, reveal=reveal, metric=metric)


def expect_footprints(got, before: int, after: int, *, what: str, reveal: bool = True) -> None:
    """`got` must be the tuple (footprint before, footprint after) of Python ints, in bytes."""
    got = checks.expect_tuple(got, 2, what="footprint before, footprint after")
    expect_bytes(got[0], before, what=f"footprint before quantizing {what} (bytes)", reveal=reveal,
                 metric="footprint_before_error")
    expect_bytes(got[1], after, what=f"footprint after quantizing {what} (bytes)", reveal=reveal,
                 metric="footprint_after_error")


def _listed(paths) -> str:
    paths = list(paths)
    shown = ", ".join(f"`{p}`" for p in paths[:_SHOWN])
    return shown + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def expect_types(got: dict, want: dict, *, exclude=(), what: str = "model") -> None:
    """The module at every path has the expected type (W8A16LinearLayer where replaced, Linear where excluded)."""
    if not isinstance(got, dict):
        raise checks.CheckFailed(f"The grader could not list the modules of the {what}.")
    missing = [p for p in want if p not in got]
    if missing:
        raise checks.CheckFailed(f"The {what} no longer has the modules {_listed(missing)}.")
    wrong = [p for p in want if got[p] != want[p]]
    if not wrong:
        return
    kept = [p for p in wrong if got[p] == "Linear" and want[p] != "Linear"]
    replaced_excluded = [p for p in wrong if want[p] == "Linear"]
    if kept:
        message = f"{len(kept)} Linear layer(s) of the {what} were not replaced: {_listed(kept)}."
        target = want[kept[0]]
        if all(got[p] == "Linear" for p in want if want[p] == target):
            message += " None was replaced: is the model changed in place (no copy of it)?"
        else:
            message += " Every nn.Linear whose own name is not excluded should be replaced, at any depth."
    elif replaced_excluded:
        names = sorted({p.rsplit(".", 1)[-1] for p in replaced_excluded})
        message = (f"{_listed(replaced_excluded)} should stay nn.Linear: the name(s) {names} are in "
                   f"module_name_to_exclude {list(exclude)}.")
    else:
        p = wrong[0]
        message = f"`{p}` is a {got[p]}, but it should be a {want[p]}."
    raise checks.CheckFailed(message)


def expect_outputs(got: dict, want: dict, dtype: torch.dtype, *, what: str, reveal: bool = False) -> None:
    """Every output tensor within OUTPUT_TOLERANCE[dtype] of the largest reference value; tokens exact."""
    if not isinstance(got, dict):
        raise checks.CheckFailed(f"The {what} gave no outputs: some of its tensors are still on the meta device.")
    tolerance = OUTPUT_TOLERANCE.get(dtype, 1e-4)
    for key, reference in want.items():
        if key == "tokens":
            expect_tokens(got.get(key), reference, what=what)
            continue
        scale = float(reference.double().abs().max())
        checks.expect_close(got.get(key), reference, what=f"{key} of the {what}", rtol=0.0,
                            atol=tolerance * scale, reveal=reveal)


def expect_tokens(got, want: torch.Tensor, *, what: str, decode=None) -> None:
    got = checks.expect_tensor(got, what=f"greedy tokens of the {what}", dtype=want.dtype, shape=want.shape)
    if not torch.equal(got, want):
        first = int((got != want).reshape(-1).int().argmax())
        message = f"Greedy decoding with the {what} picks other tokens, from token {first} on."
        if decode is not None:
            message += f"\nYours:    {decode(got)!r}\nExpected: {decode(want)!r}"
        raise checks.CheckFailed(message)


_CODES_HINT = (
    "These codes come from your W8A16LinearLayer.quantize (lab L4-A): per output row, scale = max|w| / 127, "
    "cast to the weights' dtype and stored; codes = round(w / stored scale) in float32, clamped to [-128, 127]."
)


def expect_state_dict(got: dict, want: dict, *, originals: dict | None = None, what: str = "model",
                      reveal: bool = False) -> None:
    """Same keys, dtypes and shapes; int8 codes exact (±1 next to a tie), scales and the rest equal.

    Biases are compared flattened (docs/course.md §3.5: a replaced layer may keep the original (out,) bias).
    `originals` (the unquantized state dict) gives the exact `w / s` for the tie allowance.
    """
    if not isinstance(got, dict):
        raise checks.CheckFailed(f"The grader could not read the state dict of the {what}.")
    missing, extra = [k for k in want if k not in got], [k for k in got if k not in want]
    if missing or extra:
        parts = (([f"missing {_listed(missing)}"] if missing else [])
                 + ([f"unexpected {_listed(extra)}"] if extra else []))
        raise checks.CheckFailed(f"The state dict of the {what} has other keys than expected: {'; '.join(parts)}.")
    for key, reference in want.items():
        value = got[key]
        if key.endswith(".bias") and isinstance(value, torch.Tensor) and value.numel() == reference.numel():
            value, reference = value.reshape(-1), reference.reshape(-1)
        if reference.dtype == torch.int8 and key.endswith("int8_weights"):
            exact = None
            if originals is not None:
                prefix = key[: -len("int8_weights")]
                weight, scales = originals.get(prefix + "weight"), want.get(prefix + "scales")
                if weight is not None and scales is not None:
                    exact = weight.float() / scales.float().reshape(-1, 1)
            checks.expect_codes(value, reference, what=f"`{key}`", exact=exact, reveal=reveal, hint=_CODES_HINT)
        elif reference.is_floating_point():
            rtol = 1e-6 if reference.dtype == torch.float32 else 0.0
            checks.expect_close(value, reference, what=f"`{key}`", rtol=rtol, reveal=reveal)
        else:
            checks.expect_tensor(value, what=f"`{key}`", dtype=reference.dtype, shape=reference.shape)
            if not torch.equal(value, reference):
                raise checks.CheckFailed(f"`{key}` of the {what} holds other values than expected.")


_SAVE_STATE_DICT = ("Save model.state_dict() instead, a dict of tensors: it needs none of your classes to be "
                    "written or read, and torch.load(file, weights_only=True) reads it back safely.")


def expect_saved(found: dict, *, what: str, round_trip: bool = False) -> None:
    """The file written from the model holds its state dict (every parameter and buffer, same values),
    read back with torch.load(file, weights_only=True). `found`: `save_findings` (or a round trip's "file")."""
    start = "The round trip stopped at your save_quantized_state_dict. " if round_trip else ""
    if found.get("save_error"):
        raise checks.CheckFailed(
            f"{start}Saving the {what} failed: torch.save could not pickle what it was given "
            f"({found['save_error']}). Saving the model object itself means pickling its classes too. "
            f"{_SAVE_STATE_DICT}"
        )
    if found["load_error"] is not None:
        raise checks.CheckFailed(
            f"{start}The file saved from the {what} could not be read back with torch.load(file, weights_only=True): "
            f"{found['load_error']}. Save model.state_dict() (a dict of tensors), not the model itself."
        )
    saved = found.get("saved_keys")
    if saved is None and found.get("saved") is not None:
        saved = list(found["saved"])
    if saved is None:
        raise checks.CheckFailed(
            f"{start}The file saved from the {what} holds a {found['loaded_type']}, not a state dict. "
            "Save model.state_dict()."
        )
    missing = [k for k in found["expected_keys"] if k not in saved]
    extra = [k for k in saved if k not in found["expected_keys"]]
    if missing or extra:
        raise checks.CheckFailed(
            f"{start}The saved state dict of the {what} has {len(missing)} key(s) missing "
            f"({', '.join(missing[:4])}) and "
            f"{len(extra)} unexpected. A quantized layer keeps int8_weights and scales in buffers: "
            "model.state_dict() holds buffers too, model.named_parameters() does not."
        )
    if not found["matches_model"]:
        raise checks.CheckFailed(f"{start}The saved tensors differ from the {what}'s own (values or dtypes).")


_ARGUMENT_ORDER = (
    "replace_linear_with_target should build each new layer as target_class(child.in_features, "
    "child.out_features, child.bias is not None, child.weight.dtype), in this order (lesson 11)."
)


def _shape(shape) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _explain_failed_load(failed: dict, what: str, reveal: bool) -> str:
    """Why a strict load_state_dict refused the skeleton (found by comparing the two state dicts)."""
    sizes = failed.get("size_mismatches") or []
    if sizes:
        first = sizes[0]
        shapes = (f" (in your skeleton {_shape(first['skeleton'])}, in the file {_shape(first['saved'])})"
                  if reveal else "")
        message = (f"Loading the {what} raised a RuntimeError: load_state_dict found {len(sizes)} tensor(s) whose "
                   f"shape in your skeleton differs from the saved one, such as `{first['key']}`{shapes}. ")
        swapped = [m for m in sizes if m["key"].endswith("int8_weights") and len(m["saved"]) == 2
                   and m["skeleton"] == m["saved"][::-1]]
        if swapped:
            return message + (
                "The int8_weights of your skeleton's new layers have their two sizes swapped, (in, out) instead "
                "of (out, in): the layers were built with in_features and out_features the wrong way round. "
                f"{_ARGUMENT_ORDER} Quantizing hides this, because quantize() overwrites the buffers, but an "
                "empty skeleton keeps the shapes it was built with."
            )
        return message + (
            "Build the skeleton with build_model() and replace its Linears exactly as in the model that was "
            f"saved: {_ARGUMENT_ORDER} Keep the original bias as it is, shape (out,)."
        )
    missing, unexpected = failed.get("missing_keys") or [], failed.get("unexpected_keys") or []
    return (
        f"Loading the {what} raised a RuntimeError: your skeleton and the saved state dict have different keys "
        f"(in the file but not in your skeleton: {_listed(missing) or 'none'}; in your skeleton but not in the "
        f"file: {_listed(unexpected) or 'none'}). Build the skeleton with build_model() and replace its Linears "
        "with replace_linear_with_target and the same module_name_to_exclude as the model that was saved."
    )


def expect_loaded(found: dict, *, what: str, reveal: bool = False) -> None:
    """A loaded model: returned, built on meta, no missing or unexpected keys, nothing left on meta.

    `reveal`: a failed load may show the shapes of the saved tensors (public cases only)."""
    if found.get("load_failed"):
        raise checks.CheckFailed(_explain_failed_load(found["load_failed"], what, reveal))
    if found.get("returned") in (None, "NoneType"):
        raise checks.CheckFailed(f"The function returned None. Return the loaded {what}. Did you forget a `return`?")
    if "types" not in found:
        raise checks.CheckFailed(f"The function should return the loaded model, but it returned a {found['returned']}.")
    if found["missing_keys"] or found["unexpected_keys"]:
        raise checks.CheckFailed(
            f"The loaded {what} does not fit the saved state dict: "
            f"missing keys {_listed(found['missing_keys']) or 'none'}, "
            f"unexpected keys {_listed(found['unexpected_keys']) or 'none'}. Load with strict=True so a mismatch "
            "raises instead of going unnoticed."
        )
    if found["meta_tensors"]:
        raise checks.CheckFailed(
            f"{len(found['meta_tensors'])} tensor(s) of the loaded {what} are still on the meta device "
            f"({_listed(found['meta_tensors'])}): they hold no values. A skeleton built on the meta device has "
            "nothing to copy into; load with load_state_dict(state_dict, strict=True, assign=True), which puts "
            "the saved tensors in their place."
        )


def expect_round_trip(found: dict, *, what: str, reveal: bool = False) -> None:
    """`round_trip_findings`: the file written is the quantized model's state dict, it loads, and the
    loaded model gives the same outputs as the model that was saved."""
    expect_saved(found["file"], what=f"quantized {what}", round_trip=True)
    expect_loaded(found, what=what, reveal=reveal)
    if not found["identical_outputs"]:
        raise checks.CheckFailed(
            f"The loaded {what} does not give the same outputs as the quantized model that was saved."
        )
