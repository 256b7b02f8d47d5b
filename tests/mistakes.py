"""Student implementations for the core labs (L2-A, L2-B, L3-A, L3-B), right and wrong.

Each implementation is notebook source: the student's functions for the seven graded names,
executed into one namespace, so that a function calls the student's own helpers (a wrong
`get_q_scale_and_zero_point` also makes that student's `linear_quantization` wrong, as it would
in the notebook).

- `CORRECT_STYLES`: ways of writing the functions that the course contract (LABS.md §2, §3, §7)
  accepts: the course's own code, vectorised one-liners, float64 arithmetic inside, multiplying by
  the float32 reciprocal of the scale, `torch.quantize_per_tensor(...).int_repr()`, and in-place
  arithmetic that mutates the inputs.
- `MISTAKES`: one entry per LABS.md §5 mistake that applies to these labs (several ids have
  variants, named `id/variant`). `functions` holds the source of the wrong function(s), laid over
  the course-literal implementation; `affects` names the questions (graded functions) whose
  tests must catch it, by lab. Every other question of the four labs must still pass.
- `STUB`: the notebook as handed out (every function raises NotImplementedError).

`student_env(...)` turns any of these into the dict of callables that otter would find in the
student's global environment.
"""

from __future__ import annotations

import textwrap

__all__ = [
    "QUESTIONS",
    "FUNCTIONS",
    "COURSE_LITERAL",
    "CORRECT_STYLES",
    "MISTAKES",
    "MISTAKE_IDS",
    "STUB",
    "student_env",
    "mistake_env",
]

#: The graded questions (= graded functions = test file names) of each lab.
QUESTIONS = {
    "L2-A": ("linear_q_with_scale_and_zero_point", "linear_dequantization"),
    "L2-B": ("get_q_scale_and_zero_point", "linear_quantization"),
    "L3-A": ("get_q_scale_symmetric", "linear_q_symmetric"),
    "L3-B": ("linear_q_symmetric", "quantization_error"),
}

#: The functions every implementation defines.
FUNCTIONS = (
    "linear_q_with_scale_and_zero_point",
    "linear_dequantization",
    "get_q_scale_and_zero_point",
    "linear_quantization",
    "get_q_scale_symmetric",
    "linear_q_symmetric",
    "quantization_error",
)


def _src(text: str) -> str:
    return textwrap.dedent(text).strip("\n") + "\n"


# Correct implementations ---------------------------------------------------------------------------

#: The course notebooks' code, with the project decisions of LABS.md §3 (z clipped as in the L2-B
#: notebook, dtype forwarded).
COURSE_LITERAL = _src(
    """
    import torch

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        scaled_and_shifted_tensor = tensor / scale + zero_point
        rounded_tensor = torch.round(scaled_and_shifted_tensor)
        q_min = torch.iinfo(dtype).min
        q_max = torch.iinfo(dtype).max
        q_tensor = rounded_tensor.clamp(q_min, q_max).to(dtype)
        return q_tensor

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return scale * (quantized_tensor.float() - zero_point)

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
        r_min, r_max = tensor.min().item(), tensor.max().item()
        scale = (r_max - r_min) / (q_max - q_min)
        zero_point = q_min - (r_min / scale)
        if zero_point < q_min:
            zero_point = q_min
        elif zero_point > q_max:
            zero_point = q_max
        else:
            zero_point = int(round(zero_point))
        return scale, zero_point

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor, dtype=dtype)
        quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=dtype)
        return quantized_tensor, scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        r_max = tensor.abs().max().item()
        q_max = torch.iinfo(dtype).max
        return r_max / q_max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor, dtype=dtype)
        quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype)
        return quantized_tensor, scale

    def quantization_error(tensor, dequantized_tensor):
        return (dequantized_tensor - tensor).abs().square().mean()
    """
)

#: One-liners; the asymmetric parameters are computed with float32 tensor arithmetic.
VECTORISED = _src(
    """
    import torch
    import torch.nn.functional as F

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        return torch.clamp(torch.round(tensor / scale + zero_point), torch.iinfo(dtype).min, torch.iinfo(dtype).max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return (quantized_tensor.to(torch.float32) - zero_point) * scale

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        info = torch.iinfo(dtype)
        r_min, r_max = torch.aminmax(tensor)
        scale = (r_max - r_min) / (info.max - info.min)
        zero_point = torch.clamp(info.min - r_min / scale, info.min, info.max).round()
        return scale.item(), int(zero_point.item())

    def linear_quantization(tensor, dtype=torch.int8):
        s, z = get_q_scale_and_zero_point(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, s, z, dtype), s, z

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return tensor.abs().max().item() / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        s = get_q_scale_symmetric(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, s, 0, dtype), s

    def quantization_error(tensor, dequantized_tensor):
        return F.mse_loss(dequantized_tensor, tensor)
    """
)

#: Divides (and averages) in float64, then rounds; casts back to the asked-for dtype at the end.
FLOAT64_INSIDE = _src(
    """
    import math
    import torch

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        x = tensor.double() / float(scale) + int(zero_point)
        return x.round().clamp(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return (float(scale) * (quantized_tensor.double() - zero_point)).float()

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        info = torch.iinfo(dtype)
        t = tensor.double()
        r_min, r_max = float(t.min()), float(t.max())
        scale = (r_max - r_min) / (info.max - info.min)
        z = info.min - r_min / scale
        zero_point = int(min(max(round(z), info.min), info.max))
        return scale, zero_point

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype), scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return float(tensor.double().abs().max()) / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, 0, dtype), scale

    def quantization_error(tensor, dequantized_tensor):
        return (dequantized_tensor.double() - tensor.double()).pow(2).mean().float()
    """
)

#: torch's own quantizer where it applies (int8 / uint8 with an in-range zero point), the course
#: formula otherwise; dequantizes through a quantized tensor.
QUANTIZE_PER_TENSOR = _src(
    """
    import warnings
    import torch

    _QTYPES = {torch.int8: torch.qint8, torch.uint8: torch.quint8}

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        if dtype in _QTYPES and info.min <= zero_point <= info.max:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                q = torch.quantize_per_tensor(tensor.float(), float(scale), int(zero_point), _QTYPES[dtype])
            return q.int_repr()
        return torch.round(tensor / scale + zero_point).clamp(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        if quantized_tensor.dtype in _QTYPES:
            info = torch.iinfo(quantized_tensor.dtype)
            if info.min <= zero_point <= info.max:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    q = torch._make_per_tensor_quantized_tensor(quantized_tensor, float(scale), int(zero_point))
                return q.dequantize()
        return scale * (quantized_tensor.float() - zero_point)

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
        r_min, r_max = tensor.min().item(), tensor.max().item()
        scale = (r_max - r_min) / (q_max - q_min)
        zero_point = q_min - r_min / scale
        zero_point = q_min if zero_point < q_min else q_max if zero_point > q_max else int(round(zero_point))
        return scale, zero_point

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype), scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return torch.max(torch.abs(tensor)).item() / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor, dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, 0, dtype), scale

    def quantization_error(tensor, dequantized_tensor):
        return torch.mean(torch.square(tensor - dequantized_tensor))
    """
)

#: In-place arithmetic that overwrites its arguments (legal; the tests must pass fresh clones).
IN_PLACE = _src(
    """
    import torch

    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        return tensor.div_(scale).add_(zero_point).round_().clamp_(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        out = quantized_tensor.float()
        quantized_tensor.zero_()
        return out.sub_(zero_point).mul_(scale)

    def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
        info = torch.iinfo(dtype)
        r_min, r_max = tensor.min().item(), tensor.max().item()
        tensor.fill_(float("nan"))
        scale = (r_max - r_min) / (info.max - info.min)
        z = info.min - r_min / scale
        return scale, (info.min if z < info.min else info.max if z > info.max else int(round(z)))

    def linear_quantization(tensor, dtype=torch.int8):
        scale, zero_point = get_q_scale_and_zero_point(tensor.clone(), dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype), scale, zero_point

    def get_q_scale_symmetric(tensor, dtype=torch.int8):
        return tensor.abs_().max().item() / torch.iinfo(dtype).max

    def linear_q_symmetric(tensor, dtype=torch.int8):
        scale = get_q_scale_symmetric(tensor.clone(), dtype)
        return linear_q_with_scale_and_zero_point(tensor, scale, 0, dtype), scale

    def quantization_error(tensor, dequantized_tensor):
        return dequantized_tensor.sub_(tensor).square_().mean()
    """
)

#: The course's notebook, quantizing with the float32 reciprocal of the scale (as torch's own
#: quantizer does) and dequantizing with torch functions: codes may differ by one next to a tie.
RECIPROCAL = COURSE_LITERAL + "\n" + _src(
    """
    def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
        info = torch.iinfo(dtype)
        inverse = torch.tensor(1.0 / scale, dtype=torch.float32)
        return torch.round(torch.addcmul(torch.full_like(tensor, float(zero_point)), tensor, inverse)).clamp(info.min, info.max).to(dtype)

    def linear_dequantization(quantized_tensor, scale, zero_point):
        return torch.mul(torch.sub(quantized_tensor.to(torch.float32), zero_point), scale)
    """
)

CORRECT_STYLES = {
    "course_literal": COURSE_LITERAL,
    "reciprocal": RECIPROCAL,
    "vectorised": VECTORISED,
    "float64_inside": FLOAT64_INSIDE,
    "quantize_per_tensor": QUANTIZE_PER_TENSOR,
    "in_place": IN_PLACE,
}

STUB = "import torch\n\n" + "\n\n".join(
    f"def {name}(*args, **kwargs):\n    raise NotImplementedError\n" for name in FUNCTIONS
)


# Mistakes (LABS.md §5) --------------------------------------------------------------------------

_LQ = "linear_q_with_scale_and_zero_point"
_DQ = "linear_dequantization"
_GSZ = "get_q_scale_and_zero_point"
_LQA = "linear_quantization"
_GSS = "get_q_scale_symmetric"
_LQS = "linear_q_symmetric"
_QE = "quantization_error"

#: Questions that quantize through the student's `linear_q_with_scale_and_zero_point`.
_QUANTIZERS = {"L2-A": [_LQ], "L2-B": [_LQA], "L3-A": [_LQS], "L3-B": [_LQS]}
#: ... and those with a non-zero zero point (symmetric mode has z = 0).
_ASYMMETRIC_QUANTIZERS = {"L2-A": [_LQ], "L2-B": [_LQA]}
_ASYMMETRIC_PARAMETERS = {"L2-B": [_GSZ, _LQA]}
_SYMMETRIC = {"L3-A": [_GSS, _LQS], "L3-B": [_LQS]}


def _quantizer(body: str) -> str:
    """A `linear_q_with_scale_and_zero_point` with `body` computing `q_tensor` from `x`."""
    return _src(
        """
        def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
            q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
            x = tensor / scale + zero_point
        """
    ) + textwrap.indent(_src(body), "    ") + "    return q_tensor\n"


def _zero_point_rule(rule: str) -> str:
    """A `get_q_scale_and_zero_point` whose zero point (raw `zero_point`) goes through `rule`."""
    return _src(
        """
        def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
            q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
            r_min, r_max = tensor.min().item(), tensor.max().item()
            scale = (r_max - r_min) / (q_max - q_min)
            zero_point = q_min - (r_min / scale)
        """
    ) + textwrap.indent(_src(rule), "    ") + "    return scale, zero_point\n"


def _symmetric_scale(expression: str) -> str:
    return _src(
        f"""
        def get_q_scale_symmetric(tensor, dtype=torch.int8):
            return {expression}
        """
    )


def _error(expression: str) -> str:
    return _src(
        f"""
        def quantization_error(tensor, dequantized_tensor):
            return {expression}
        """
    )


_COURSE_CLIP = """
if zero_point < q_min:
    zero_point = q_min
elif zero_point > q_max:
    zero_point = q_max
else:
    zero_point = {rounding}
"""

MISTAKES: dict[str, dict] = {
    "round_truncate_cast": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = x.clamp(q_min, q_max).to(dtype)")},
        "affects": _QUANTIZERS,
    },
    "round_floor": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = torch.floor(x).clamp(q_min, q_max).to(dtype)")},
        "affects": _QUANTIZERS,
    },
    "round_half_away": {
        "lab": "L2-A",
        "functions": {
            _LQ: _quantizer("q_tensor = (torch.sign(x) * torch.floor(x.abs() + 0.5)).clamp(q_min, q_max).to(dtype)")
        },
        "affects": _QUANTIZERS,
    },
    "round_half_away/floor_plus_half": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = torch.floor(x + 0.5).clamp(q_min, q_max).to(dtype)")},
        "affects": _QUANTIZERS,
    },
    "round_before_zero_point": {
        "lab": "L2-A",
        "functions": {
            _LQ: _quantizer("q_tensor = (torch.round(tensor / scale) + zero_point).clamp(q_min, q_max).to(dtype)")
        },
        # z = 0 in symmetric mode: round(r/s) + 0 is the right code there.
        "affects": _ASYMMETRIC_QUANTIZERS,
    },
    "missing_clamp": {
        "lab": "L2-A",
        "functions": {_LQ: _quantizer("q_tensor = torch.round(x).to(dtype)")},
        # Symmetric codes never leave [-q_max, q_max], so the clamp is a no-op there.
        "affects": _ASYMMETRIC_QUANTIZERS,
    },
    "zero_point_subtracted": {
        "lab": "L2-A",
        "functions": {
            _LQ: _quantizer("q_tensor = torch.round(tensor / scale - zero_point).clamp(q_min, q_max).to(dtype)")
        },
        "affects": _ASYMMETRIC_QUANTIZERS,
    },
    "dequant_no_float_cast": {
        "lab": "L2-A",
        "functions": {
            _DQ: _src(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return scale * (quantized_tensor - zero_point)
                """
            )
        },
        "affects": {"L2-A": [_DQ]},
    },
    "dequant_sign": {
        "lab": "L2-A",
        "functions": {
            _DQ: _src(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return scale * (quantized_tensor.float() + zero_point)
                """
            )
        },
        "affects": {"L2-A": [_DQ]},
    },
    "dequant_sign/q_times_s_plus_z": {
        "lab": "L2-A",
        "functions": {
            _DQ: _src(
                """
                def linear_dequantization(quantized_tensor, scale, zero_point):
                    return quantized_tensor.float() * scale + zero_point
                """
            )
        },
        "affects": {"L2-A": [_DQ]},
    },
    "scale_inverted": {
        "lab": "L2-B",
        "functions": {
            _GSZ: _src(
                """
                def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                    q_min, q_max = torch.iinfo(dtype).min, torch.iinfo(dtype).max
                    r_min, r_max = tensor.min().item(), tensor.max().item()
                    scale = (q_max - q_min) / (r_max - r_min)
                    zero_point = q_min - (r_min / scale)
                    if zero_point < q_min:
                        zero_point = q_min
                    elif zero_point > q_max:
                        zero_point = q_max
                    else:
                        zero_point = int(round(zero_point))
                    return scale, zero_point
                """
            )
        },
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_truncated": {
        "lab": "L2-B",
        "functions": {_GSZ: _zero_point_rule(_COURSE_CLIP.format(rounding="int(zero_point)"))},
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_not_rounded": {
        "lab": "L2-B",
        "functions": {_GSZ: _zero_point_rule(_COURSE_CLIP.format(rounding="zero_point"))},
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_not_clipped": {
        "lab": "L2-B",
        "functions": {_GSZ: _zero_point_rule("zero_point = int(round(zero_point))")},
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "zero_point_clip_to_qmin": {
        "lab": "L2-B",
        "functions": {
            _GSZ: _zero_point_rule(
                """
                if zero_point < q_min or zero_point > q_max:
                    zero_point = q_min
                else:
                    zero_point = int(round(zero_point))
                """
            )
        },
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "int8_range_hardcoded": {
        "lab": "L2-B",
        "functions": {
            _GSZ: _src(
                """
                def get_q_scale_and_zero_point(tensor, dtype=torch.int8):
                    q_min, q_max = torch.iinfo(torch.int8).min, torch.iinfo(torch.int8).max
                    r_min, r_max = tensor.min().item(), tensor.max().item()
                    scale = (r_max - r_min) / (q_max - q_min)
                    zero_point = q_min - (r_min / scale)
                    if zero_point < q_min:
                        zero_point = q_min
                    elif zero_point > q_max:
                        zero_point = q_max
                    else:
                        zero_point = int(round(zero_point))
                    return scale, zero_point
                """
            )
        },
        "affects": _ASYMMETRIC_PARAMETERS,
    },
    "int8_range_hardcoded/quantize": {
        "lab": "L2-A",
        "functions": {
            _LQ: _src(
                """
                def linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=torch.int8):
                    rounded = torch.round(tensor / scale + zero_point)
                    return rounded.clamp(-128, 127).to(dtype)
                """
            )
        },
        "affects": _QUANTIZERS,
    },
    "int8_range_hardcoded/symmetric": {
        "lab": "L3-A",
        "functions": {_GSS: _symmetric_scale("tensor.abs().max().item() / 127")},
        "affects": _SYMMETRIC,
    },
    "sym_scale_128": {
        "lab": "L3-A",
        "functions": {_GSS: _symmetric_scale("tensor.abs().max().item() / (torch.iinfo(dtype).max + 1)")},
        "affects": _SYMMETRIC,
    },
    "sym_scale_127_5": {
        "lab": "L3-A",
        "functions": {
            _GSS: _symmetric_scale(
                "tensor.abs().max().item() / ((torch.iinfo(dtype).max - torch.iinfo(dtype).min) / 2)"
            )
        },
        "affects": _SYMMETRIC,
    },
    "sym_scale_no_abs": {
        "lab": "L3-A",
        "functions": {_GSS: _symmetric_scale("tensor.max().item() / torch.iinfo(dtype).max")},
        "affects": _SYMMETRIC,
    },
    "dtype_not_forwarded": {
        "lab": "L3-A",
        "functions": {
            _LQS: _src(
                """
                def linear_q_symmetric(tensor, dtype=torch.int8):
                    scale = get_q_scale_symmetric(tensor)
                    quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale=scale, zero_point=0, dtype=dtype)
                    return quantized_tensor, scale
                """
            )
        },
        "affects": {"L3-A": [_LQS], "L3-B": [_LQS]},
    },
    "dtype_not_forwarded/linear_quantization": {
        "lab": "L2-B",
        "functions": {
            _LQA: _src(
                """
                def linear_quantization(tensor, dtype=torch.int8):
                    scale, zero_point = get_q_scale_and_zero_point(tensor)
                    quantized_tensor = linear_q_with_scale_and_zero_point(tensor, scale, zero_point, dtype=dtype)
                    return quantized_tensor, scale, zero_point
                """
            )
        },
        "affects": {"L2-B": [_LQA]},
    },
    "error_metric_mae": {
        "lab": "L3-B",
        "functions": {_QE: _error("(dequantized_tensor - tensor).abs().mean()")},
        "affects": {"L3-B": [_QE]},
    },
    "error_metric_sum": {
        "lab": "L3-B",
        "functions": {_QE: _error("(dequantized_tensor - tensor).square().sum()")},
        "affects": {"L3-B": [_QE]},
    },
    "error_metric_rmse": {
        "lab": "L3-B",
        "functions": {_QE: _error("(dequantized_tensor - tensor).square().mean().sqrt()")},
        "affects": {"L3-B": [_QE]},
    },
}

#: The LABS.md §5 ids these labs must catch (variants share the id before the slash).
MISTAKE_IDS = (
    "round_truncate_cast", "round_floor", "round_half_away", "round_before_zero_point",
    "missing_clamp", "zero_point_subtracted", "dequant_no_float_cast", "dequant_sign",
    "scale_inverted", "zero_point_truncated", "zero_point_not_rounded", "zero_point_not_clipped",
    "zero_point_clip_to_qmin", "int8_range_hardcoded", "sym_scale_128", "sym_scale_127_5",
    "sym_scale_no_abs", "dtype_not_forwarded", "error_metric_mae", "error_metric_sum",
    "error_metric_rmse",
)


# Environments -----------------------------------------------------------------------------------

def student_env(*sources: str, label: str = "student") -> dict:
    """Execute notebook `sources` in order into one namespace; return it (otter's global env)."""
    namespace: dict = {"__name__": f"__{label}__"}
    for i, source in enumerate(sources):
        exec(compile(source, f"<{label} cell {i}>", "exec"), namespace)
    missing = [name for name in FUNCTIONS if not callable(namespace.get(name))]
    if missing:
        raise RuntimeError(f"{label} does not define {missing}")
    return namespace


def mistake_env(mistake: str) -> dict:
    """The course-literal notebook with the functions of `mistake` replaced by the wrong ones."""
    overrides = MISTAKES[mistake]["functions"]
    return student_env(COURSE_LITERAL, *overrides.values(), label=f"mistake {mistake}")

