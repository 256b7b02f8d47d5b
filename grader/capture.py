"""What a failing tensor test shows: a small, JSON-ready copy of its tensors (part of judging, step 3).

A tensor check that fails hands its tensors to the judge (`quantlab.checks.Failure`). The judge
keeps this copy of them in the test's result, so that the report can draw what went wrong:

- a window of at most `MAX_SIDE` x `MAX_SIDE` values of the tensor (seen as a matrix: first
  dimension by the rest), centred on the largest error, so a big tensor is shown at full
  resolution where it matters: the original tensor (when the check knows it), the student's
  (dequantized) values, the expected ones and the absolute error;
- for integer codes, how many codes differ by how much, over the whole tensor;
- for scales, the relative error of each channel, group or row (at most `MAX_UNITS` bars: beyond
  that, each bar is the largest error of consecutive units).

Hidden cases keep only the student's error (absolute error, sizes of the code differences,
relative scale errors): never the expected values, the student's values or the original, from
which the expected values could be read back. Values keep 4 significant digits, so a result
stays small and two identical runs write identical files.
"""

from __future__ import annotations

import logging
import math
from collections import Counter

import torch

__all__ = ["MAX_SIDE", "MAX_UNITS", "capture"]

log = logging.getLogger(__name__)

#: Largest window drawn of a tensor, per side.
MAX_SIDE = 24
#: Most scale errors kept (one bar each).
MAX_UNITS = 256


def capture(failure, *, hidden: bool) -> dict | None:
    """The JSON-ready record of a failed check (`quantlab.checks.Failure`), or None if there is nothing to draw."""
    public = bool(failure.reveal) and not hidden
    if failure.got.shape != failure.want.shape or failure.want.numel() < 2:
        return None
    try:
        return _scales(failure, public) if failure.kind == "scales" else _tensors(failure, public)
    except Exception:  # a picture is never worth a grade: the test keeps its verdict and message
        log.exception("could not keep the tensors of a failed check (%s)", failure.what)
        return None


def _tensors(failure, public: bool) -> dict:
    got, want = failure.got.detach().double(), failure.want.detach().double()
    shows = "values"
    if failure.kind == "codes":
        shows = "codes"
        if failure.scale is not None:
            shows = "dequantized"
            got = failure.scale * (got - failure.zero_point)
            want = failure.scale * (want - failure.zero_point)
    error = (got - want).abs()
    rows, columns = _window(_matrix(error))
    original = failure.original if public and failure.original is not None else None
    return {
        "kind": failure.kind,
        "what": str(failure.what)[:200],
        "shape": list(failure.want.shape),
        "shows": shows,
        "window": {"rows": [rows.start, rows.stop], "columns": [columns.start, columns.stop]},
        "original": _cut(original, rows, columns),
        "yours": _cut(got, rows, columns) if public else None,
        "expected": _cut(want, rows, columns) if public else None,
        "abs_error": _cut(error, rows, columns),
        "largest_error": _round(float(error.max())),
        "code_differences": _differences(failure, public) if failure.kind == "codes" else None,
    }


def _scales(failure, public: bool) -> dict:
    got, want = failure.got.detach().double().reshape(-1), failure.want.detach().double().reshape(-1)
    relative = (got - want).abs() / want.abs()
    per = max(1, math.ceil(relative.numel() / MAX_UNITS))
    return {
        "kind": "scales",
        "what": str(failure.what)[:200],
        "shape": list(failure.want.shape),
        "unit": failure.unit or "channel",
        "units": relative.numel(),
        "per_bar": per,
        "relative_error": _list(_pooled(relative, per)),
        "yours": _list(got) if public and per == 1 else None,
        "expected": _list(want) if public and per == 1 else None,
    }


def _matrix(tensor: torch.Tensor) -> torch.Tensor:
    """A tensor as the course draws it: rows along the first dimension, everything else in columns."""
    if tensor.dim() == 0:
        return tensor.reshape(1, 1)
    if tensor.dim() == 1:
        return tensor.reshape(1, -1)
    return tensor.reshape(tensor.shape[0], -1)


def _window(error: torch.Tensor) -> tuple[range, range]:
    """At most MAX_SIDE rows and columns around the largest error (the first one, for identical runs)."""
    finite = torch.nan_to_num(error, nan=math.inf)
    flat = int(torch.argmax(finite.reshape(-1)))
    row, column = divmod(flat, error.shape[1])
    return _around(row, error.shape[0]), _around(column, error.shape[1])


def _around(index: int, size: int) -> range:
    start = min(max(0, index - MAX_SIDE // 2), max(0, size - MAX_SIDE))
    return range(start, min(size, start + MAX_SIDE))


def _cut(tensor: torch.Tensor | None, rows: range, columns: range) -> list | None:
    if tensor is None:
        return None
    window = _matrix(tensor.double())[rows.start:rows.stop, columns.start:columns.stop]
    return [_list(row) for row in window]


def _differences(failure, public: bool) -> list[list[int]]:
    """[difference, how many codes] over the whole tensor; only the sizes of the differences when hidden."""
    difference = failure.got.long() - failure.want.long()
    if not public:
        difference = difference.abs()
    counts = Counter(difference.reshape(-1).tolist())
    return [[int(d), int(n)] for d, n in sorted(counts.items())]


def _pooled(values: torch.Tensor, per: int) -> torch.Tensor:
    if per == 1:
        return values
    padded = torch.nn.functional.pad(values, (0, -values.numel() % per), value=0.0)
    return padded.reshape(-1, per).max(dim=1).values


def _list(values: torch.Tensor) -> list:
    return [_round(v) for v in values.tolist()]


def _round(value: float) -> float | None:
    """4 significant digits; None for NaN or infinity (results are strict JSON)."""
    return float(f"{value:.4g}") if math.isfinite(value) else None
