"""Signatures of the mistakes of labs L4-C and L4-D: each recognised by what it does, whatever its form.

A footprint, quantization or save probe builds one of quantlab's seeded models
(`probes.whole_model.measured_model`); a signature builds the same model and computes what a
mistake gives on it. A load probe
reports where the skeleton was built, the keys the load missed or did not expect, and whether
tensors stayed on the meta device.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from quant_mistakes.probes.whole_model import measured_model, quantization_excludes
from quant_mistakes.signatures import Case, Signature, same

FOOTPRINT = "model_memory_footprint"
QUANTIZE_MODEL = "quantize_model"
SAVE = "save_quantized_state_dict"
LOAD = "load_quantized_model"


def model_of(case: Case) -> nn.Module | None:
    """A fresh copy of the model the probe builds (None for a probe that builds none)."""
    measured = measured_model(case.probe)
    if measured is None:
        return None
    from quantlab.model_findings import build

    model_name, options = measured
    return build(model_name, **options)


def footprint_of(*totals: Callable[[nn.Module], int]) -> Callable[[Case], bool | None]:
    """The footprint is one of `totals` of the model the probe measures (built here the same way)."""

    def shows(case: Case) -> bool | None:
        model = None if case.raised else model_of(case)
        if model is None:
            return None
        found = case.theirs
        return isinstance(found, (int, float)) and not isinstance(found, bool) and any(
            found == total(model) for total in totals)

    return shows


def quantized_measured_by(*totals: Callable[[nn.Module], int]) -> Callable[[Case], bool | None]:
    """quantize_model quantized the model as the course does, but returned footprints measured by one
    of `totals` (before, and after the course's replacement of the same fresh model)."""

    def shows(case: Case) -> bool | None:
        excludes = quantization_excludes(case.probe)
        if case.raised or excludes is None:
            return None
        theirs = case.theirs
        if not isinstance(theirs, dict) or not same(theirs.get("types"), case.course["types"]):
            return False
        replace = case.course_get("replace_linear_with_target_and_quantize")
        expected = []
        for total in totals:
            fresh = model_of(case)
            before = total(fresh)
            replace(fresh, case.course_get("W8A16LinearLayer"), excludes)
            expected.append((before, total(fresh)))
        return any(same(theirs.get("returned"), footprints) for footprints in expected)

    return shows


def parameter_bytes(model: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in model.parameters())


def parameter_bytes_per_module(model: nn.Module) -> int:
    """A weight shared by two modules counted twice."""
    return sum(p.numel() * p.element_size() for _, p in model.named_parameters(remove_duplicate=False))


def elements(model: nn.Module) -> int:
    return sum(t.numel() for t in [*model.parameters(), *model.buffers()])


def state_dict_bytes(model: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in model.state_dict().values())


def model_left_as_it_was(case: Case) -> bool | None:
    """quantize_model returned the course's footprints, but the model it was given keeps its modules."""
    model = None if case.raised else model_of(case)
    if model is None:
        return None
    theirs = case.theirs
    before = {path or "(model)": type(module).__name__ for path, module in model.named_modules()}
    return (isinstance(theirs, dict) and same(theirs.get("returned"), case.course["returned"])
            and theirs.get("types") == before)


def parameters_saved(case: Case) -> bool | None:
    """The file holds the model's parameters and none of its buffers."""
    model = None if case.raised else model_of(case)
    if model is None:
        return None
    theirs = case.theirs
    return (isinstance(theirs, dict) and theirs.get("error") is None
            and theirs.get("keys") == sorted(name for name, _ in model.named_parameters()))


def left_on_meta(case: Case) -> bool | None:
    """The skeleton was loaded but its tensors stayed on the meta device (no `assign=True`); it was
    built, replaced and loaded as the course's was."""
    if case.raised or not isinstance(case.course, dict) or "on_meta" not in case.course:
        return None
    theirs = case.theirs
    if not isinstance(theirs, dict) or set(theirs) != set(case.course):
        return False
    same_otherwise = all(same(theirs[key], case.course[key]) for key in case.course if key != "on_meta")
    return same_otherwise and theirs["on_meta"] is True


SIGNATURES = (
    Signature("footprint_ignores_buffers", FOOTPRINT, footprint_of(parameter_bytes, parameter_bytes_per_module),
              "the bytes of the parameters only, without the buffers"),
    Signature("footprint_counts_elements", FOOTPRINT, footprint_of(elements),
              "the number of elements of the parameters and buffers, not their bytes"),
    Signature("footprint_ignores_buffers", QUANTIZE_MODEL, quantized_measured_by(parameter_bytes),
              "footprints before and after quantizing that count the parameters only"),
    Signature("footprint_counts_elements", QUANTIZE_MODEL, quantized_measured_by(elements),
              "footprints before and after quantizing that count elements, not bytes"),
    Signature("footprint_from_state_dict", FOOTPRINT, footprint_of(state_dict_bytes),
              "the bytes of the state dict: tied weights twice, non-persistent buffers left out"),
    Signature("quantize_model_not_in_place", QUANTIZE_MODEL, model_left_as_it_was,
              "the right footprints, but the model itself left unquantized: a copy was quantized"),
    Signature("save_parameters_only", SAVE, parameters_saved, "the parameters saved, without the buffers"),
    Signature("load_without_assign", LOAD, left_on_meta, "the loaded model's tensors left on the meta device"),
)
