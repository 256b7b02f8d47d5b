"""Feedback reports: one page per student (HTML and Markdown) and a class summary per lab.

Templates live in the top-level `templates/` folder; they read the records of `grader.results`
by attribute and compare statuses with its enums. Everything in a result that a student can
influence (messages, notes, the student id, even metric names) is treated as untrusted: HTML
templates are autoescaped, the Markdown template escapes through the `md` and `fence` filters,
and every message is capped by `cut` before it is shown.
"""

from __future__ import annotations

import base64
import math
import re
import statistics
from collections import Counter
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from grader import pictures
from grader.labs import ROOT
from grader.results import QuestionResult, QuestionStatus, SubmissionResult, SubmissionStatus
from grader.sandbox import RLIMITS, caps

__all__ = [
    "TEMPLATES_DIR",
    "MAX_MESSAGE_CHARS",
    "CUT_MARKER",
    "render_student_report",
    "render_summary",
    "format_metric_value",
    "format_metrics",
    "format_points",
    "md_fence",
    "md_inline",
    "truncate_message",
    "histogram_png",
    "helper_fault",
    "memory_cap_note",
]

TEMPLATES_DIR = ROOT / "templates"
MAX_MESSAGE_CHARS = 4000
CUT_MARKER = "… (cut)"
#: Notes beyond this many are summarised as "… and N more notes".
MAX_NOTES = 50
#: Short inline strings (student id, test names) are capped harder than messages.
MAX_INLINE_CHARS = 200

_METRIC_LABELS = {
    "max_abs_error": "max abs error",
    "scale_rel_error": "scale rel error",
    "zero_point_error": "zero point error",
    "mismatched_codes": "mismatched codes",
    "max_code_difference": "max code difference",
    "mse": "MSE",
    "dequantized_mse": "MSE (dequantized)",
}
_STATUS_LABELS = {
    QuestionStatus.OK: "Ran",
    QuestionStatus.TIMEOUT: "Timed out",
    QuestionStatus.CRASHED: "Crashed",
    QuestionStatus.MISSING: "Not found",
    QuestionStatus.NOT_RUN: "Not run",
    SubmissionStatus.GRADED: "Graded",
    SubmissionStatus.UNREADABLE: "Unreadable",
    SubmissionStatus.INTERNAL_ERROR: "Not graded yet (the grader failed)",
}
# Escaped everywhere: what can start inline structure (emphasis, links, images, raw HTML,
# entities, code spans, table cells, strikethrough, math, headings). ':' before '//' and '.'
# after 'www' are escaped so GFM does not turn a student's URL into a link.
_MD_SPECIAL = re.compile(r"[\\`*_\[\]<>!|~&#$]|:(?=//)|(?<=(?i:www))\.")
# Only structural at the start of a line and before a space: list markers, setext underlines.
_MD_LINE_START = re.compile(r"^(?:[-+=]|\d{1,9}[.)])(?=\s|$)")


# Filters -------------------------------------------------------------------------------------------

def truncate_message(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` as a string of at most `limit` characters (plus a visible cut marker)."""
    text = "" if text is None else str(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) <= limit:
        return text
    return text[:limit] + " " + CUT_MARKER


def md_inline(text: object, limit: int = MAX_INLINE_CHARS) -> str:
    """Escape an untrusted string for use inside a line of Markdown (no structure survives)."""
    text = " ".join(truncate_message(text, limit).split())
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(), text)
    return _MD_LINE_START.sub(lambda m: m.group()[:-1] + "\\" + m.group()[-1], text)


def html_code_spans(text: object, limit: int = MAX_MESSAGE_CHARS) -> Markup:
    """Escaped HTML in which `backticked` spans become <code> (for the grader's own advice)."""
    parts = truncate_message(text, limit).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: show the text as it is
        return Markup(escape("`".join(parts)))
    return Markup("").join(Markup("<code>%s</code>") % p if i % 2 else escape(p) for i, p in enumerate(parts))


def md_code_spans(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Markdown in which `backticked` spans stay code spans and everything else is escaped."""
    parts = " ".join(truncate_message(text, limit).split()).split("`")
    # Raw HTML inside a code span is inert, but an LMS might not be: such text is escaped instead.
    if len(parts) % 2 == 0 or any(set("<>&") & set(p) for p in parts[1::2]):
        return md_inline("`".join(parts), limit)
    return "".join(f"`{p}`" if i % 2 else _keep_edges(p, md_inline(p, limit)) for i, p in enumerate(parts))


def _keep_edges(original: str, escaped: str) -> str:
    """md_inline trims; keep the single spaces that separate text from a code span."""
    if not escaped:
        return original if original.isspace() else ""
    return (" " if original[:1].isspace() else "") + escaped + (" " if original[-1:].isspace() else "")


def md_fence(text: object, info: str = "text") -> str:
    """A fenced code block that `text` cannot close: the fence outruns every backtick run."""
    text = truncate_message(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text.rstrip(chr(10))}\n{fence}"


def format_metric_value(value: object) -> str:
    """Integers as integers, other floats with 4 significant digits."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".4g")
    return truncate_message(value, 40)


def _metric_order(name: str) -> tuple[int, str]:
    known = list(_METRIC_LABELS)
    return (known.index(name), "") if name in _METRIC_LABELS else (len(known), str(name))


def format_metrics(metrics: dict | None) -> str:
    """'max abs error 1.2e-05 · mismatched codes 3 · MSE (dequantized) 0.0123'."""
    if not metrics:
        return ""
    parts = []
    for name in sorted(metrics, key=_metric_order):
        label = _METRIC_LABELS.get(name) or truncate_message(name, 40).replace("_", " ")
        parts.append(f"{label} {format_metric_value(metrics[name])}")
    return " · ".join(parts)


def format_points(value: object) -> str:
    """7.0 -> '7', 2.5 -> '2.5', 1/3 -> '0.33'."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "?"
    if not math.isfinite(number):
        return "?"
    return f"{number:.2f}".rstrip("0").rstrip(".") if not number.is_integer() else str(int(number))


def percent(score: object, max_score: object) -> float | None:
    """Score as a percentage clamped to 0..100, or None when there is nothing to score."""
    try:
        score, max_score = float(score), float(max_score)
    except (TypeError, ValueError):
        return None
    if max_score <= 0 or not math.isfinite(score) or not math.isfinite(max_score):
        return None
    return max(0.0, min(100.0, 100.0 * score / max_score))


def format_percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f}%"


def status_label(status: object) -> str:
    return _STATUS_LABELS.get(str(status), truncate_message(status, 40).capitalize())


def bullets(notes: list) -> str:
    """Notes as one plain-text bullet list (for a fenced block in Markdown)."""
    shown = [f"- {truncate_message(note)}" for note in notes[:MAX_NOTES]]
    if len(notes) > MAX_NOTES:
        shown.append(f"… and {len(notes) - MAX_NOTES} more notes")
    return "\n".join(shown)


def helper_fault(question: QuestionResult, lab: str) -> str:
    """What a student reads when their own helper, not the graded function, made a question's tests fail."""
    faults = question.helpers_at_fault
    names = _and([f"`{h.name}`" for h in faults])
    where = _and([f"`{h.name}` ({'graded in this lab' if h.lab == lab else f'graded in lab {h.lab}'}, "
                  f"question `{h.question}`)" for h in faults])
    one = len(faults) == 1
    earned = (f"{format_points(question.score)} of {format_points(question.max_score)} points, instead of "
              f"{format_points(question.score_with_own_helpers or 0)} with your own "
              f"{'helper' if one else 'helpers'}")
    text = (f"Some of these tests failed because of your {where}, not because of `{question.name}` itself. "
            f"So we ran them again with a correct {names} in {'its' if one else 'their'} place, and your "
            f"`{question.name}` earned {earned}: you get those points here.")
    if question.score < question.max_score:
        text += " What still fails below comes from this function's own code."
    return text + (f" Fix {names} where {'it is' if one else 'they are'} graded, and `{question.name}` "
                   "will give the right results with your own code too.")


#: What a failed allocation says in a student's messages: Python's, torch's, the C library's and C++'s words.
_OUT_OF_MEMORY = re.compile(r"MemoryError|can't allocate memory|Cannot allocate memory|bad_alloc|out of memory",
                            re.IGNORECASE)
MEMORY_CAP_NOTE = ("Note: the grader caps the memory of each process that runs your code on its own, as address "
                   "space beyond what Python and torch take before your code runs. A memory error above means "
                   "your code asked for more than that cap.")


def memory_cap_note(result: SubmissionResult) -> str:
    """`MEMORY_CAP_NOTE` for a student whose code failed to allocate memory where no cgroup capped the sandbox
    (`caps` "rlimits": an address-space cap per process, beyond what Python and torch map); "" otherwise. Only
    then does it matter to the student which way memory was capped."""
    if caps(result.grader.isolation) != RLIMITS:
        return ""
    texts = [result.message, *result.notes,
             *(text for q in result.questions for text in (q.message, *(t.message for t in q.tests)))]
    return MEMORY_CAP_NOTE if any(_OUT_OF_MEMORY.search(str(text or "")) for text in texts) else ""


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def report_href(student: object) -> str:
    """Relative link to a student's report; the id is fully percent-encoded (no '/' or ':')."""
    return "reports/" + quote(str(student), safe="") + ".html"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "html.j2"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        cut=truncate_message,
        md=md_inline,
        fence=md_fence,
        html_code=html_code_spans,
        md_code=md_code_spans,
        metrics=format_metrics,
        metric_value=format_metric_value,
        points=format_points,
        pct=format_percent,
        status_label=status_label,
        bullets=bullets,
        report_href=report_href,
    )
    env.globals.update(percent=percent, helper_fault=helper_fault, MAX_NOTES=MAX_NOTES, QuestionStatus=QuestionStatus,
                       SubmissionStatus=SubmissionStatus, memory_cap_note=memory_cap_note)
    return env


ENV = _environment()


# Student report ------------------------------------------------------------------------------------

def render_student_report(result: SubmissionResult) -> tuple[str, str]:
    """(html, markdown) feedback for one graded submission; failing tensor tests get a picture (HTML)
    and its description (both)."""
    figures = pictures.report_figures(result)
    context = {"r": result, "figure": lambda test: figures.get(id(test)),
               "picture_words": lambda test: figures.get(id(test), {}).get("text", "")}
    html = ENV.get_template("report.html.j2").render(context)
    markdown = ENV.get_template("report.md.j2").render(context)
    return html, markdown


# Class summary ------------------------------------------------------------------------------------

def histogram_png(scores: list[float], max_score: float) -> bytes:
    """A bar chart of the score distribution as PNG bytes (Agg, no pyplot global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    top = max([max_score, *scores, 1.0])
    if top <= 20:  # one bar per whole point, centred on it
        edges = [i - 0.5 for i in range(int(math.ceil(top)) + 2)]
    else:
        edges = [top * i / 20 for i in range(21)]
    fig = Figure(figsize=(8.5, 2.8), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.hist(scores, bins=edges, color="#4f6bed", edgecolor="white")
    ax.set_xlim(edges[0], edges[-1])
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(f"score (out of {format_points(max_score)})")
    ax.set_ylabel("submissions")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return pictures.png_of(fig)


def _number(value: object) -> float:
    """A finite float, or 0.0 for anything else (the summary does arithmetic on scores)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return number if math.isfinite(number) else 0.0


def _rate(hits: int, total: int) -> dict:
    return {"hits": hits, "total": total, "percent": 100.0 * hits / total if total else 0.0}


def _question_rates(results: list[SubmissionResult]) -> list[dict]:
    """Per question: share with full marks; per test: share passed (among submissions graded on it)."""
    questions: dict[str, dict] = {}
    for result in results:
        for q in result.questions:
            if q.status is QuestionStatus.NOT_RUN:  # never graded (unreadable file): not part of any rate
                continue
            entry = questions.setdefault(q.name, {"name": q.name, "full": 0, "seen": 0,
                                                  "statuses": Counter(), "tests": {}})
            entry["seen"] += 1
            entry["full"] += _full_marks(q)
            entry["statuses"][q.status] += 1
            for t in q.tests:
                test = entry["tests"].setdefault(t.name, {"name": t.name, "hidden": t.hidden, "passed": 0, "seen": 0})
                test["seen"] += 1
                test["passed"] += bool(t.passed)
    return [
        {"name": e["name"], "rate": _rate(e["full"], e["seen"]),
         "problems": {s: n for s, n in e["statuses"].items() if s is not QuestionStatus.OK},
         "tests": [t | {"rate": _rate(t["passed"], t["seen"])} for t in e["tests"].values()]}
        for e in questions.values()
    ]


def _full_marks(question: QuestionResult) -> bool:
    return question.score >= question.max_score - 1e-9 and question.status is QuestionStatus.OK


def _misconceptions(results: list[SubmissionResult]) -> list[dict]:
    """Each catalogued mistake the class made (results' `mistake`): its title, and who made it where."""
    made: dict[str, dict] = {}
    for result in results:
        for q in result.questions:
            for mistake_id in (q.mistake or "").split(" or "):
                if not mistake_id:
                    continue
                entry = made.setdefault(mistake_id, {"id": mistake_id, "students": set(), "questions": set()})
                entry["students"].add(result.student)
                entry["questions"].add(q.name)
    titles = _mistake_titles()
    rows = [{"id": e["id"], "title": titles.get(e["id"], e["id"]), "count": len(e["students"]),
             "students": sorted(e["students"]), "questions": sorted(e["questions"])} for e in made.values()]
    return sorted(rows, key=lambda row: (-row["count"], row["id"]))


def _mistake_titles() -> dict[str, str]:
    from grader.labs import make_tests_importable

    make_tests_importable()
    try:
        import quant_mistakes
    except ImportError:  # the summary still lists the ids
        return {}
    return dict(quant_mistakes.TITLES)


#: Which metric stands for a question's error in the summary's picture, first found first.
_HEADLINE_METRICS = ("max_abs_error", "dequantized_mse", "relative_error", "scale_rel_error", "mismatched_codes",
                     "zero_point_error", "max_code_difference", "mse")


def _error_distribution(results: list[SubmissionResult]) -> list[dict]:
    """Per question and metric, each student's largest value over the question's tests, summarised."""
    values: dict[str, dict[str, dict[str, float]]] = {}
    for result in results:
        for q in result.questions:
            for t in q.tests:
                for name, value in t.metrics.items():
                    number = _number(value)
                    per_student = values.setdefault(q.name, {}).setdefault(str(name), {})
                    per_student[result.student] = max(number, per_student.get(result.student, number))
    rows = []
    for question, metrics in values.items():
        for name in sorted(metrics, key=_metric_order):
            seen = sorted(metrics[name].values())
            rows.append({"question": question, "metric": name,
                         "label": _METRIC_LABELS.get(name) or name.replace("_", " "), "count": len(seen),
                         "zero": sum(v == 0 for v in seen), "median": statistics.median(seen),
                         "p90": seen[min(len(seen) - 1, math.ceil(0.9 * len(seen)) - 1)], "max": seen[-1],
                         "values": seen})
    return rows


def _headline_rows(rows: list[dict]) -> list[dict]:
    """One row per question: the first of `_HEADLINE_METRICS` that its tests recorded."""
    chosen: dict[str, dict] = {}
    for row in rows:
        rank = _HEADLINE_METRICS.index(row["metric"]) if row["metric"] in _HEADLINE_METRICS else len(_HEADLINE_METRICS)
        best = chosen.get(row["question"])
        if best is None or rank < best["rank"]:
            chosen[row["question"]] = row | {"rank": rank}
    return list(chosen.values())


def error_distribution_png(rows: list[dict]) -> bytes:
    """One panel per question: every student's error (its headline metric), with a box plot (Agg)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    headline = _headline_rows(rows)
    if not headline:
        return b""
    fig = Figure(figsize=(3.2 * len(headline), 3.0), dpi=80)
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(headline), squeeze=False)[0]
    for ax, row in zip(axes, headline, strict=True):
        points = row["values"]
        ax.boxplot(points, widths=0.5, showfliers=False)
        ax.plot([1 + ((i % 7) - 3) * 0.05 for i in range(len(points))], points, "o", color="#4f6bed",
                alpha=0.6, markersize=4)
        positive = [v for v in points if v > 0]
        if positive and max(positive) / min(positive) > 100:
            ax.set_yscale("symlog", linthresh=min(positive))
        ax.set_title(row["question"][:40], fontsize=9)
        ax.set_ylabel(row["label"])
        ax.set_xticks([])
        ax.spines[["top", "right"]].set_visible(False)
    return pictures.png_of(fig)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else ""


def _summary_context(lab: str, results: list[SubmissionResult]) -> dict:
    results = sorted(results, key=lambda r: r.student)
    graded = [r for r in results if r.graded]  # an internal error is no grade: in no statistic
    scores = [_number(r.score) for r in graded]
    max_score = Counter(_number(r.max_score) for r in results).most_common(1)[0][0] if results else 0.0
    statuses = Counter(r.status for r in results)
    png = histogram_png(scores, max_score) if scores else b""
    errors = _error_distribution(graded)
    return {
        "lab": lab,
        "results": results,
        "count": len(results),
        "statuses": statuses,
        "max_score": max_score,
        "mean": statistics.fmean(scores) if scores else None,
        "median": statistics.median(scores) if scores else None,
        "histogram": "data:image/png;base64," + base64.b64encode(png).decode("ascii") if png else "",
        "questions": _question_rates(graded),
        "misconceptions": _misconceptions(graded),
        "errors": errors,
        "errors_picture": _data_uri(error_distribution_png(errors)),
        "isolation": Counter(r.grader.isolation for r in results),
        "versions": sorted({r.grader.version for r in results}),
    }


def _rlimits_only(results: list[SubmissionResult]) -> int:
    """How many were graded in a sandbox without a cgroup: each process capped on its own (`caps` "rlimits";
    a bare process, --unsafe-no-sandbox, has its own warning)."""
    return sum(caps(r.grader.isolation) == RLIMITS and r.grader.isolation not in ("process", "?") for r in results)


def render_summary(lab: str, results: list[SubmissionResult]) -> str:
    """HTML overview of one lab: counts, score statistics and histogram, pass rates, the mistakes the class
    made, the distribution of each question's error, students."""
    context = _summary_context(lab, results) | {
        "rlimits_only": _rlimits_only(results),
        "unprivileged": sum(r.grader.isolation.startswith("unprivileged-uid") for r in results)}
    return ENV.get_template("summary.html.j2").render(context)
