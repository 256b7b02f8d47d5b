"""Forms of the catalogued mistakes, written as students might, unlike the catalogue's code.

One module per topic, each with `FORMS`: mistake id -> notebook sources, each replacing some of
the course's functions (laid over the course-literal notebook, `quant_mistakes.source(None)`).
The forms of one id are different code for the same misconception: other control flow, other torch
calls, helpers inlined or not, another precision, another function of the notebook. Every id has
at least three. A module may also hold `CORRECT`: right code written unlike the course's, which
must get no diagnosis anywhere, and `UNCATALOGUED`: wrong code no catalogued mistake describes,
which must get none either. `tests/test_diagnose_forms.py` diagnoses each form on every question its id
affects and reports the recognition rate per id.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import textwrap

from grader.labs import LABS, Lab


def form(text: str) -> str:
    """Notebook source from an indented triple-quoted block."""
    return textwrap.dedent(text).strip("\n") + "\n"


def labs_written(source: str) -> list[Lab]:
    """The labs that use a function or class `source` defines."""
    written = {node.name for node in ast.parse(source).body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    return [lab for lab in LABS.values() if written & set(lab.functions)]


def _modules() -> list:
    return [importlib.import_module(f"{__name__}.{info.name}")
            for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name)]


def _forms() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for module in _modules():
        for mistake_id, sources in module.FORMS.items():
            # One id may show in several topics' labs (dequant_sign: L2-A's dequantization, L3-E's layer).
            found.setdefault(mistake_id, []).extend(sources)
    return found


#: Mistake id -> its forms, from every topic module.
FORMS = _forms()
#: Right code written in other ways (a module's optional `CORRECT`): it must get no diagnosis.
CORRECT = [source for module in _modules() for source in getattr(module, "CORRECT", ())]
#: Wrong code that no catalogued mistake describes (a module's optional `UNCATALOGUED`): it must fail
#: its lab and get no diagnosis, however close it comes to a mistake a signature knows.
UNCATALOGUED = [source for module in _modules() for source in getattr(module, "UNCATALOGUED", ())]
