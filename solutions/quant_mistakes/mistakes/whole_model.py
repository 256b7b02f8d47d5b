"""Mistakes of labs L4-C and L4-D: footprints that miss buffers or count elements, a quantized copy
instead of the model, a whole model or its parameters saved, a load without `assign=True`.

These are the mistakes the two labs invite beyond docs/course.md §5; `replace_wrong_arg_order` (§5, in
`layers`) shows here too, through L4-D's strict load.
"""

from __future__ import annotations

from quant_mistakes.course import dedent
from quant_mistakes.course.whole_model import FOOTPRINT as FOOTPRINT_TEMPLATE
from quant_mistakes.mistakes import Mistake

FOOTPRINT = "model_memory_footprint"
QUANTIZE_MODEL = "quantize_model"
SAVE = "save_quantized_state_dict"
LOAD = "load_quantized_model"

MISTAKES = (
    Mistake(
        "footprint_ignores_buffers",
        functions={FOOTPRINT: FOOTPRINT_TEMPLATE.format(
            expression="sum(p.numel() * p.element_size() for p in model.parameters())")},
        affects={"L4-C": (FOOTPRINT, QUANTIZE_MODEL)},
    ),
    Mistake(
        "footprint_counts_elements",
        functions={FOOTPRINT: FOOTPRINT_TEMPLATE.format(
            expression="sum(p.numel() for p in model.parameters()) + sum(b.numel() for b in model.buffers())")},
        affects={"L4-C": (FOOTPRINT, QUANTIZE_MODEL)},
    ),
    Mistake(
        "footprint_from_state_dict",
        functions={FOOTPRINT: FOOTPRINT_TEMPLATE.format(
            expression="sum(t.numel() * t.element_size() for t in model.state_dict().values())")},
        # The tiny models share no weight and have no non-persistent buffer: only the hidden zoo shows it.
        affects={"L4-C": (FOOTPRINT,)},
    ),
    Mistake(
        "quantize_model_not_in_place",
        functions={
            QUANTIZE_MODEL: dedent(
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
        affects={"L4-C": (QUANTIZE_MODEL,)},
    ),
    Mistake(
        "save_whole_model",
        functions={
            SAVE: dedent(
                """
                def save_quantized_state_dict(model, file):
                    torch.save(model, file)
                """
            )
        },
        # The round trip of load_quantized_model saves with the student's function too.
        affects={"L4-D": (SAVE, LOAD)},
        # The load question's probes load a file saved by the reference: only its round trip shows it.
        undiagnosed={"L4-D": (LOAD,)},
    ),
    Mistake(
        "save_parameters_only",
        functions={
            SAVE: dedent(
                """
                def save_quantized_state_dict(model, file):
                    torch.save(dict(model.named_parameters()), file)
                """
            )
        },
        affects={"L4-D": (SAVE, LOAD)},
        # The load question's probes load a file saved by the reference: only its round trip shows it.
        undiagnosed={"L4-D": (LOAD,)},
    ),
    Mistake(
        "load_without_assign",
        functions={
            LOAD: dedent(
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
        affects={"L4-D": (LOAD,)},
    ),
)
