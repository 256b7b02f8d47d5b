"""The course catalogue: which labs exist, what each grades, and where its files are.

A lab's questions are named after the functions they grade. Each question has a public otter
test file in `assignments/<LAB>/tests/` and may have hidden cases in `solutions/<LAB>/tests/`;
the full test file is the two joined, and the same source serves otter and `grader grade`.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENTS = ROOT / "assignments"
SOLUTIONS = ROOT / "solutions"
EXAMPLES = ROOT / "examples"
#: Public support package shipped beside every notebook (checks, fixtures, plotting).
SUPPORT = ASSIGNMENTS / "quantlab"
#: Hidden reference package: inside the autograder zips, never in a student's hand-out.
REFERENCE = SOLUTIONS / "quant_reference"


class UnknownLab(ValueError):
    pass


@dataclass(frozen=True)
class Lab:
    id: str
    lesson: int
    title: str
    questions: tuple[str, ...]

    @property
    def notebook(self) -> Path:
        return ASSIGNMENTS / self.id / f"{self.id}.ipynb"

    def public_tests(self, question: str) -> Path:
        return ASSIGNMENTS / self.id / "tests" / f"{question}.py"

    def hidden_tests(self, question: str) -> Path:
        return SOLUTIONS / self.id / "tests" / f"{question}.py"

    def test_source(self, question: str, *, hidden: bool) -> str:
        """The otter test file for `question`: public cases, plus hidden ones if asked."""
        source = self.public_tests(question).read_text(encoding="utf-8")
        hidden_file = self.hidden_tests(question)
        if hidden and hidden_file.exists():
            source += "\n\n# Hidden cases: instructor only ---------------------------------------\n\n"
            source += hidden_file.read_text(encoding="utf-8")
        return source


LABS: dict[str, Lab] = {
    lab.id: lab
    for lab in (
        Lab("L2-A", 3, "Linear Quantization I: Quantize and De-quantize a Tensor",
            ("linear_q_with_scale_and_zero_point", "linear_dequantization")),
        Lab("L2-B", 4, "Linear Quantization I: Get the Scale and Zero Point",
            ("get_q_scale_and_zero_point", "linear_quantization")),
        Lab("L3-A", 5, "Linear Quantization II: Symmetric vs. Asymmetric Mode",
            ("get_q_scale_symmetric", "linear_q_symmetric")),
        Lab("L3-B", 6, "Linear Quantization II: Finer Granularity for more Precision (per tensor)",
            ("linear_q_symmetric", "quantization_error")),
        Lab("L3-C", 7, "Linear Quantization II: Per Channel Quantization",
            ("linear_q_symmetric_per_channel",)),
        Lab("L3-D", 8, "Linear Quantization II: Per Group Quantization",
            ("linear_q_symmetric_per_group", "linear_dequantization_per_group")),
        Lab("L3-E", 9, "Linear Quantization II: Quantizing Weights & Activations for Inference",
            ("quantized_linear_W8A32_without_bias",)),
        Lab("L4-A", 10, "Building your own Quantizer: Custom Build an 8-Bit Quantizer",
            ("w8_a16_forward", "W8A16LinearLayer")),
        Lab("L4-B", 11, "Building your own Quantizer: Replace PyTorch layers with Quantized Layers",
            ("replace_linear_with_target", "replace_linear_with_target_and_quantize")),
        Lab("L4-C", 12, "Building your own Quantizer: Quantize any Open Source PyTorch Model",
            ("model_memory_footprint", "quantize_model")),
        Lab("L4-D", 13, "Building your own Quantizer: Load your Quantized Weights from Hugging Face Hub",
            ("save_quantized_state_dict", "load_quantized_model")),
        Lab("L5-B", 15, "Packing 2-bit Weights", ("pack_weights",)),
        Lab("L5-C", 16, "Unpacking 2-Bit Weights", ("unpack_weights",)),
    )
}


def get_lab(lab_id: str) -> Lab:
    try:
        return LABS[lab_id.upper()]
    except KeyError:
        raise UnknownLab(f"unknown lab {lab_id!r}; the labs are {', '.join(LABS)}") from None


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
