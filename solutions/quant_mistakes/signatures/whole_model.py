"""Signatures of the mistakes of labs L4-C and L4-D that a catalogued form alone does not catch.

A footprint probe measures one of quantlab's seeded models (`probes.whole_model.footprint_model`);
the signature builds the same model and computes what a footprint that misses its buffers gives.
"""

from __future__ import annotations

from quant_mistakes.probes.whole_model import footprint_model
from quant_mistakes.signatures import Case, Signature

FOOTPRINT = "model_memory_footprint"


def parameter_bytes(case: Case) -> bool | None:
    """The footprint is the bytes of the parameters alone: each once, or a tied one once per module."""
    measured = footprint_model(case.probe)
    if case.raised or measured is None:
        return None
    from quantlab.model_findings import build

    model_name, options = measured
    model = build(model_name, **options)
    once = sum(p.numel() * p.element_size() for p in model.parameters())
    per_module = sum(p.numel() * p.element_size() for _, p in model.named_parameters(remove_duplicate=False))
    found = case.theirs
    return isinstance(found, (int, float)) and not isinstance(found, bool) and found in (once, per_module)


SIGNATURES = (
    Signature("footprint_ignores_buffers", FOOTPRINT, parameter_bytes,
              "the bytes of the parameters only, without the buffers"),
)
