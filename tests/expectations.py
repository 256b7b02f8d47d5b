"""What grading must decide, written by hand, independently of the grader's code.

The grade tests compare what the grader did with these tables, never with what the grader's own
functions (`grader.labs.stand_in_helpers`, `grading_lab`) compute. tests/test_expectations.py checks
the tables against the mistake catalogue and the grader's catalogue, so a stale row fails too.

How they were derived. The course contract (docs/course.md §1, §2, §4) says which lab introduces
each function and which earlier function each one calls; the mistake catalogue
(`solutions/quant_mistakes/mistakes/*.py`) says, for each mistake, which functions it changes
(`Mistake.functions`) and which questions' tests must catch it (`Mistake.affects`) or may fail
because of it in a later lab (`Mistake.carried_into`). A helper is at fault for a question when the
mistake changes it, the question's function calls it (or the question's tests hand it over, as L4-D's
load test is handed the student's `replace_linear_with_target_and_quantize` to build the model it
saves), and it is not the question's own function. Then the question's own logic is right and it keeps
its marks (no double jeopardy, grader/own_logic.py). The rows were first listed with the grader's code
of the time, then each was checked by reading the lab's question and the mistake's code.
"""

from __future__ import annotations

#: Function -> the lab that grades it: the lab that introduces it (docs/course.md §1; L4-C's and L4-D's
#: functions are the project's own, §4), but `quantization_error`, which the course supplies in L3-A
#: and the project grades in L3-B.
GRADED_IN = {
    "linear_q_with_scale_and_zero_point": "L2-A",
    "linear_dequantization": "L2-A",
    "get_q_scale_and_zero_point": "L2-B",
    "linear_quantization": "L2-B",
    "get_q_scale_symmetric": "L3-A",
    "linear_q_symmetric": "L3-A",
    "quantization_error": "L3-B",
    "linear_q_symmetric_per_channel": "L3-C",
    "linear_q_symmetric_per_group": "L3-D",
    "linear_dequantization_per_group": "L3-D",
    "quantized_linear_W8A32_without_bias": "L3-E",
    "w8_a16_forward": "L4-A",
    "W8A16LinearLayer": "L4-A",
    "replace_linear_with_target": "L4-B",
    "replace_linear_with_target_and_quantize": "L4-B",
    "model_memory_footprint": "L4-C",
    "quantize_model": "L4-C",
    "save_quantized_state_dict": "L4-D",
    "load_quantized_model": "L4-D",
    "pack_weights": "L5-B",
    "unpack_weights": "L5-C",
}

_Q = "linear_q_with_scale_and_zero_point"  # quantizes with a given scale and zero point (L2-A)
_ASYM = "get_q_scale_and_zero_point"  # asymmetric scale and zero point (L2-B)
_SYM = "get_q_scale_symmetric"  # symmetric scale (L3-A)
_PER_CHANNEL = "linear_q_symmetric_per_channel"  # (L3-C)

#: (lab, mistake key, question) -> the helpers at fault, for each question a catalogued mistake
#: affects (`Mistake.affects`) while the question's own logic is right: it keeps its marks and names
#: (some of) these helpers. Every other affected question loses marks and names none.
HELPERS_AT_FAULT: dict[tuple[str, str, str], tuple[str, ...]] = {
    # L2-B: linear_quantization = get_q_scale_and_zero_point, then linear_q_with_scale_and_zero_point.
    ("L2-B", "round_truncate_cast", "linear_quantization"): (_Q,),
    ("L2-B", "round_floor", "linear_quantization"): (_Q,),
    ("L2-B", "round_half_away", "linear_quantization"): (_Q,),
    ("L2-B", "round_half_away/floor_plus_half", "linear_quantization"): (_Q,),
    ("L2-B", "round_before_zero_point", "linear_quantization"): (_Q,),
    ("L2-B", "missing_clamp", "linear_quantization"): (_Q,),
    ("L2-B", "zero_point_subtracted", "linear_quantization"): (_Q,),
    ("L2-B", "int8_range_hardcoded/quantize", "linear_quantization"): (_Q,),
    ("L2-B", "scale_inverted", "linear_quantization"): (_ASYM,),
    ("L2-B", "zero_point_truncated", "linear_quantization"): (_ASYM,),
    ("L2-B", "zero_point_not_rounded", "linear_quantization"): (_ASYM,),
    ("L2-B", "zero_point_not_clipped", "linear_quantization"): (_ASYM,),
    ("L2-B", "zero_point_clip_to_qmin", "linear_quantization"): (_ASYM,),
    ("L2-B", "int8_range_hardcoded", "linear_quantization"): (_ASYM,),
    # L3-A and L3-B: linear_q_symmetric = get_q_scale_symmetric, then linear_q_with_scale_and_zero_point
    # with z = 0 (so the mistakes of the zero point do not reach it).
    ("L3-A", "round_truncate_cast", "linear_q_symmetric"): (_Q,),
    ("L3-A", "round_floor", "linear_q_symmetric"): (_Q,),
    ("L3-A", "round_half_away", "linear_q_symmetric"): (_Q,),
    ("L3-A", "round_half_away/floor_plus_half", "linear_q_symmetric"): (_Q,),
    ("L3-A", "int8_range_hardcoded/quantize", "linear_q_symmetric"): (_Q,),
    ("L3-A", "int8_range_hardcoded/symmetric", "linear_q_symmetric"): (_SYM,),
    ("L3-A", "sym_scale_128", "linear_q_symmetric"): (_SYM,),
    ("L3-A", "sym_scale_127_5", "linear_q_symmetric"): (_SYM,),
    ("L3-A", "sym_scale_no_abs", "linear_q_symmetric"): (_SYM,),
    ("L3-B", "round_truncate_cast", "linear_q_symmetric"): (_Q,),
    ("L3-B", "round_floor", "linear_q_symmetric"): (_Q,),
    ("L3-B", "round_half_away", "linear_q_symmetric"): (_Q,),
    ("L3-B", "round_half_away/floor_plus_half", "linear_q_symmetric"): (_Q,),
    ("L3-B", "int8_range_hardcoded/quantize", "linear_q_symmetric"): (_Q,),
    ("L3-B", "int8_range_hardcoded/symmetric", "linear_q_symmetric"): (_SYM,),
    ("L3-B", "sym_scale_128", "linear_q_symmetric"): (_SYM,),
    ("L3-B", "sym_scale_127_5", "linear_q_symmetric"): (_SYM,),
    ("L3-B", "sym_scale_no_abs", "linear_q_symmetric"): (_SYM,),
    # L3-C: per channel = get_q_scale_symmetric of each channel, then linear_q_with_scale_and_zero_point.
    ("L3-C", "round_truncate_cast", "linear_q_symmetric_per_channel"): (_Q,),
    ("L3-C", "round_floor", "linear_q_symmetric_per_channel"): (_Q,),
    ("L3-C", "round_half_away", "linear_q_symmetric_per_channel"): (_Q,),
    ("L3-C", "round_half_away/floor_plus_half", "linear_q_symmetric_per_channel"): (_Q,),
    ("L3-C", "int8_range_hardcoded/quantize", "linear_q_symmetric_per_channel"): (_Q,),
    ("L3-C", "int8_range_hardcoded/symmetric", "linear_q_symmetric_per_channel"): (_SYM,),
    ("L3-C", "sym_scale_128", "linear_q_symmetric_per_channel"): (_SYM,),
    ("L3-C", "sym_scale_127_5", "linear_q_symmetric_per_channel"): (_SYM,),
    ("L3-C", "sym_scale_no_abs", "linear_q_symmetric_per_channel"): (_SYM,),
    # L3-D: per group = per channel (dim 0) on the tensor viewed as groups; it reaches the quantizer and
    # the symmetric scale through per channel. (per_group_wrong_axis changes both graded functions.)
    ("L3-D", "per_channel_wrong_dim", "linear_q_symmetric_per_group"): (_PER_CHANNEL,),
    ("L3-D", "per_channel_missing_reshape", "linear_q_symmetric_per_group"): (_PER_CHANNEL,),
    ("L3-D", "round_truncate_cast", "linear_q_symmetric_per_group"): (_Q,),
    ("L3-D", "round_floor", "linear_q_symmetric_per_group"): (_Q,),
    ("L3-D", "round_half_away", "linear_q_symmetric_per_group"): (_Q,),
    ("L3-D", "round_half_away/floor_plus_half", "linear_q_symmetric_per_group"): (_Q,),
    ("L3-D", "int8_range_hardcoded/quantize", "linear_q_symmetric_per_group"): (_Q,),
    ("L3-D", "int8_range_hardcoded/symmetric", "linear_q_symmetric_per_group"): (_SYM,),
    ("L3-D", "sym_scale_128", "linear_q_symmetric_per_group"): (_SYM,),
    ("L3-D", "sym_scale_127_5", "linear_q_symmetric_per_group"): (_SYM,),
    ("L3-D", "sym_scale_no_abs", "linear_q_symmetric_per_group"): (_SYM,),
    # L4-A: W8A16LinearLayer.forward calls w8_a16_forward (its other mistakes are in the class itself).
    ("L4-A", "w8a16_bias_before_scale", "W8A16LinearLayer"): ("w8_a16_forward",),
    # L4-C: quantize_model returns the footprints before and after, measured by model_memory_footprint.
    ("L4-C", "footprint_ignores_buffers", "quantize_model"): ("model_memory_footprint",),
    ("L4-C", "footprint_counts_elements", "quantize_model"): ("model_memory_footprint",),
    # L4-D: load_quantized_model builds its skeleton with replace_linear_with_target; its tests build the
    # quantized model they save with the student's replace_linear_with_target_and_quantize. The mistake
    # changes both; the catalogue notes that in L4-D the skeleton is what it breaks.
    ("L4-D", "replace_wrong_arg_order", "load_quantized_model"): (
        "replace_linear_with_target", "replace_linear_with_target_and_quantize"),
}

#: (mistake key, later lab, question) -> the helpers at fault, for each question of a later lab that
#: the catalogue says a mistake is carried into (`Mistake.carried_into`): the student's copy of an
#: earlier lab's layer or replacement function, used there, carries the mistake.
CARRIED: dict[tuple[str, str, str], tuple[str, ...]] = {
    # w8_a16_forward: called by the student's W8A16LinearLayer, which the later labs' models are built of.
    ("w8a16_bias_before_scale", "L4-C", "quantize_model"): ("w8_a16_forward",),
    ("w8a16_bias_before_scale", "L4-D", "load_quantized_model"): ("w8_a16_forward",),
    # W8A16LinearLayer itself: the layer the models are quantized into.
    ("w8a16_scale_128", "L4-C", "quantize_model"): ("W8A16LinearLayer",),
    ("w8a16_scale_128", "L4-D", "save_quantized_state_dict"): ("W8A16LinearLayer",),
    ("w8a16_scales_per_column", "L4-B", "replace_linear_with_target_and_quantize"): ("W8A16LinearLayer",),
    ("w8a16_scales_per_column", "L4-C", "quantize_model"): ("W8A16LinearLayer",),
    ("w8a16_scales_per_column", "L4-D", "save_quantized_state_dict"): ("W8A16LinearLayer",),
    ("w8a16_scales_per_column", "L4-D", "load_quantized_model"): ("W8A16LinearLayer",),
    ("w8a16_lowprec_divide_no_clamp", "L4-C", "quantize_model"): ("W8A16LinearLayer",),
    ("w8a16_lowprec_divide_no_clamp", "L4-D", "save_quantized_state_dict"): ("W8A16LinearLayer",),
    # The L4-B replacements: quantize_model and the saved model use replace_linear_with_target_and_quantize;
    # the load test uses both (the skeleton, and the quantized model it saves first).
    ("replace_no_recursion", "L4-C", "quantize_model"): ("replace_linear_with_target_and_quantize",),
    ("replace_no_recursion", "L4-D", "save_quantized_state_dict"): ("replace_linear_with_target_and_quantize",),
    ("replace_no_recursion", "L4-D", "load_quantized_model"): (
        "replace_linear_with_target", "replace_linear_with_target_and_quantize"),
    ("replace_drops_bias", "L4-C", "quantize_model"): ("replace_linear_with_target_and_quantize",),
    ("replace_drops_bias", "L4-D", "save_quantized_state_dict"): ("replace_linear_with_target_and_quantize",),
    ("replace_drops_bias", "L4-D", "load_quantized_model"): (
        "replace_linear_with_target", "replace_linear_with_target_and_quantize"),
    ("exclude_by_substring_or_path", "L4-C", "quantize_model"): ("replace_linear_with_target_and_quantize",),
    ("exclude_by_substring_or_path", "L4-D", "save_quantized_state_dict"): (
        "replace_linear_with_target_and_quantize",),
    ("exclude_by_substring_or_path", "L4-D", "load_quantized_model"): (
        "replace_linear_with_target", "replace_linear_with_target_and_quantize"),
    ("exclude_by_substring_or_path/path", "L4-C", "quantize_model"): ("replace_linear_with_target_and_quantize",),
    ("exclude_by_substring_or_path/path", "L4-D", "save_quantized_state_dict"): (
        "replace_linear_with_target_and_quantize",),
    ("exclude_by_substring_or_path/path", "L4-D", "load_quantized_model"): (
        "replace_linear_with_target", "replace_linear_with_target_and_quantize"),
}


def helpers_at_fault(lab: str, mistake: str, question: str) -> tuple[str, ...]:
    """The helpers at fault when `mistake` affects `question` of `lab` (none: the question's own fault)."""
    return HELPERS_AT_FAULT.get((lab, mistake, question), ())
