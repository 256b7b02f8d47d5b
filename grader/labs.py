"""The course catalogue: every lab, declared once, and everything the grader derives from it.

A lab is declared by one `Lab(...)` in `LABS` below. The declaration holds its id and title, its
kind, its questions and their points, the functions it carries over from earlier labs, the module
of the hidden reference that grades it, and the catalogued mistakes it introduces. The rest is
derived from it or found by convention (docs/extending.md):

    assignments/<LAB>/<LAB>.ipynb      the student's notebook
    assignments/<LAB>/tests/<q>.py     public otter tests of question <q> (= the graded function)
    solutions/<LAB>/tests/<q>.py       hidden cases of <q>, appended to the public file to grade
    <reference>.<q>                    the hidden reference of <q> (e.g. quant_reference.packing)
    quant_mistakes: the mistakes, their course code, explanations and probes (by mistake key)

Build, grade, check, demo, the README's lab table and the test suite's parametrisation read
this catalogue; a test fails when a lab, question, reference function or mistake is declared and
not exercised, or exercised and not declared.
"""

from __future__ import annotations

import ast
import enum
import importlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError

#: Where the grading material lives when the grader is installed from a wheel (the Gradescope
#: zip's run_autograder sets it to /autograder/source); unset, it is this checkout.
MATERIAL_ENV = "QUANT_GRADER_MATERIAL"
ROOT = Path(os.environ.get(MATERIAL_ENV) or Path(__file__).resolve().parent.parent)
ASSIGNMENTS = ROOT / "assignments"
SOLUTIONS = ROOT / "solutions"
EXAMPLES = ROOT / "examples"
#: Public support package shipped beside every notebook (checks, fixtures, plotting).
SUPPORT = ASSIGNMENTS / "quantlab"
#: Hidden reference package: inside the autograder zips, never in a student's hand-out.
REFERENCE = SOLUTIONS / "quant_reference"
#: The catalogued mistakes (course code, wrong code, explanations, probes): hidden too.
MISTAKES = SOLUTIONS / "quant_mistakes"


class UnknownLab(GraderError, ValueError):
    """No lab of the catalogue has this id."""


class Kind(enum.Enum):
    """How the student's code is exercised; the one grading path reads it as data."""

    #: Called with values; the results cross back as data and are compared.
    FUNCTIONS = "functions"
    #: A class, or a function that changes a model in place: quantlab inspections build layers or
    #: small models in the worker, exercise the student's code and send back findings.
    CLASS_OR_IN_PLACE = "a class or in-place code"
    #: Inspections that take several of the student's objects at once, on seeded tiny models.
    WHOLE_MODELS = "whole models"


@dataclass(frozen=True)
class Question:
    #: The graded function or class; its test files are `tests/<name>.py`.
    name: str
    #: One per test case, public and hidden together.
    points: int
    #: What the README's lab table says of it, beyond its name.
    note: str = ""
    #: Whether its reference may stand in for the student's where another question uses it
    #: (`stand_in_helpers`): never for a function that reads or writes files, since the grader would
    #: then open the paths the student's code names.
    stands_in: bool = True


@dataclass(frozen=True)
class Lab:
    id: str
    lesson: int
    title: str
    kind: Kind
    questions: tuple[Question, ...]
    #: Module of the hidden reference, holding one function or class per question.
    reference: str
    #: Functions of earlier labs that the notebook carries over as ungraded cells (the graded
    #: ones call the student's own copies, as in the course).
    carried: tuple[str, ...] = ()
    #: Keys of the catalogued mistakes (`quant_mistakes`) this lab introduces: `id` or `id/variant`.
    mistakes: tuple[str, ...] = ()

    @property
    def question_names(self) -> tuple[str, ...]:
        return tuple(q.name for q in self.questions)

    @property
    def functions(self) -> tuple[str, ...]:
        """Everything of the student's that this lab's tests may use: carried over, then graded."""
        return self.carried + self.question_names

    @property
    def max_score(self) -> int:
        return sum(q.points for q in self.questions)

    @property
    def notebook(self) -> Path:
        return ASSIGNMENTS / self.id / f"{self.id}.ipynb"

    @property
    def public_folder(self) -> Path:
        return ASSIGNMENTS / self.id / "tests"

    @property
    def hidden_folder(self) -> Path:
        return SOLUTIONS / self.id / "tests"

    def public_tests(self, question: str) -> Path:
        return self.public_folder / f"{question}.py"

    def hidden_tests(self, question: str) -> Path:
        return self.hidden_folder / f"{question}.py"

    def test_source(self, question: str, *, hidden: bool) -> str:
        """The otter test file for `question`: public cases, plus hidden ones if asked."""
        source = self.public_tests(question).read_text(encoding="utf-8")
        hidden_file = self.hidden_tests(question)
        if hidden and hidden_file.exists():
            source += "\n\n# Hidden cases: instructor only ---------------------------------------\n\n"
            source += hidden_file.read_text(encoding="utf-8")
        return source

    def reference_function(self, question: str):
        """The hidden reference of one of this lab's questions."""
        make_tests_importable()
        return getattr(importlib.import_module(self.reference), question)


_CORE = ("linear_q_with_scale_and_zero_point", "linear_dequantization")
_LAYERS = ("w8_a16_forward", "W8A16LinearLayer")

LABS: dict[str, Lab] = {
    lab.id: lab
    for lab in (
        Lab(
            "L2-A", 3, "Linear Quantization I: Quantize and De-quantize a Tensor", Kind.FUNCTIONS,
            (Question("linear_q_with_scale_and_zero_point", 7), Question("linear_dequantization", 8)),
            reference="quant_reference.quantize",
            mistakes=(
                "round_truncate_cast", "round_floor", "round_half_away", "round_half_away/floor_plus_half",
                "round_before_zero_point", "missing_clamp", "zero_point_subtracted", "dequant_no_float_cast",
                "dequant_sign", "dequant_sign/q_times_s_plus_z", "int8_range_hardcoded/quantize",
            ),
        ),
        Lab(
            "L2-B", 4, "Linear Quantization I: Get the Scale and Zero Point", Kind.FUNCTIONS,
            (Question("get_q_scale_and_zero_point", 8), Question("linear_quantization", 8)),
            reference="quant_reference.quantize", carried=_CORE,
            mistakes=(
                "scale_inverted", "zero_point_truncated", "zero_point_not_rounded", "zero_point_not_clipped",
                "zero_point_clip_to_qmin", "int8_range_hardcoded", "dtype_not_forwarded/linear_quantization",
            ),
        ),
        Lab(
            "L3-A", 5, "Linear Quantization II: Symmetric vs. Asymmetric Mode", Kind.FUNCTIONS,
            (Question("get_q_scale_symmetric", 8), Question("linear_q_symmetric", 8)),
            reference="quant_reference.quantize", carried=_CORE,
            mistakes=(
                "int8_range_hardcoded/symmetric", "sym_scale_128", "sym_scale_127_5", "sym_scale_no_abs",
                "dtype_not_forwarded",
            ),
        ),
        Lab(
            "L3-B", 6, "Linear Quantization II: Finer Granularity for more Precision (per tensor)", Kind.FUNCTIONS,
            (Question("linear_q_symmetric", 8, "per tensor, weight matrices"), Question("quantization_error", 7)),
            reference="quant_reference.quantize", carried=(*_CORE, "get_q_scale_symmetric"),
            mistakes=("error_metric_mae", "error_metric_sum", "error_metric_rmse"),
        ),
        Lab(
            "L3-C", 7, "Linear Quantization II: Per Channel Quantization", Kind.FUNCTIONS,
            (Question("linear_q_symmetric_per_channel", 11, "any dim, negative dims, N-D tensors"),),
            reference="quant_reference.granularity",
            carried=(*_CORE, "get_q_scale_symmetric", "quantization_error"),
            mistakes=("per_channel_wrong_dim", "per_channel_missing_reshape"),
        ),
        Lab(
            "L3-D", 8, "Linear Quantization II: Per Group Quantization", Kind.FUNCTIONS,
            (Question("linear_q_symmetric_per_group", 10), Question("linear_dequantization_per_group", 6)),
            reference="quant_reference.granularity",
            carried=(*_CORE, "get_q_scale_symmetric", "quantization_error", "linear_q_symmetric_per_channel"),
            mistakes=("per_group_wrong_axis",),
        ),
        Lab(
            "L3-E", 9, "Linear Quantization II: Quantizing Weights & Activations for Inference", Kind.FUNCTIONS,
            (Question("quantized_linear_W8A32_without_bias", 8, "zero point ≠ 0 included, as `s*(q - z)`"),),
            reference="quant_reference.w8a32",
            carried=("linear_q_with_scale_and_zero_point", "get_q_scale_symmetric", "linear_q_symmetric"),
            mistakes=("w8a32_missing_scale", "w8a32_transposed_weight", "dequant_sign/w8a32_course"),
        ),
        Lab(
            "L4-A", 10, "Building your own Quantizer: Custom Build an 8-Bit Quantizer", Kind.CLASS_OR_IN_PLACE,
            (Question("w8_a16_forward", 9),
             Question("W8A16LinearLayer", 9, "a class with buffers, `quantize` and `forward`")),
            reference="quant_reference.layers",
            mistakes=(
                "w8a16_bias_before_scale", "w8a16_scale_128", "w8a16_scales_per_column",
                "w8a16_lowprec_divide_no_clamp", "w8a16_int8_parameter",
            ),
        ),
        Lab(
            "L4-B", 11, "Building your own Quantizer: Replace PyTorch layers with Quantized Layers",
            Kind.CLASS_OR_IN_PLACE,
            (Question("replace_linear_with_target", 9),
             Question("replace_linear_with_target_and_quantize", 7, "in place")),
            reference="quant_reference.layers", carried=_LAYERS,
            mistakes=(
                "replace_no_recursion", "replace_drops_bias", "exclude_by_substring_or_path",
                "exclude_by_substring_or_path/path", "replace_wrong_arg_order",
            ),
        ),
        Lab(
            "L4-C", 12, "Building your own Quantizer: Quantize any Open Source PyTorch Model", Kind.WHOLE_MODELS,
            (
                Question("model_memory_footprint", 5),
                Question("quantize_model", 9, "in place, returns the footprints before and after"),
            ),
            reference="quant_reference.whole_model",
            carried=(*_LAYERS, "replace_linear_with_target_and_quantize"),
            mistakes=(
                "footprint_ignores_buffers", "footprint_counts_elements", "footprint_from_state_dict",
                "quantize_model_not_in_place",
            ),
        ),
        Lab(
            "L4-D", 13, "Building your own Quantizer: Load your Quantized Weights from Hugging Face Hub",
            Kind.WHOLE_MODELS,
            (
                Question("save_quantized_state_dict", 4, stands_in=False),
                Question("load_quantized_model", 8, "meta skeleton, strict load with assign", stands_in=False),
            ),
            reference="quant_reference.whole_model",
            carried=(*_LAYERS, "replace_linear_with_target", "replace_linear_with_target_and_quantize"),
            mistakes=("save_whole_model", "save_parameters_only", "load_without_assign"),
        ),
        Lab(
            "L5-B", 15, "Packing 2-bit Weights", Kind.FUNCTIONS,
            (Question("pack_weights", 7, "2 and 4 bits, lowest bits first; a bad length raises ValueError"),),
            reference="quant_reference.packing",
            mistakes=("pack_msb_first", "pack_wrong_shift", "pack_wrong_shift/constant"),
        ),
        Lab(
            "L5-C", 16, "Unpacking 2-Bit Weights", Kind.FUNCTIONS,
            (Question("unpack_weights", 5, "2 and 4 bits, exact bits, round trip"),),
            reference="quant_reference.packing", carried=("pack_weights",),
            mistakes=("unpack_no_mask", "unpack_msb_first"),
        ),
    )
}


def get_lab(lab_id: str) -> Lab:
    try:
        return LABS[lab_id.upper()]
    except KeyError:
        raise UnknownLab(f"unknown lab {lab_id!r}; the labs are {', '.join(LABS)}") from None


def grading_lab(function: str) -> Lab:
    """The first lab that grades `function` (the one whose reference defines it)."""
    return next(lab for lab in LABS.values() if function in lab.question_names)


def every_function() -> tuple[str, ...]:
    """Every function or class the course's students write, in the order the labs introduce them."""
    return tuple(dict.fromkeys(name for lab in LABS.values() for name in lab.functions))


def origin_lab(mistake: str) -> Lab:
    """The lab that introduces the catalogued mistake `mistake` (a key: `id` or `id/variant`)."""
    return next(lab for lab in LABS.values() if mistake in lab.mistakes)


def lab_table() -> str:
    """The README's table of labs, in Markdown."""
    rows = ["| lab | kind | questions (one per graded function) | carried over |", "|---|---|---|---|"]
    for lab in LABS.values():
        questions = ", ".join(f"`{q.name}` ({q.points} points{': ' + q.note if q.note else ''})" for q in lab.questions)
        carried = ", ".join(f"`{name}`" for name in lab.carried) or "–"
        rows.append(f"| {lab.id} | {lab.kind.value} | {questions} | {carried} |")
    return "\n".join(rows) + "\n"


def make_tests_importable() -> None:
    """Test files import `quantlab` and `quant_reference`; in the grader they come from the repo."""
    for folder in (SUPPORT.parent, REFERENCE.parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))


def hidden_case_problems(source: str) -> list[str]:
    """What stops `source` from being a public test file: hidden cases or a reference import."""
    problems = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any(n.split(".")[0] == REFERENCE.name for n in names):
                problems.append(f"line {node.lineno} imports the hidden reference")
        if isinstance(node, ast.keyword) and node.arg == "hidden":
            if not (isinstance(node.value, ast.Constant) and node.value.value is False):
                problems.append(f"line {node.value.lineno} declares a hidden case")
    return problems


def stand_in_helpers(lab: Lab, question: str) -> tuple[str, ...]:
    """The student's own functions and classes that `question` may use in `lab`, for a reference to stand in.

    Every other function and class of the lab, graded here or carried over, in the order the course
    introduces them (the innermost helpers first), but those that read or write files
    (`Question.stands_in`). When `question` fails, the grader runs it again with the reference of
    each in place of the student's (`grader.own_logic`): a function on plain values, a function that
    changes a model in place, or a layer class (grader/sandbox/stand_ins.py).
    """
    order = every_function()
    helpers = (name for name in lab.functions if name != question and _stands_in(name))
    return tuple(sorted(helpers, key=order.index))


def _stands_in(function: str) -> bool:
    return next(q.stands_in for q in grading_lab(function).questions if q.name == function)
