"""Options of each command as typed objects (the CLI builds them; tests can too)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from grader.sandbox.limits import Limits


def default_jobs() -> int:
    """Submissions graded at once by default: one per core."""
    return max(1, os.cpu_count() or 1)


@dataclass
class BuildConfig:
    output: Path = Path("dist")
    labs: tuple[str, ...] = ()  # empty: every lab


@dataclass
class GradeConfig:
    lab: str
    submissions: Path
    output: Path
    jobs: int = field(default_factory=default_jobs)
    limits: Limits = field(default_factory=Limits)
    force: bool = False  # regrade submissions whose results are already in `output`
    #: Run student code as a plain process when no sandbox works (never the default).
    unsafe_no_sandbox: bool = False
    #: Warm sandboxes (the default): one per job, a fresh worker forked per submission
    #: (grader/sandbox/pool.py). False starts a new sandbox, and imports torch, for every worker.
    warm: bool = True


@dataclass
class CheckConfig:
    lab: str
    file: Path
    limits: Limits = field(default_factory=Limits)


@dataclass
class GradescopeConfig:
    lab: str
    #: Gradescope's layout: submission/ (the upload), results/ (results.json), source/ (the zip).
    root: Path = Path("/autograder")
    limits: Limits = field(default_factory=Limits)


@dataclass
class DemoConfig:
    output: Path = Path("out/demo")
    jobs: int = field(default_factory=default_jobs)
