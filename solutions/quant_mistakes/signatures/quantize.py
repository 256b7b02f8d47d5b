"""Signatures of the mistakes of labs L2-A to L3-B: rounding, clamping, the zero point, scales, dtypes,
the error metric.

Most read codes: a finding's codes are compared with what a rule makes of `u = r / s` and the zero
point, `u` computed from the scale the codes were made with in the precisions students divide in
(`divisions`), so a student who divides in float32, or by the reciprocal, is judged by the rule
and not by the last bit; exact ties stay exact. Later labs quantize through these helpers, so the
code and scale rules also read the per-channel and per-group questions.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from quant_mistakes.mistakes.quantize import (  # the function names, declared once beside the mistakes
    ASYMMETRIC_PARAMETERS,
    DEQUANTIZE,
    ERROR,
    PER_CHANNEL,
    PER_GROUP,
    QUANTIZE,
    QUANTIZE_ASYMMETRIC,
    QUANTIZE_SYMMETRIC,
    SYMMETRIC_SCALE,
)
from quant_mistakes.signatures import Case, Signature, any_of, as_if, same

#: Questions whose findings hold codes, and where their `dtype` argument sits.
DTYPE_POSITION = {QUANTIZE: 3, QUANTIZE_ASYMMETRIC: 1, QUANTIZE_SYMMETRIC: 1, PER_CHANNEL: 2, PER_GROUP: 2,
                  ASYMMETRIC_PARAMETERS: 1, SYMMETRIC_SCALE: 1}
QUANTIZING = (QUANTIZE, QUANTIZE_ASYMMETRIC, QUANTIZE_SYMMETRIC, PER_CHANNEL, PER_GROUP)
QUANTIZING_ASYMMETRIC = (QUANTIZE, QUANTIZE_ASYMMETRIC)
#: Questions whose findings hold a symmetric scale (per tensor, per channel or per group).
SYMMETRIC = (SYMMETRIC_SCALE, QUANTIZE_SYMMETRIC, PER_CHANNEL, PER_GROUP)


def dtype_of(case: Case, question: str) -> torch.dtype:
    """The dtype the probe asks for (int8 by default, as every function of these labs)."""
    position = DTYPE_POSITION[question]
    if "dtype" in case.kwargs:
        return case.kwargs["dtype"]
    return case.args[position] if len(case.args) > position else torch.int8


@dataclass
class Quantized:
    """What a finding of a quantizing question says: codes, and what they were made from."""

    codes: torch.Tensor
    #: r / s with the scale the finding reports (or was given), as the precisions students divide
    #: in compute it (`divisions`).
    us: list[torch.Tensor]
    zero_point: float
    #: The finding without its codes: the scale and zero point it reports.
    parameters: tuple


def divisions(tensor: torch.Tensor, scale) -> list[torch.Tensor]:
    """`tensor / scale` in float64, in float32, as float32 times the reciprocal, and in float64 by the
    scale rounded to float32 (all as float64)."""
    scale = scale if isinstance(scale, torch.Tensor) else torch.tensor(float(scale), dtype=torch.float64)
    single = scale.float()
    return [tensor.double() / scale.double(), (tensor.float() / single).double(),
            (tensor.float() * (1 / single)).double(), tensor.double() / single.double()]


def quantized(question: str, finding, args: tuple) -> Quantized:
    """Read a finding of `question` made from `args` (raises when it is not that shape)."""
    tensor = args[0]
    if question == QUANTIZE:
        return Quantized(finding, divisions(tensor, args[1]), float(args[2]), ())
    codes, scale, *rest = finding
    zero_point = float(rest[0]) if rest else 0.0
    if question == PER_GROUP:
        us = [u.reshape(tensor.shape) for u in divisions(tensor.reshape(-1, int(args[1])), scale)]
    else:
        us = divisions(tensor, scale)
    return Quantized(codes, us, zero_point, tuple(finding[1:]))


Rule = Callable[[torch.Tensor, float, torch.iinfo], torch.Tensor]


def wrap(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Integer `values` as `dtype` holds them when cast: wrapped around its range."""
    info = torch.iinfo(dtype)
    span = info.max - info.min + 1
    return (values.long() - info.min) % span + info.min


def follows(rule: Rule, codes: torch.Tensor, us: list[torch.Tensor], zero_point: float, dtype: torch.dtype) -> bool:
    """Every code is what `rule` makes of `u` (computed one of the ways in `us`), cast to `dtype`."""
    if not isinstance(codes, torch.Tensor) or codes.dtype != dtype or codes.shape != us[0].shape:
        return False
    info = torch.iinfo(dtype)
    ours = codes.long()
    matches = torch.zeros_like(ours, dtype=torch.bool)
    for u in us:
        matches |= wrap(rule(u, zero_point, info), dtype) == ours
    return bool(matches.all())


def rounded(u, z, info):
    return torch.round(u + z).clamp(info.min, info.max)


def codes_by(question: str, rule: Rule) -> Callable[[Case], bool | None]:
    """The scale and zero point are right, and the codes follow `rule` instead of the course's."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        theirs, course = quantized(question, case.theirs, case.args), quantized(question, case.course, case.args)
        if not same(theirs.parameters, course.parameters):
            return False
        return follows(rule, theirs.codes, theirs.us, theirs.zero_point, course.codes.dtype)

    return shows


def unclamped(question: str) -> Callable[[Case], bool | None]:
    """Codes rounded right inside the range, but not clamped to it (on one side or both): some code
    beyond the range is not q_min or q_max."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        theirs, course = quantized(question, case.theirs, case.args), quantized(question, case.course, case.args)
        if not same(theirs.parameters, course.parameters) or theirs.codes.dtype != course.codes.dtype:
            return False
        info = torch.iinfo(course.codes.dtype)
        raw = torch.round(theirs.us[0] + theirs.zero_point)
        beyond = (raw < info.min) | (raw > info.max)
        if not beyond.any():
            return None
        inside_right = follows(rounded, torch.where(beyond, course.codes, theirs.codes), theirs.us,
                               theirs.zero_point, course.codes.dtype)
        if not inside_right:
            return False
        return True if bool((theirs.codes[beyond] != course.codes[beyond]).any()) else None

    return shows


def consistent(question: str, case: Case, dtype: torch.dtype) -> bool:
    """The codes are the course's rounding of the student's own scale and zero point, as `dtype`."""
    theirs = quantized(question, case.theirs, case.args)
    return follows(rounded, theirs.codes, theirs.us, theirs.zero_point, dtype)


# Scales and zero points ---------------------------------------------------------------------------------


def near(value, candidates) -> bool:
    """`value` (a number, or a one-element tensor) is within float32 rounding of one of `candidates`."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            return False
        value = value.item()
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    return any(math.isclose(value, c, rel_tol=1e-5, abs_tol=1e-9) for c in candidates)


def clipped_then(rounding: Callable[[float], float]) -> Callable[[float, int, int], float]:
    """The L2-B rule for the zero point: below the range q_min, above it q_max, else `rounding(z)`."""
    return lambda z, q_min, q_max: q_min if z < q_min else q_max if z > q_max else rounding(z)


course_zero_point = clipped_then(round)


def asymmetric(scale_of=None, zero_point_of=course_zero_point):
    """(scale, zero point candidates) -> what a mistake computes from a tensor and dtype.

    `scale_of(r_min, r_max, q_min, q_max)` (the course's by default), `zero_point_of(z, q_min, q_max)`
    applied to the raw `z = q_min - r_min / scale` as float64 and float32 compute it.
    """

    def expected(tensor: torch.Tensor, dtype: torch.dtype) -> tuple[float, list]:
        info = torch.iinfo(dtype)
        r_min, r_max = float(tensor.min()), float(tensor.max())
        scale = (scale_of or (lambda a, b, lo, hi: (b - a) / (hi - lo)))(r_min, r_max, info.min, info.max)
        single = torch.tensor(float(info.min)) - torch.tensor(r_min) / torch.tensor(scale)
        raws = (info.min - r_min / scale, single.item())
        return scale, [zero_point_of(raw, info.min, info.max) for raw in raws]

    return expected


def parameters(question: str, expected) -> Callable[[Case], bool | None]:
    """The scale and zero point are what `expected` computes; any codes are the course's rounding of them."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        dtype = dtype_of(case, question)
        scale, zero_points = expected(case.args[0], dtype)
        found = case.theirs if question == ASYMMETRIC_PARAMETERS else case.theirs[1:]
        if len(found) != 2 or not near(found[0], [scale]) or not near(found[1], zero_points):
            return False
        return question == ASYMMETRIC_PARAMETERS or consistent(question, case, dtype)

    return shows


def symmetric_scale(question: str, expected) -> Callable[[Case], bool | None]:
    """The symmetric scale is what `expected(tensor, dtype)` computes (candidates); any codes are the
    course's rounding with it."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        dtype = dtype_of(case, question)
        scale = case.theirs if question == SYMMETRIC_SCALE else case.theirs[1]
        if not near(scale, expected(case.args[0], dtype)):
            return False
        return question == SYMMETRIC_SCALE or consistent(question, case, dtype)

    return shows


def scale_ratio(question: str, *ratios: Callable[[torch.iinfo], float]) -> Callable[[Case], bool | None]:
    """Every scale is the course's times one of `ratios` (of the dtype's range: 127/128 for int8,
    255/256 for uint8); any codes are the course's rounding with those scales. Per tensor, per
    channel or per group alike."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        dtype = dtype_of(case, question)
        theirs, course = (case.theirs, case.course) if question == SYMMETRIC_SCALE else (case.theirs[1], case.course[1])
        theirs, course = torch.as_tensor(theirs, dtype=torch.float64), torch.as_tensor(course, dtype=torch.float64)
        if theirs.shape != course.shape:
            return False
        info = torch.iinfo(dtype)
        if not any(torch.allclose(theirs, course * ratio(info), rtol=1e-5, atol=1e-12) for ratio in ratios):
            return False
        return question == SYMMETRIC_SCALE or consistent(question, case, dtype)

    return shows


def dtype_dropped(question: str, *, in_parameters: bool, in_codes: bool) -> Callable[[Case], bool | None]:
    """int8's scale and zero point (`in_parameters`) and/or int8 codes (`in_codes`) whatever dtype
    was asked for, the rest right: the dtype not passed on to one helper, or to either."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        source = case.course_on(*case.args, **{**case.kwargs, "dtype": torch.int8}) if in_parameters else case.course
        if not same(tuple(case.theirs[1:]), tuple(source[1:])):
            return False
        return consistent(question, case, torch.int8 if in_codes else dtype_of(case, question))

    return shows


def int8_range(question: str) -> Callable[[Case], bool | None]:
    """The scale and zero point of int8's range, whatever dtype was asked for."""
    if question in (ASYMMETRIC_PARAMETERS, SYMMETRIC_SCALE):
        return as_if(dtype=torch.int8)
    return dtype_dropped(question, in_parameters=True, in_codes=False)


# Dequantization and the error metric ---------------------------------------------------------------------


def value_close(found, expected: torch.Tensor) -> bool:
    """A float result close to `expected` (a tensor of the same shape, or a number for a 0-d one)."""
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        found = torch.tensor(float(found))
    if not isinstance(found, torch.Tensor) or not found.is_floating_point() or found.numel() != expected.numel():
        return False
    return bool(torch.allclose(found.double().reshape(expected.shape), expected, rtol=1e-5, atol=1e-7))


def dequantized_as(*formulas: Callable[[torch.Tensor, float, float], torch.Tensor]) -> Callable[[Case], bool | None]:
    """The result is one of `formulas(q, s, z)` (q as the dtype it came in, the rest in float64)."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        codes, scale, zero_point = case.args[:3]
        return any(value_close(case.theirs, formula(codes, float(scale), float(zero_point))) for formula in formulas)

    return shows


def error_as(metric: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Case], bool | None]:
    """The error is `metric(dequantized - tensor)`, computed in float64."""

    def shows(case: Case) -> bool | None:
        if case.raised:
            return None
        tensor, dequantized = case.args[:2]
        return value_close(case.theirs, metric(dequantized.double() - tensor.double()))

    return shows


def each(mistake: str, questions, shows_for, what: str) -> list[Signature]:
    return [Signature(mistake, question, shows_for(question), what) for question in questions]


SIGNATURES = (
    *each("round_truncate_cast", QUANTIZING,
          lambda q: codes_by(q, lambda u, z, info: torch.trunc(u + z).clamp(info.min, info.max)),
          "codes truncated toward zero instead of rounded"),
    *each("round_floor", QUANTIZING,
          lambda q: codes_by(q, lambda u, z, info: torch.floor(u + z).clamp(info.min, info.max)),
          "codes rounded down"),
    *each("round_half_away", QUANTIZING,
          lambda q: any_of(
              codes_by(q, lambda u, z, info: (torch.sign(u + z) * torch.floor((u + z).abs() + 0.5)).clamp(
                  info.min, info.max)),
              codes_by(q, lambda u, z, info: torch.floor(u + z + 0.5).clamp(info.min, info.max)),
          ),
          "exact halves rounded away from zero (or up), not to even"),
    *each("round_before_zero_point", QUANTIZING_ASYMMETRIC,
          lambda q: codes_by(q, lambda u, z, info: (torch.round(u) + z).clamp(info.min, info.max)),
          "r / s rounded before the zero point is added"),
    *each("missing_clamp", QUANTIZING_ASYMMETRIC, unclamped, "codes beyond the range not clamped"),
    *each("zero_point_subtracted", QUANTIZING_ASYMMETRIC,
          lambda q: any_of(codes_by(q, lambda u, z, info: torch.round(u - z).clamp(info.min, info.max)),
                           codes_by(q, lambda u, z, info: (torch.round(u) - z).clamp(info.min, info.max))),
          "codes off by twice the zero point: it is subtracted (before or after rounding)"),
    *each("int8_range_hardcoded", QUANTIZING,
          lambda q: codes_by(q, lambda u, z, info: torch.round(u + z).clamp(-128, 127)),
          "codes clamped to int8's range whatever the dtype"),
    Signature("dequant_no_float_cast", DEQUANTIZE,
              dequantized_as(lambda q, s, z: s * wrap(q.long() - int(z), q.dtype).double()),
              "q - z computed in the codes' integer dtype, wrapping around"),
    Signature("dequant_sign", DEQUANTIZE,
              dequantized_as(lambda q, s, z: s * (q.double() + z), lambda q, s, z: s * q.double() + z),
              "the zero point added, not subtracted"),
    *each("scale_inverted", (ASYMMETRIC_PARAMETERS, QUANTIZE_ASYMMETRIC),
          lambda q: parameters(q, asymmetric(lambda a, b, lo, hi: (hi - lo) / (b - a))),
          "the scale upside down: (q_max - q_min) / (r_max - r_min)"),
    *each("zero_point_truncated", (ASYMMETRIC_PARAMETERS, QUANTIZE_ASYMMETRIC),
          lambda q: parameters(q, asymmetric(zero_point_of=clipped_then(int))),
          "the zero point truncated toward zero"),
    *each("zero_point_not_rounded", (ASYMMETRIC_PARAMETERS, QUANTIZE_ASYMMETRIC),
          lambda q: parameters(q, asymmetric(zero_point_of=clipped_then(float))),
          "the zero point clipped but not rounded"),
    *each("zero_point_not_clipped", (ASYMMETRIC_PARAMETERS, QUANTIZE_ASYMMETRIC),
          lambda q: parameters(q, asymmetric(zero_point_of=lambda z, lo, hi: round(z))),
          "the zero point rounded but not clipped to the range"),
    *each("zero_point_clip_to_qmin", (ASYMMETRIC_PARAMETERS, QUANTIZE_ASYMMETRIC),
          lambda q: parameters(q, asymmetric(zero_point_of=lambda z, lo, hi: lo if z < lo or z > hi else round(z))),
          "a zero point above the range clipped to q_min"),
    *each("int8_range_hardcoded", (ASYMMETRIC_PARAMETERS, QUANTIZE_ASYMMETRIC, SYMMETRIC_SCALE, QUANTIZE_SYMMETRIC),
          int8_range, "the scale (and zero point) of int8's range whatever the dtype"),
    *each("int8_range_hardcoded", (PER_CHANNEL, PER_GROUP), lambda q: scale_ratio(q, lambda i: i.max / 127),
          "scales of int8's range (max|r| / 127) whatever the dtype"),
    *each("sym_scale_128", SYMMETRIC,
          lambda q: scale_ratio(q, lambda i: i.max / (i.max + 1), lambda i: i.max / 128),
          "the symmetric scale divided by q_max + 1 (128): 127/128 of the right one"),
    *each("sym_scale_127_5", SYMMETRIC,
          lambda q: scale_ratio(q, lambda i: i.max / ((i.max - i.min) / 2), lambda i: i.max / 127.5),
          "the symmetric scale divided by the half-range (127.5)"),
    *each("sym_scale_no_abs", (SYMMETRIC_SCALE, QUANTIZE_SYMMETRIC),
          lambda q: symmetric_scale(q, lambda tensor, dtype: [float(tensor.max()) / torch.iinfo(dtype).max]),
          "the symmetric scale from max(r), not max|r|"),
    *each("dtype_not_forwarded", (QUANTIZE_ASYMMETRIC, QUANTIZE_SYMMETRIC),
          lambda q: any_of(*(dtype_dropped(q, in_parameters=p, in_codes=c)
                             for p, c in ((True, True), (True, False), (False, True)))),
          "int8's scale or int8 codes whatever the dtype: the dtype not passed to a helper"),
    Signature("error_metric_mae", ERROR, error_as(lambda d: d.abs().mean()), "the mean absolute error"),
    Signature("error_metric_sum", ERROR, error_as(lambda d: d.square().sum()), "the sum of squared errors"),
    Signature("error_metric_rmse", ERROR, error_as(lambda d: d.square().mean().sqrt()), "the root of the MSE"),
)
