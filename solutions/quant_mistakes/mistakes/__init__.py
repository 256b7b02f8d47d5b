"""The known mistakes themselves (docs/course.md §5 and those the later labs invite), as code.

One module per topic, each with `MISTAKES`, a tuple of `Mistake`. A mistake is notebook source for
the wrong function(s), laid over the course-literal notebook (`course`); `affects` names, by lab,
the questions whose tests must catch it. Several ids have variants, keyed `id/variant`: different
code for the same misconception, explained once.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, eq=False)
class Mistake:
    #: `id`, or `id/variant` when one misconception has several forms.
    key: str
    #: Function name -> the wrong notebook source that replaces the course's.
    functions: dict[str, str]
    #: Lab -> the questions whose tests must catch it (and whose diagnosis should name it).
    affects: dict[str, tuple[str, ...]]
    #: Lab -> questions of a later lab whose end-to-end cases may fail because the student's copy of
    #: an earlier lab's code carries the mistake, without it being the graded function's fault.
    carried_into: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Lab -> affected questions whose probes cannot show it (it breaks a round trip that the
    #: probes do not make); the tests still catch it there.
    undiagnosed: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """The mistake's id in docs/course.md §5 and in reports (the key before any `/`)."""
        return self.key.split("/")[0]
