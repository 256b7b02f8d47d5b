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
    #: Regrade only these students (their files' student ids), even when already graded; every other
    #: result and report in `output` is left as it is, and grades.csv and summary.html are rebuilt
    #: from the stored results of the whole class.
    only: tuple[str, ...] = ()
    #: A Dask scheduler's address (tcp://HOST:PORT): its workers grade the submissions instead of
    #: threads of this process (grader/grade/cluster.py; `jobs` is then the workers' business).
    scheduler: str | None = None


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


@dataclass
class ExportConfig:
    lms: str  # "canvas" or "moodle" (grader/lms/)
    graded: Path  # a `grade` output folder: its results/ are exported
    roster: Path  # the LMS's gradebook export (CSV)
    assignment: str  # the gradebook column the scores go to
    output: Path
    #: The roster column a file name (without suffix) is matched to; None: the LMS's default
    #: (Canvas: SIS Login ID; Moodle: ID number). Canvas file names always match Canvas's ID.
    match_column: str | None = None


@dataclass
class AuditConfig:
    lab: str
    #: More programs that must score full marks, besides the catalogue's course code.
    correct: tuple[Path, ...] = ()
    jobs: int = field(default_factory=default_jobs)
    limits: Limits = field(default_factory=Limits)
    unsafe_no_sandbox: bool = False
