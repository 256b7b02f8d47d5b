"""Command line: `python -m grader {build,grade,check,gradescope,audit,export,demo,labs}`
(also installed as `quant-grader`).

A command that cannot run raises a `GraderError`; `main` turns it into one line on stderr and the
error's exit status (see `grader.errors`), so no command handles its own stopping errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
import textwrap
from pathlib import Path

from grader import __version__
from grader.config import (
    AuditConfig,
    BuildConfig,
    CheckConfig,
    DemoConfig,
    ExportConfig,
    GradeConfig,
    GradescopeConfig,
    default_jobs,
)
from grader.errors import GraderError
from grader.labs import LABS, lab_table
from grader.sandbox import UNSAFE_FLAG
from grader.sandbox.limits import Limits, format_size, parse_size

LAB_HELP = f"lab id, one of: {', '.join(LABS)}"
EXIT_STATUS = ("0 done; 1 a result that needs you (check: not every public test passed; audit: "
               "something found; export: a submission could not be placed or has no grade); 2 the command cannot "
               "run (the reason goes to stderr), a failed sandbox self-test included; 3 grade, demo: the grader "
               "failed on some submissions, which have no grade (status internal_error): run it again")


def _epilog(examples: list[str], exit_status: str) -> str:
    """A command's --help ends with its examples, then its exit status."""
    return ("examples:\n" + "\n".join(f"  {line}" for line in examples) + "\n\n"
            + textwrap.fill(f"exit status: {exit_status}", 100, subsequent_indent="  "))


def _command(commands, name: str, help: str, examples: list[str], exit_status: str,
             description: str | None = None) -> argparse.ArgumentParser:
    return commands.add_parser(name, help=help, description=textwrap.fill(description or help, 100),
                               epilog=_epilog(examples, exit_status),
                               formatter_class=argparse.RawDescriptionHelpFormatter)


def _limits(args: argparse.Namespace) -> Limits:
    return Limits(question=args.question_timeout, load=args.load_timeout, cell=args.cell_timeout,
                  submission=args.submission_timeout, question_cpu=args.question_cpu,
                  submission_cpu=args.submission_cpu, memory=args.memory, processes=args.max_processes,
                  output=args.max_output)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _jobs(text: str) -> int:
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of 1 or more, not {text!r}")
    return jobs


def _add_limits(parser: argparse.ArgumentParser) -> None:
    defaults = Limits()
    parser.add_argument("--submission-timeout", type=float, default=defaults.submission, metavar="S",
                        help=f"seconds one submission may take in all (default {defaults.submission:g})")
    parser.add_argument("--question-cpu", type=float, default=defaults.question_cpu, metavar="S",
                        help=f"CPU seconds a question's calls may use (default {defaults.question_cpu:g})")
    parser.add_argument("--submission-cpu", type=float, default=defaults.submission_cpu, metavar="S",
                        help=f"CPU seconds one worker process may use in all (default {defaults.submission_cpu:g})")
    parser.add_argument("--memory", type=_size, default=defaults.memory, metavar="SIZE",
                        help=f"memory of the whole sandbox (of each process where no cgroup is available), "
                             f"e.g. 2G, 512M (default {format_size(defaults.memory)})")
    parser.add_argument("--max-processes", type=int, default=defaults.processes, metavar="N",
                        help=f"processes and threads in one sandbox (default {defaults.processes})")
    parser.add_argument("--max-output", type=_size, default=defaults.output, metavar="SIZE",
                        help="bytes a submission may write to its scratch folder "
                             f"(default {format_size(defaults.output)})")
    parser.add_argument("--question-timeout", type=float, default=defaults.question, metavar="S",
                        help=f"seconds a question's test cases may take in all (default {defaults.question:g})")
    parser.add_argument("--load-timeout", type=float, default=defaults.load, metavar="S",
                        help=f"seconds running the submission's cells may take (default {defaults.load:g})")
    parser.add_argument("--cell-timeout", type=float, default=defaults.cell, metavar="S",
                        help=f"seconds one cell may take (default {defaults.cell:g})")


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="python -m grader", description="Autograder for 'Quantization in Depth'.",
                                   epilog=_epilog(["python -m grader labs", "python -m grader build -o dist",
                                                   "python -m grader grade L2-A submissions/ -o out/L2-A",
                                                   "python -m grader grade L2-A --help"], EXIT_STATUS),
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    main.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    main.add_argument("-v", "--verbose", action="store_true",
                      help="also log each submission as it is graded (grade shows progress either way)")
    commands = main.add_subparsers(dest="command", required=True)

    build = _command(commands, "build", "write student hand-outs, otter autograder zips and Gradescope zips",
                     ["python -m grader build -o dist", "python -m grader build -o dist --lab L2-A --lab L2-B"],
                     "0 built, 2 cannot build (unknown lab, a public test file that holds a hidden case)")
    build.add_argument("-o", "--output", type=Path, default=Path("dist"), help="output folder (default dist)")
    build.add_argument("--lab", action="append", default=[], help=f"only this lab (repeatable); {LAB_HELP}")

    grade = _command(commands, "grade", "grade every .ipynb and .py in a folder against the hidden tests",
                     ["python -m grader grade L2-A submissions/ -o out/L2-A",
                      "python -m grader grade L2-A submissions/ -o out/L2-A -j 4 --force",
                      "python -m grader grade L2-A submissions/ -o out/L2-A --only alice   # regrade alice only",
                      "python -m grader grade L2-A submissions/ -o out/L2-A --scheduler tcp://HOST:8786"
                      "   # on Dask workers"],
                     "0 when every submission got a grade (zeros included), 2 when grading cannot run "
                     "(unknown lab, missing folder, no sandbox, --only names nobody, the sandbox failed its "
                     "self-test on the course's own code; with --scheduler: no scheduler or worker, or a worker "
                     "that cannot grade), 3 when the grader failed on some submissions (status internal_error, "
                     "listed on stderr; no grade is written for them, and running the same command again grades "
                     "them)",
                     description="Grade every .ipynb and .py in a folder against the hidden tests. Progress goes "
                                 "to stderr: a progress bar with rate and ETA on a terminal, else one line per "
                                 "submission as its result is written. Files named as Canvas's 'Download "
                                 "Submissions' names them are graded under the Canvas user id, the newest of a "
                                 "student's files only, and lateness is recorded.")
    grade.add_argument("lab", help=LAB_HELP)
    grade.add_argument("submissions", type=Path,
                       help="folder of submissions; student id = file name without suffix, or the Canvas user id")
    grade.add_argument("-o", "--output", type=Path, required=True,
                       help="output folder: results/, reports/, grades.csv, summary.html, run.json "
                            "(this run's times, reused results and where the time went)")
    grade.add_argument("-j", "--jobs", type=_jobs, default=default_jobs(), metavar="N",
                       help=f"submissions graded at once (default: the number of cores, {default_jobs()} here; "
                            "with --scheduler, the workers' threads decide)")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on the workers of this Dask scheduler instead of here (each worker machine "
                            "needs this project and its sandbox; start them with `dask scheduler` and "
                            "`dask worker tcp://HOST:PORT --nthreads 1`, see docs/cluster.md); outputs are written "
                            "here as in a local run")
    grade.add_argument("--force", action="store_true",
                       help="regrade every submission; by default a rerun skips those already graded "
                            "(same file, same tests) in the output folder")
    grade.add_argument(UNSAFE_FLAG, action="store_true",
                       help="UNSAFE: when no sandbox (bubblewrap) works here, and no unprivileged uid to fall "
                            "back on (root in a container that refuses bubblewrap gets one), run student code as a "
                            "plain process with your own rights instead of refusing; results record isolation "
                            "'process'")
    start = grade.add_mutually_exclusive_group()
    start.add_argument("--warm", dest="warm", action="store_true", default=True,
                       help="the default: start one sandbox per job and fork a fresh worker in it for each "
                            "submission (torch is imported once per sandbox, not once per submission)")
    start.add_argument("--cold", dest="warm", action="store_false",
                       help="start a new sandbox, and import torch in it, for every worker (slower; the "
                            "path before warm sandboxes, kept as a check on them)")
    grade.add_argument("--only", action="append", default=[], metavar="STUDENT",
                       help="regrade only this student (repeatable); the others' results and reports are left as "
                            "they are, and grades.csv and summary.html are rebuilt from every stored result")
    _add_limits(grade)

    check = _command(commands, "check", "run the public tests on one file (what a student runs)",
                     ["python -m grader check L2-A L2-A.ipynb", "python -m grader check L3-C my_functions.py"],
                     "0 when every public test passes, 1 when not, 2 when the check cannot run "
                     "(missing file, unknown lab)")
    check.add_argument("lab", help=LAB_HELP)
    check.add_argument("file", type=Path, help="your notebook (.ipynb) or script (.py)")
    _add_limits(check)

    gradescope = _command(
        commands, "gradescope", "grade the upload in Gradescope's container into results/results.json (run_autograder)",
        ["python -m grader gradescope L2-A", "python -m grader gradescope L2-A --root ./autograder"],
        "0 results.json holds a grade (zeros included), 2 the grader itself failed, its self-test on the course's "
        "own code included (results.json then tells the student it is not their fault, and its 0 is no grade)",
        description="Grade the one notebook or .py file in ROOT/submission/ (whatever its name) with the hidden "
                    "tests and write ROOT/results/results.json in Gradescope's format: this grader's Markdown "
                    "report, one entry per test case, the diagnosis and the metrics. Student code runs in the "
                    "bubblewrap sandbox, or as an unprivileged uid of its own where bubblewrap does not work.")
    gradescope.add_argument("lab", help=LAB_HELP)
    gradescope.add_argument("--root", type=Path, default=GradescopeConfig.root, metavar="DIR",
                            help=f"Gradescope's autograder folder (default {GradescopeConfig.root})")
    _add_limits(gradescope)

    _add_audit(commands)
    _add_export(commands)
    _command(commands, "labs", "print the course catalogue: every lab, its kind, questions and points (Markdown)",
             ["python -m grader labs", "python -m grader labs > labs.md"], "0")

    demo = _command(commands, "demo", "build, then grade the bundled example submissions",
                    ["python -m grader demo", "python -m grader demo -o out/demo-1 -j 1"],
                    "0 done, 2 cannot run (no sandbox, or it failed its self-test), 3 the grader failed on some "
                    "example (status internal_error, listed on stderr)")
    demo.add_argument("-o", "--output", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    demo.add_argument("-j", "--jobs", type=_jobs, default=default_jobs(), metavar="N",
                      help=f"submissions graded at once (default: the number of cores, {default_jobs()} here)")
    return main


def _add_audit(commands) -> None:
    audit = _command(commands, "audit", "check a lab's hidden tests against the catalogue's mistakes and correct code",
                     ["python -m grader audit L2-A", "python -m grader audit L3-C --correct my_solution.py -j 2"],
                     "0 nothing found, 1 something found (listed), 2 the audit cannot run",
                     description="Grade, in the sandbox and against the hidden tests, one program per catalogued "
                                 "mistake that affects the lab and the catalogue's correct course code (and the "
                                 "programs given with --correct); list each mistake that still scores full marks "
                                 "on a question it affects, and each correct program that loses marks.")
    audit.add_argument("lab", help=LAB_HELP)
    audit.add_argument("--correct", action="append", type=Path, default=[], metavar="FILE",
                       help="another correct program (.py or .ipynb) that must score full marks (repeatable)")
    audit.add_argument("-j", "--jobs", type=_jobs, default=default_jobs(), metavar="N",
                       help=f"programs graded at once (default: the number of cores, {default_jobs()} here)")
    audit.add_argument(UNSAFE_FLAG, action="store_true",
                       help="UNSAFE: run the programs without a sandbox when none works here")
    _add_limits(audit)


def _add_export(commands) -> None:
    export = _command(commands, "export", "write a graded batch's scores in an LMS gradebook's import format",
                      ["python -m grader export canvas out/L2-A --roster gradebook.csv --assignment L2-A -o canvas.csv",
                       "python -m grader export moodle out/L2-A --roster grades.csv --assignment L2-A -o moodle.csv"],
                      "0 every submission placed, 1 some submission placed nowhere or with no grade (an "
                      "internal error; listed on stderr), 2 the export cannot run")
    systems = export.add_subparsers(dest="lms", required=True)
    canvas = _command(systems, "canvas", "fill a Canvas gradebook export with one assignment's scores",
                      ["python -m grader export canvas out/L2-A --roster gradebook.csv --assignment L2-A -o canvas.csv",
                       "python -m grader export canvas out/L2-A --roster gradebook.csv \\",
                       "    --assignment 'L2-A (4567)' --match-column 'SIS User ID' -o canvas.csv"],
                      "0 every submission placed, 1 some submission matches nobody or is ambiguous, or has no "
                      "grade (internal_error: an empty cell) (listed on stderr; students without a submission are "
                      "listed too, with an empty cell), 2 the export cannot run",
                      description="Write Canvas's gradebook import: the roster's columns Student, ID, SIS User ID, "
                                  "SIS Login ID, Section, its Points Possible row, and one column NAME with "
                                  "each student's score. A file named as Canvas's 'Download Submissions' names "
                                  "them matches the roster's ID column; any other file name (without suffix) "
                                  "matches --match-column.")
    moodle = _command(systems, "moodle", "write one assignment's scores for Moodle's CSV grade import",
                      ["python -m grader export moodle out/L2-A --roster grades.csv --assignment L2-A -o moodle.csv",
                       "python -m grader export moodle out/L2-A --roster grades.csv \\",
                       "    --assignment L2-A --match-column 'Email address' -o moodle.csv"],
                      "0 every submission placed, 1 some submission matches nobody or is ambiguous, or has no "
                      "grade (internal_error: no row) (listed on stderr), 2 the export cannot run",
                      description="Write two columns, the roster's identifier (--match-column) and NAME, one "
                                  "row per student with a submission; in Moodle's import, map them to the same "
                                  "user field and to the grade item.")
    for parser_, column in ((canvas, "SIS Login ID"), (moodle, "ID number")):
        parser_.add_argument("graded", type=Path, help="the output folder of `grade` (its results/)")
        parser_.add_argument("--roster", type=Path, required=True, help="the gradebook CSV the LMS exports")
        parser_.add_argument("--assignment", required=True, metavar="NAME", help="the column the scores go to")
        parser_.add_argument("-o", "--output", type=Path, required=True, help="the CSV to write")
        parser_.add_argument("--match-column", default=column, metavar="COLUMN",
                             help=f"the roster column a file name without suffix is matched to (default {column!r})")


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status (0 to 3, see `grader.errors`)."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(message)s")
    try:
        return _run(args)
    except GraderError as error:
        print(f"python -m grader {args.command}: {error}", file=sys.stderr)
        return error.exit_code


def _run(args: argparse.Namespace) -> int:
    if args.command == "build":
        from grader import build
        return build.main(BuildConfig(output=args.output, labs=tuple(args.lab)))
    if args.command == "grade":
        from grader import grade
        return grade.main(GradeConfig(lab=args.lab, submissions=args.submissions, output=args.output,
                                      jobs=args.jobs, limits=_limits(args), force=args.force,
                                      unsafe_no_sandbox=args.unsafe_no_sandbox, warm=args.warm,
                                      only=tuple(args.only), scheduler=args.scheduler))
    if args.command == "check":
        from grader import check
        return check.main(CheckConfig(lab=args.lab, file=args.file, limits=_limits(args)))
    if args.command == "audit":
        from grader import audit
        return audit.main(AuditConfig(lab=args.lab, correct=tuple(args.correct), jobs=args.jobs,
                                      limits=_limits(args), unsafe_no_sandbox=args.unsafe_no_sandbox))
    if args.command == "export":
        from grader import lms
        return lms.main(ExportConfig(lms=args.lms, graded=args.graded, roster=args.roster,
                                     assignment=args.assignment, output=args.output, match_column=args.match_column))
    if args.command == "gradescope":
        from grader import gradescope
        return gradescope.main(GradescopeConfig(lab=args.lab, root=args.root, limits=_limits(args)))
    if args.command == "labs":
        print(lab_table(), end="")
        return 0
    from grader import demo
    return demo.main(DemoConfig(output=args.output, jobs=args.jobs))
