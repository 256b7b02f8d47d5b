"""Pictures of a failing test for the student's report (part of step 5, report), and their words.

Each picture is drawn from a test's `capture` (`grader.capture`) with matplotlib's Agg canvas, in
the course's style (`quantlab.plotting.heatmap`: coolwarm values, red errors, numbers written in
small tensors), and embedded in the HTML as a base64 PNG, so the report stands alone. Only failing
tests with a capture are drawn, at most `MAX_FIGURES` per report, small and at a low resolution:
a report stays well under 1 MB and renders in a fraction of a second per figure. `describe` says
in words what a picture shows, for the Markdown report and as the picture's caption.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import logging

import torch

from grader.labs import make_tests_importable
from grader.results import SubmissionResult, TestResult

__all__ = ["MAX_FIGURES", "describe", "figure_png", "report_figures"]

log = logging.getLogger(__name__)

#: Pictures per report, at most (the first failing tests with a capture, in report order).
MAX_FIGURES = 6
_DPI = 72
_PANEL = (3.3, 3.0)  # inches per panel

_SHOWS = {"dequantized": "dequantized values", "codes": "codes", "values": "values"}


def report_figures(result: SubmissionResult) -> dict[int, dict]:
    """id(test) -> {"src": data URI of the PNG, "text": its words}, for the report's failing tests."""
    figures: dict[int, dict] = {}
    for test in _captured(result):
        if len(figures) == MAX_FIGURES:
            break
        try:
            png = figure_png(test.capture)
        except Exception:  # a picture that cannot be drawn never stops the report (nor the batch)
            log.exception("could not draw the picture of %s", test.name)
            continue
        if png:
            figures[id(test)] = {"src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
                                 "text": describe(test.capture)}
    return figures


def _captured(result: SubmissionResult) -> list[TestResult]:
    return [t for q in result.questions for t in q.tests if t.capture and not t.passed]


# Words ---------------------------------------------------------------------------------------------

def describe(capture: dict) -> str:
    """What the picture of `capture` shows, in a sentence or two (the same picture's words in Markdown)."""
    try:
        if capture.get("kind") == "scales":
            return _describe_scales(capture)
        return _describe_tensors(capture)
    except (KeyError, TypeError, ValueError, IndexError):
        return ""


def _describe_tensors(capture: dict) -> str:
    shows = _SHOWS.get(capture["shows"], "values")
    where = _where(capture)
    largest = _number(capture.get("largest_error"))
    if capture.get("expected") is not None:
        parts = (["the original tensor"] if capture.get("original") is not None else []) + [
            f"your {shows}", f"the expected {shows}", "the absolute error"]
        text = f"The picture shows {where}: {_joined(parts)} (largest error {largest})."
    else:
        text = (f"The picture shows the absolute error of your {shows} over {where} (largest error {largest}). "
                "The expected values of a hidden test are not shown.")
    differences = capture.get("code_differences")
    if differences:
        total = sum(n for _, n in differences)
        off = [(d, n) for d, n in differences if d != 0]
        if off:
            sign = capture.get("expected") is not None
            listed = ", ".join(f"{n} by {d:+d}" if sign else f"{n} by {d}" for d, n in off[:6])
            more = " and more" if len(off) > 6 else ""
            text += f" Codes that differ from the expected ones: {listed}{more} (of {total})."
    return text


def _describe_scales(capture: dict) -> str:
    unit, errors = capture["unit"], capture["relative_error"]
    units, per = int(capture["units"]), int(capture["per_bar"])
    finite = [(i, e) for i, e in enumerate(errors) if e is not None]
    worst_index, worst = max(finite, key=lambda pair: pair[1]) if finite else (0, 0.0)
    off = sum(1 for _, e in finite if e > 1e-6)
    bars = f"each bar is the largest error of {per} consecutive {unit}s, " if per > 1 else ""
    counted = f"{off} of {len(errors)} bars" if per > 1 else f"{off} of {units} {unit}s"
    where = f"{unit}s {worst_index * per} to {min(units, (worst_index + 1) * per) - 1}" if per > 1 else \
        f"{unit} {worst_index}"
    text = (f"The picture shows the relative error of your scale for each of the {units} {unit}s ({bars}"
            f"{counted} off by more than 1e-6; the largest, {_number(worst)}, in {where}).")
    if capture.get("expected") is not None:
        text += " A second panel draws your scales beside the expected ones."
    return text


def _where(capture: dict) -> str:
    shape = "×".join(str(n) for n in capture["shape"]) or "scalar"
    rows, columns = capture["window"]["rows"], capture["window"]["columns"]
    total_rows = capture["shape"][0] if len(capture["shape"]) > 1 else 1
    total_columns = _product(capture["shape"]) // max(total_rows, 1)
    if rows == [0, total_rows] and columns == [0, total_columns]:
        return f"the whole {shape} tensor"
    view = "" if len(capture["shape"]) == 2 else f" (seen as {total_rows}×{total_columns})"
    return (f"rows {rows[0]} to {rows[1] - 1} and columns {columns[0]} to {columns[1] - 1} of the {shape} "
            f"tensor{view}, around its largest error")


def _product(shape: list) -> int:
    total = 1
    for n in shape:
        total *= int(n)
    return total


def _joined(parts: list[str]) -> str:
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]


def _number(value) -> str:
    return "unknown" if value is None else format(float(value), ".4g")


# Pictures ------------------------------------------------------------------------------------------

def figure_png(capture: dict) -> bytes:
    """The PNG of one capture (b"" when it holds nothing to draw). Students who make the same mistake
    get the same capture of a seeded hidden case, so a batch draws each distinct picture once."""
    return _figure_png(json.dumps(capture, sort_keys=True))


@functools.lru_cache(maxsize=256)
def _figure_png(key: str) -> bytes:
    capture = json.loads(key)
    try:
        panels = _scale_panels(capture) if capture.get("kind") == "scales" else _tensor_panels(capture)
    except (KeyError, TypeError, ValueError):
        return b""
    return _draw(panels, _plain(capture.get("what", ""))) if panels else b""


def _tensor_panels(capture: dict) -> list:
    shows = _SHOWS.get(capture["shows"], "values")
    values = [(title, capture.get(key)) for key, title in (
        ("original", "Original tensor"), ("yours", f"Your {shows}"), ("expected", f"Expected {shows}"))]
    values = [(title, _tensor(v)) for title, v in values if v is not None]
    low = min((float(torch.nan_to_num(v, nan=0.0).min()) for _, v in values), default=None)
    high = max((float(torch.nan_to_num(v, nan=0.0).max()) for _, v in values), default=None)
    fmt = ".0f" if capture["shows"] == "codes" else ".2f"
    panels = [("heatmap", title, v, "coolwarm", low, high, fmt) for title, v in values]
    panels.append(("heatmap", "Absolute error", _tensor(capture["abs_error"]), "Reds", 0.0,
                   None, ".2g"))
    if capture.get("code_differences"):
        panels.append(("differences", capture["code_differences"], capture.get("expected") is not None))
    return panels


def _scale_panels(capture: dict) -> list:
    panels = [("scale_error", capture["relative_error"], capture["unit"], int(capture["per_bar"]))]
    if capture.get("yours") is not None and capture.get("expected") is not None:
        panels.append(("scales", capture["yours"], capture["expected"], capture["unit"]))
    return panels


def _tensor(rows: list) -> torch.Tensor:
    return torch.tensor([[float("nan") if v is None else v for v in row] for row in rows], dtype=torch.float64)


def _draw(panels: list, title: str) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    make_tests_importable()
    from quantlab.plotting import heatmap

    figure = Figure(figsize=(_PANEL[0] * len(panels), _PANEL[1] + 0.4), dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (kind, *args) in zip(axes, panels, strict=True):
        if kind == "heatmap":
            panel_title, values, cmap, low, high, fmt = args
            image = heatmap(ax, values, panel_title, cmap, vmin=low, vmax=high, fmt=fmt)
            if cmap == "Reds":  # the error's size is read from its colour bar
                figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        elif kind == "differences":
            _differences(ax, *args)
        elif kind == "scale_error":
            _scale_error(ax, *args)
        else:
            _scales(ax, *args)
    figure.suptitle(title, fontsize=10)
    return png_of(figure, dpi=_DPI)


def png_of(figure, dpi: float | str = "figure") -> bytes:
    """`figure` laid out tight and drawn as PNG bytes."""
    figure.tight_layout()
    # tight_layout leaves a placeholder layout engine behind, for which savefig draws the whole figure
    # once more before drawing it for real (a tenth of a picture's time); the layout is already fixed.
    figure.set_layout_engine(None)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _differences(ax, counts: list, signed: bool) -> None:
    ax.bar([d for d, _ in counts], [n for _, n in counts], width=0.8, log=True,
           color=["#9aa5b1" if d == 0 else "#c0262d" for d, _ in counts])
    ax.set_ylim(bottom=0.5)
    ax.set_title("Code differences" if signed else "Size of code differences")
    ax.set_xlabel("yours − expected" if signed else "|yours − expected|")
    ax.set_ylabel("codes")
    ax.xaxis.get_major_locator().set_params(integer=True)


def _scale_error(ax, errors: list, unit: str, per: int) -> None:
    values = [0.0 if e is None else e for e in errors]
    ax.bar(range(len(values)), values, width=1.0, color="#c0262d")
    ax.set_title(f"Relative scale error per {unit}")
    ax.set_xlabel(f"{unit}" + (f" (bars of {per})" if per > 1 else ""))
    ax.set_ylabel("|yours − expected| / expected")
    ax.xaxis.get_major_locator().set_params(integer=True)


def _scales(ax, yours: list, expected: list, unit: str) -> None:
    yours, expected = ([float("nan") if v is None else v for v in values] for values in (yours, expected))
    ax.plot(range(len(expected)), expected, "o", color="#1a7f37", label="expected", markersize=5)
    ax.plot(range(len(yours)), yours, "x", color="#c0262d", label="yours", markersize=5)
    ax.set_title(f"Scales per {unit}")
    ax.set_xlabel(unit)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8)


def _plain(text: object) -> str:
    """A title matplotlib draws as it is: `$` would start mathtext."""
    return str(text)[:120].replace("$", r"\$")
