"""The catalogue of known mistakes, read from the concern packages, and what is derived from it.

    course/        the course-literal notebook, one module per topic (`CODE`)
    mistakes/      the mistakes as code (`MISTAKES`: a tuple of `Mistake`)
    explanations/  what a student reads (`EXPLANATIONS`, `IN_LAB`), and a short title per id (`TITLES`)
    probes/        the revealing inputs (`probes()`)
    signatures/    what each mistake does, over the probes' findings (`SIGNATURES`, `signatures()`)

Every module of each package is read, in name order, so a new topic is one new module in each
package and nothing here changes. Which lab introduces which mistake is declared in the course
catalogue (`grader.labs`); the suite checks that the two agree.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import ModuleType

from quant_mistakes.mistakes import Mistake
from quant_mistakes.probes import Probe
from quant_mistakes.signatures import Signature


def _modules(package_name: str) -> list[ModuleType]:
    package = importlib.import_module(package_name)
    names = sorted(info.name for info in pkgutil.iter_modules(package.__path__))
    return [importlib.import_module(f"{package_name}.{name}") for name in names]


def _by_key(modules: list[ModuleType]) -> dict[str, Mistake]:
    catalogue: dict[str, Mistake] = {}
    for module in modules:
        for mistake in module.MISTAKES:
            if mistake.key in catalogue:
                raise ValueError(f"mistake {mistake.key!r} is declared twice ({module.__name__})")
            catalogue[mistake.key] = mistake
    return catalogue


#: The whole course-literal notebook: every topic's functions, with the project decisions.
COURSE_LITERAL = "\n\n".join(module.CODE for module in _modules("quant_mistakes.course"))
#: Every mistake, by key (`id` or `id/variant`).
MISTAKES: dict[str, Mistake] = _by_key(_modules("quant_mistakes.mistakes"))
#: Mistake id -> what the student reads.
EXPLANATIONS: dict[str, str] = {
    key: text for module in _modules("quant_mistakes.explanations") for key, text in module.EXPLANATIONS.items()
}
#: Mistake id -> its short title (the class summary's misconceptions table).
TITLES: dict[str, str] = {
    key: text for module in _modules("quant_mistakes.explanations") for key, text in module.TITLES.items()
}
#: (mistake id, lab) -> what the student reads there, where it differs from `EXPLANATIONS`.
IN_LAB: dict[tuple[str, str], str] = {
    key: text
    for module in _modules("quant_mistakes.explanations") for key, text in getattr(module, "IN_LAB", {}).items()
}


def _checked(signatures: list[Signature]) -> tuple[Signature, ...]:
    """The signatures, each naming a catalogued id on a question that id affects somewhere."""
    for signature in signatures:
        affected = {q for m in MISTAKES.values() if m.id == signature.id for qs in m.affects.values() for q in qs}
        if signature.question not in affected:
            raise ValueError(f"signature of {signature.id!r} reads {signature.question!r}, "
                             "which no catalogued mistake of that id affects")
    return tuple(signatures)


#: Every signature, in topic order (`signatures/`).
SIGNATURES: tuple[Signature, ...] = _checked(
    [signature for module in _modules("quant_mistakes.signatures") for signature in module.SIGNATURES]
)


def source(mistake: str | None) -> str:
    """The whole notebook of a student who made `mistake` and nothing else (None: no mistake)."""
    if mistake is None:
        return COURSE_LITERAL
    return COURSE_LITERAL + "\n\n" + "\n\n".join(MISTAKES[mistake].functions.values())


@functools.cache
def model(mistake: str | None) -> dict:
    """The namespace of `source(mistake)`: the objects that probes and tests get by name."""
    namespace: dict = {"__name__": f"quant_mistakes.model.{mistake}"}
    exec(compile(source(mistake), f"<mistake {mistake}>", "exec"), namespace)
    return namespace


def affecting(lab: str, question: str) -> list[Mistake]:
    """The mistakes whose tests must catch them in `question` of `lab`, in catalogue order."""
    return [m for m in MISTAKES.values() if question in m.affects.get(lab, ())]


def signatures(lab: str, question: str) -> list[Signature]:
    """The signatures that may name a mistake on `question` of `lab`: of the ids affecting it there."""
    ids = {mistake.id for mistake in affecting(lab, question)}
    return [s for s in SIGNATURES if s.question == question and s.id in ids]


def explain(lab: str, *ids: str) -> str:
    """What to tell the student in `lab` of one mistake, or of two that give the same findings on every probe."""
    texts = [IN_LAB.get((mistake_id, lab)) or EXPLANATIONS[mistake_id] for mistake_id in ids]
    if len(texts) == 1:
        return texts[0]
    return "Your results fit two known mistakes equally well; one of them is likely. " + " Or: ".join(texts)


def probes(question: str) -> list[Probe]:
    """The probes of `question` (none for a question no mistake affects), built fresh."""
    found: list[Probe] = []
    for module in _modules("quant_mistakes.probes"):
        found += module.probes().get(question, [])
    return found
