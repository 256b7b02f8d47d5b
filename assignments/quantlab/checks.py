"""Comparisons that the lab tests use, with messages written for the student.

Every check raises `CheckFailed` (an AssertionError, so otter reports it as a failed test) with a
message that says what was wrong and, where it helps, what to look at. Checks are strict: a
result must have the exact type, dtype and shape asked for; a result that only broadcasts to
the right shape, a numpy array in place of a tensor, or a NaN never passes.

Numbers that describe how far a result is from the expected one (max abs error, codes that
differ, MSE of the dequantized values) are handed to `record_metrics`. The autograder collects
them for the report; inside a notebook they are simply ignored. A tensor check that fails also
hands its tensors to `collect_failure`'s sink (a `Failure`), so the autograder can draw what went
wrong; inside a notebook nothing is kept.

Tolerances follow §7 of the course contract (docs/course.md in the grader's repository).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import math
from collections.abc import Iterator
from typing import Any

import torch

__all__ = [
    "CheckFailed",
    "Failure",
    "collect_failure",
    "collect_metrics",
    "record_metrics",
    "expect_tensor",
    "expect_codes",
    "expect_close",
    "expect_float",
    "expect_int",
    "expect_tuple",
    "expect_raises",
    "expect_w8a16_output",
    "W8A16_TOLERANCE",
    "expect_scales",
    "expect_bytes",
    "expect_output",
    "near_tie",
    "TIE_WINDOW",
]

#: Codes may differ by one where float64 `r/s + z` lies this close to a .5 boundary (§7).
TIE_WINDOW = 1e-3
#: How many differing positions a message lists.
_SHOWN = 3
#: Tensors up to this many elements are printed in full in public messages.
_SMALL = 25

_metrics: contextvars.ContextVar[dict | None] = contextvars.ContextVar("quantlab_metrics", default=None)
_failures: contextvars.ContextVar[list | None] = contextvars.ContextVar("quantlab_failures", default=None)


class CheckFailed(AssertionError):
    """A result that does not meet the lab's specification; the message is for the student."""


@contextlib.contextmanager
def collect_metrics() -> Iterator[dict]:
    """Collect the metrics that checks record while the block runs (used by the autograder)."""
    sink: dict = {}
    token = _metrics.set(sink)
    try:
        yield sink
    finally:
        _metrics.reset(token)


def record_metrics(**values: float) -> None:
    sink = _metrics.get()
    if sink is None:
        return
    for name, value in values.items():
        if value is not None and math.isfinite(float(value)):
            sink[name] = value if type(value) is int else float(value)


@dataclasses.dataclass
class Failure:
    """The tensors of a failed tensor check, as the check saw them (the autograder draws them).

    `kind` is "codes" (integer codes, dequantized with `scale` and `zero_point` when the check
    had them), "values" (floats) or "scales" (one scale per `unit`: "channel", "group", "row").
    `original` is the real tensor the codes came from, when the check can know it. `reveal` is
    False for hidden cases: then only the student's error may be shown.
    """

    kind: str
    what: str
    got: torch.Tensor
    want: torch.Tensor
    reveal: bool
    original: torch.Tensor | None = None
    scale: torch.Tensor | None = None
    zero_point: float = 0.0
    unit: str | None = None


@contextlib.contextmanager
def collect_failure() -> Iterator[list[Failure]]:
    """Collect the `Failure` of every tensor check that fails while the block runs (the last one raised)."""
    sink: list[Failure] = []
    token = _failures.set(sink)
    try:
        yield sink
    finally:
        _failures.reset(token)


def _record_failure(failure: Failure) -> None:
    sink = _failures.get()
    if sink is not None:
        sink.append(failure)


# Types ----------------------------------------------------------------------------------------------

def _type_name(value: Any) -> str:
    cls = type(value)
    if getattr(cls, "describes_foreign_value", False):
        # The autograder's stand-in for a value that could not cross from the student's process.
        return str(value.type)
    module = cls.__module__
    if module in ("builtins", None):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"


def _shape(shape: Any) -> tuple[int, ...]:
    return tuple(int(n) for n in shape)


def expect_tensor(got: Any, *, what: str, dtype: torch.dtype, shape: Any) -> torch.Tensor:
    """`got` must be a plain torch.Tensor of exactly this dtype and shape, with no NaN or inf."""
    if type(got) is not torch.Tensor:
        hint = ""
        if _type_name(got).startswith("numpy"):
            hint = " Keep the computation in torch (for example torch.round, not np.round)."
        elif isinstance(got, torch.Tensor):
            hint = " Return a plain torch.Tensor, not a subclass."
        elif got is None:
            hint = " Did you forget a `return` statement?"
        raise CheckFailed(f"The {what} should be a torch.Tensor, but it is a {_type_name(got)}.{hint}")
    if got.dtype != dtype:
        raise CheckFailed(
            f"The {what} has dtype {got.dtype}, but it should be {dtype}."
            + (" Cast at the end with .to(dtype)." if not dtype.is_floating_point else "")
        )
    if _shape(got.shape) != _shape(shape):
        raise CheckFailed(
            f"The {what} has shape {list(got.shape)}, but it should be {list(_shape(shape))}. "
            "A result that only broadcasts to the right shape is not accepted."
        )
    if (got.is_floating_point() or got.is_complex()) and not bool(torch.isfinite(got).all()):
        bad = int((~torch.isfinite(got)).sum())
        raise CheckFailed(f"The {what} contains {bad} NaN or infinite value(s).")
    return got


def expect_tuple(got: Any, length: int, *, what: str) -> tuple:
    """`got` must be a tuple of `length` items (as `return a, b` gives)."""
    if type(got) is not tuple:
        raise CheckFailed(
            f"The function should return a tuple of {length} values ({what}), "
            f"but it returned a {_type_name(got)}."
        )
    if len(got) != length:
        raise CheckFailed(
            f"The function should return {length} values ({what}), but it returned {len(got)}."
        )
    return got


def expect_float(got: Any, want: float, *, what: str, rtol: float = 1e-6, reveal: bool = True,
                 metric: str = "scale_rel_error") -> float:
    """A Python float within `rtol` of `want` (scales: rtol 1e-6, atol 0); records the relative error."""
    if type(got) is not float:
        hint = " Use .item() to turn a one-element tensor into a Python float." if isinstance(got, torch.Tensor) else ""
        raise CheckFailed(f"The {what} should be a Python float, but it is a {_type_name(got)}.{hint}")
    if not math.isfinite(got):
        raise CheckFailed(f"The {what} is {got}; it should be a finite number.")
    error = abs(got - want)
    record_metrics(**{metric: error / abs(want) if want else error})
    # Written as `not (error <= ...)` so a NaN or infinite expected value never passes.
    if not (math.isfinite(want) and error <= rtol * abs(want)):
        expected = f", expected {want!r}" if reveal else ""
        raise CheckFailed(f"The {what} is {got!r}{expected} (relative tolerance {rtol:g}).")
    return got


def expect_int(got: Any, want: int, *, what: str, reveal: bool = True, metric: str = "zero_point_error") -> int:
    """A Python int equal to `want` (zero points are exact); records how far off it is."""
    if type(got) is not int:
        hint = ""
        if isinstance(got, float):
            hint = " Round it to the nearest integer with int(round(z))."
        elif isinstance(got, torch.Tensor):
            hint = " Use int(...) or .item() to return a Python int."
        raise CheckFailed(f"The {what} should be a Python int, but it is a {_type_name(got)}.{hint}")
    record_metrics(**{metric: abs(got - want)})
    if got != want:
        expected = f", expected {want}" if reveal else ""
        raise CheckFailed(f"The {what} is {got}{expected}.")
    return got


# Tensors --------------------------------------------------------------------------------------------

def near_tie(exact: torch.Tensor, window: float = TIE_WINDOW) -> torch.Tensor:
    """Where float64 values `r/s + z` lie within `window` of a .5 rounding boundary.

    The window also grows to 4 float32 ulps of the value: for int16 codes near 32767, float32
    division alone moves `r/s` by more than 1e-3. Within the int8/uint8 range this never exceeds
    1e-3, so §7's rule is unchanged there.
    """
    exact = exact.double()
    widened = torch.clamp(exact.abs() * 2.0**-21, min=window)
    return ((exact - torch.floor(exact)) - 0.5).abs() <= widened


def _index(flat_index: int, shape: tuple[int, ...]) -> list[int]:
    index = []
    for size in reversed(shape):
        index.append(flat_index % size if size else 0)
        flat_index //= max(size, 1)
    return list(reversed(index))


def _listing(tensor: torch.Tensor) -> str:
    return str(tensor.tolist())


def _positions(got: torch.Tensor, want: torch.Tensor, bad: torch.Tensor, reveal: bool) -> str:
    shape = _shape(want.shape)
    flat = torch.nonzero(bad.reshape(-1)).flatten()[:_SHOWN].tolist()
    parts = []
    for i in flat:
        g = got.reshape(-1)[i].item()
        w = want.reshape(-1)[i].item()
        where = _index(i, shape) if shape else []
        parts.append(f"at {where}: yours {g}" + (f", expected {w}" if reveal else ""))
    return "; ".join(parts)


def _with_details(message: str, got: torch.Tensor, want: torch.Tensor, reveal: bool, hint: str) -> str:
    """A failure message, with both tensors in full when they are small and public, and the hint."""
    if reveal and want.numel() <= _SMALL:
        message += f"\nYours:    {_listing(got)}\nExpected: {_listing(want)}"
    if hint:
        message += f"\nHint: {hint}"
    return message


def expect_codes(
    got: Any,
    want: torch.Tensor,
    *,
    what: str = "quantized tensor",
    exact: torch.Tensor | None = None,
    scale: Any = None,
    zero_point: Any = 0,
    reveal: bool = True,
    hint: str = "",
) -> torch.Tensor:
    """Integer codes, exact except ±1 where `exact` (float64 `r/s+z`) is within 1e-3 of a tie.

    With `scale` (a float or a tensor that broadcasts against the codes), the MSE between the
    dequantized student codes and the dequantized expected codes is recorded too.
    """
    got = expect_tensor(got, what=what, dtype=want.dtype, shape=want.shape)
    difference = got.long() - want.long()
    distance = difference.abs()
    wrong = difference != 0
    any_wrong = bool(wrong.any())
    got_values = got.double()
    bad = wrong
    if exact is not None:
        exact = exact.reshape(want.shape).double()
        info = torch.iinfo(want.dtype)
        if any_wrong:  # where every code is right, no tie needs looking at
            # Only the two neighbours of the tie are valid roundings, clamped as the codes are.
            floor = torch.floor(exact)
            below = floor.clamp(info.min, info.max)
            above = (floor + 1).clamp(info.min, info.max)
            neighbour = (got_values == below) | (got_values == above)
            bad = wrong & ~((distance == 1) & near_tie(exact) & neighbour)
    metrics = {
        "mismatched_codes": int(wrong.sum()),
        "max_code_difference": int(distance.max()) if difference.numel() else 0,
    }
    if scale is not None:
        scale_t = torch.as_tensor(scale, dtype=torch.float64)
        dq_got = scale_t * (got_values - zero_point)
        dq_want = scale_t * (want.double() - zero_point)
        metrics["dequantized_mse"] = float((dq_got - dq_want).square().mean()) if got.numel() else 0.0
    record_metrics(**metrics)
    if bool(bad.any()):
        _record_failure(_codes_failure(what, got, want, reveal, exact, scale, zero_point))
        n_bad, n = int(bad.sum()), want.numel()
        message = (f"{n_bad} of {n} codes in the {what} differ from the expected ones "
                   f"({_positions(got, want, bad, reveal)}).")
        raise CheckFailed(_with_details(message, got, want, reveal, hint))
    return got


def _codes_failure(what, got, want, reveal, exact, scale, zero_point) -> Failure:
    """A failed codes check; with a scale, `original` is `s * (exact - z)`, the real tensor quantized."""
    scale_t = None if scale is None else torch.as_tensor(scale, dtype=torch.float64)
    original = None
    if exact is not None and scale_t is not None:
        original = scale_t * (exact.double() - float(zero_point))
    return Failure("codes", what, got, want, reveal, original=original, scale=scale_t, zero_point=float(zero_point))


def expect_close(
    got: Any,
    want: torch.Tensor,
    *,
    what: str,
    rtol: float = 1e-6,
    atol: float = 0.0,
    reveal: bool = True,
    hint: str = "",
    unit: str | None = None,
) -> torch.Tensor:
    """Floating values with `|got - want| <= atol + rtol*|want|` everywhere; records the error.

    `unit` says that the values are scales, one per `unit` ("row", for example).
    """
    got = expect_tensor(got, what=what, dtype=want.dtype, shape=want.shape)
    want_values = want.double()
    error = (got.double() - want_values).abs()
    max_error = float(error.max()) if error.numel() else 0.0
    record_metrics(max_abs_error=max_error, mse=float(error.square().mean()) if error.numel() else 0.0)
    # Written as `~(error <= ...)` so a NaN or infinite expected value never passes.
    bad = ~(error <= atol + rtol * want_values.abs()) | ~torch.isfinite(want)
    if bool(bad.any()):
        _record_failure(Failure("scales" if unit else "values", what, got, want, reveal, unit=unit))
        n_bad, n = int(bad.sum()), want.numel()
        message = (
            f"{n_bad} of {n} values in the {what} are off (largest error {max_error:.6g}; "
            f"{_positions(got, want, bad, reveal)})."
        )
        raise CheckFailed(_with_details(message, got, want, reveal, hint))
    return got


#: §7: `max|y - y_ref| <= tol * max|y_ref|` against a float64 reference, by activation dtype.
W8A16_TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1.5e-2}


def w8a16_ground_truth(input, int8_weights, scales, bias=None) -> torch.Tensor:
    """`x @ (W * s[:, None]).T + b` in float64: what a W8A16 layer's output approximates."""
    weights = int8_weights.double() * scales.double().reshape(-1, 1)
    output = input.double() @ weights.T
    return output if bias is None else output + bias.double().reshape(-1)


def expect_w8a16_output(got: Any, input: torch.Tensor, int8_weights: torch.Tensor, scales: torch.Tensor,
                        bias: torch.Tensor | None = None, *, what: str, reveal: bool = True,
                        hint: str = "") -> torch.Tensor:
    """A W8A16 output: the dtype torch gives `F.linear(input, W) * scales + bias`, the input's shape
    with the last dimension out_features, and within §7's tolerance of the float64 result."""
    dtypes = [input.dtype, scales.dtype] + ([bias.dtype] if bias is not None else [])
    dtype = functools.reduce(torch.promote_types, dtypes)
    # The least precise of the activations and the output sets how close a valid result comes.
    tolerance = max(W8A16_TOLERANCE.get(d, 1e-5) for d in (input.dtype, dtype))
    want = w8a16_ground_truth(input, int8_weights, scales, bias)
    return expect_output(got, want, what=what, tol=tolerance, dtype=dtype, reveal=reveal, hint=hint)


def expect_scales(got: Any, want: torch.Tensor, *, what: str, layout: str, rtol: float = 1e-6,
                  reveal: bool = True, hint: str = "", unit: str = "channel") -> torch.Tensor:
    """A float32 tensor of scales in exactly `want`'s broadcast shape, each within `rtol`; one per `unit`.

    `layout` says in words what the shape holds (for example "one scale per row, as a column"):
    a scale with the right values in another shape is the commonest slip, so its message
    explains the shape instead of only naming it.
    """
    if type(got) is torch.Tensor and got.dtype == want.dtype and _shape(got.shape) != _shape(want.shape):
        wanted = list(_shape(want.shape))
        message = f"The {what} has shape {list(got.shape)}, but it should be {wanted}: {layout}."
        if got.numel() == want.numel():
            message += (
                f" It holds {want.numel()} value{'s' if want.numel() != 1 else ''}, as it should, but in shape "
                f"{list(got.shape)} it broadcasts "
                "against the wrong dimension of the tensor (or not at all), so each value is divided by the "
                "wrong scale. Check that each scale is the largest |r| of one slice along the dim you were "
                f"given, then reshape, for example with scale.view({', '.join(map(str, wanted))})."
            )
        else:
            message += f" It should hold {want.numel()} scales, one for each slice, but it holds {got.numel()}."
        raise CheckFailed(message + (f"\nHint: {hint}" if hint else ""))
    got = expect_tensor(got, what=what, dtype=want.dtype, shape=want.shape)
    error = (got.double() - want.double()).abs()
    relative = error / want.double().abs()
    record_metrics(scale_rel_error=float(relative.max()) if relative.numel() else 0.0)
    # Written as `~(error <= ...)` so a NaN or infinite expected value never passes.
    bad = ~(error <= rtol * want.double().abs()) | ~torch.isfinite(want)
    if bool(bad.any()):
        _record_failure(Failure("scales", what, got, want, reveal, unit=unit))
        message = (
            f"{int(bad.sum())} of {want.numel()} values in the {what} are off (relative tolerance {rtol:g}; "
            f"{_positions(got, want, bad, reveal)})."
        )
        raise CheckFailed(_with_details(message, got, want, reveal, hint))
    return got


def _bits(value: int) -> str:
    return f"{value} (0b{value:08b})"


def expect_bytes(got: Any, want: torch.Tensor, *, what: str, reveal: bool = True, hint: str = "") -> torch.Tensor:
    """uint8 values that must match bit for bit; differing bytes are shown in binary."""
    got = expect_tensor(got, what=what, dtype=want.dtype, shape=want.shape)
    wrong = got != want
    record_metrics(mismatched_codes=int(wrong.sum()))
    if bool(wrong.any()):
        _record_failure(Failure("codes", what, got, want, reveal))
        parts = []
        for i in torch.nonzero(wrong.reshape(-1)).flatten()[:_SHOWN].tolist():
            part = f"at [{i}]: yours {_bits(int(got.reshape(-1)[i]))}"
            parts.append(part + (f", expected {_bits(int(want.reshape(-1)[i]))}" if reveal else ""))
        message = f"{int(wrong.sum())} of {want.numel()} values in the {what} differ ({'; '.join(parts)})."
        raise CheckFailed(_with_details(message, got, want, reveal, hint))
    return got


def expect_output(got: Any, want: torch.Tensor, *, what: str, tol: float, dtype: torch.dtype = torch.float32,
                  reveal: bool = True, hint: str = "") -> torch.Tensor:
    """A layer output of `dtype` with `max|got - want| <= tol * max|want|` (docs/course.md §7, forward passes).

    `want` is a float64 ground truth; the metric `relative_error` is the left side over `max|want|`.
    """
    got = expect_tensor(got, what=what, dtype=dtype, shape=want.shape)
    error = (got.double() - want.double()).abs()
    max_error = float(error.max()) if error.numel() else 0.0
    size = float(want.double().abs().max()) if want.numel() else 0.0
    record_metrics(max_abs_error=max_error, relative_error=max_error / size if size else max_error)
    bound = tol * size
    bad = ~(error <= bound) | ~torch.isfinite(want.double())
    if bool(bad.any()):
        _record_failure(Failure("values", what, got, want, reveal))
        message = (
            f"{int(bad.sum())} of {want.numel()} values in the {what} are off (largest error {max_error:.6g}, "
            f"allowed {bound:.3g}, that is {tol:g} of the largest output; "
            f"{_positions(got, want.to(got.dtype), bad, reveal)})."
        )
        raise CheckFailed(_with_details(message, got, want.to(got.dtype), reveal, hint))
    return got


@contextlib.contextmanager
def expect_raises(*kinds: type[BaseException], what: str) -> Iterator[None]:
    """The block must raise one of `kinds` (for inputs the lab defines as invalid)."""
    names = " or ".join(k.__name__ for k in kinds)
    try:
        yield
    except kinds:
        return
    except Exception as error:  # any other exception is the student's, reported
        raise CheckFailed(f"{what}: expected {names}, but got {type(error).__name__}: {error}") from None
    raise CheckFailed(f"{what}: expected {names}, but nothing was raised.")
