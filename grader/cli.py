"""Command line: `python -m grader {build,grade,check,gradescope,demo,labs}` (also installed as `quant-grader`).

A command that cannot run raises a `GraderError`; `main` turns it into one line on stderr and the
error's exit status (see `grader.errors`), so no command handles its own stopping errors.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from grader import __version__
from grader.config import BuildConfig, CheckConfig, DemoConfig, GradeConfig, GradescopeConfig, default_jobs
from grader.errors import GraderError
from grader.labs import LABS, lab_table
from grader.sandbox import UNSAFE_FLAG
from grader.sandbox.limits import Limits, format_size, parse_size

LAB_HELP = f"lab id, one of: {', '.join(LABS)}"
EXIT_STATUS = ("exit status: 0 done, 1 check: not every public test passed, 2 the command cannot run "
               "(the reason goes to stderr)")


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
                                   epilog=EXIT_STATUS)
    main.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    main.add_argument("-v", "--verbose", action="store_true",
                      help="also log each submission as it is graded (grade shows progress either way)")
    commands = main.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="write student hand-outs, otter autograder zips and Gradescope zips")
    build.add_argument("-o", "--output", type=Path, default=Path("dist"), help="output folder (default dist)")
    build.add_argument("--lab", action="append", default=[], help=f"only this lab (repeatable); {LAB_HELP}")

    grade = commands.add_parser("grade", help="grade every .ipynb and .py in a folder against the hidden tests",
                                description="Grade every .ipynb and .py in a folder against the hidden tests. "
                                            "Progress goes to stderr: a progress bar with rate and ETA on a "
                                            "terminal, else one line per submission as its result is written.",
                                epilog="exit status: 0 when every submission got a result (zeros included), "
                                       "2 when grading cannot run (unknown lab, missing folder, no sandbox)")
    grade.add_argument("lab", help=LAB_HELP)
    grade.add_argument("submissions", type=Path, help="folder of submissions; student id = file name without suffix")
    grade.add_argument("-o", "--output", type=Path, required=True,
                       help="output folder: results/, reports/, grades.csv, summary.html, run.json "
                            "(this run's times, reused results and where the time went)")
    grade.add_argument("-j", "--jobs", type=_jobs, default=default_jobs(), metavar="N",
                       help=f"submissions graded at once (default: the number of cores, {default_jobs()} here)")
    grade.add_argument("--force", action="store_true",
                       help="regrade every submission; by default a rerun skips those already graded "
                            "(same file, same tests) in the output folder")
    grade.add_argument(UNSAFE_FLAG, action="store_true",
                       help="UNSAFE: when no sandbox (bubblewrap) works here, run student code as a plain "
                            "process with your own rights instead of refusing; results record isolation 'process'")
    start = grade.add_mutually_exclusive_group()
    start.add_argument("--warm", dest="warm", action="store_true", default=True,
                       help="the default: start one sandbox per job and fork a fresh worker in it for each "
                            "submission (torch is imported once per sandbox, not once per submission)")
    start.add_argument("--cold", dest="warm", action="store_false",
                       help="start a new sandbox, and import torch in it, for every worker (slower; the "
                            "path before warm sandboxes, kept as a check on them)")
    _add_limits(grade)

    check = commands.add_parser("check", help="run the public tests on one file (what a student runs)",
                                epilog="exit status: 0 when every public test passes, 1 when not, "
                                       "2 when the check cannot run (missing file, unknown lab)")
    check.add_argument("lab", help=LAB_HELP)
    check.add_argument("file", type=Path, help="your notebook (.ipynb) or script (.py)")
    _add_limits(check)

    gradescope = commands.add_parser(
        "gradescope", help="grade the upload in Gradescope's container into results/results.json (run_autograder)",
        description="Grade the one notebook or .py file in ROOT/submission/ (whatever its name) with the hidden "
                    "tests and write ROOT/results/results.json in Gradescope's format: this grader's Markdown "
                    "report, one entry per test case, the diagnosis and the metrics. Student code runs in the "
                    "bubblewrap sandbox, or as the unprivileged uid 65534 where bubblewrap does not work.",
        epilog="exit status: 0 when results.json holds a grade (zeros included), 2 when the grader itself "
               "failed (results.json then says so and scores 0)")
    gradescope.add_argument("lab", help=LAB_HELP)
    gradescope.add_argument("--root", type=Path, default=GradescopeConfig.root, metavar="DIR",
                            help=f"Gradescope's autograder folder (default {GradescopeConfig.root})")
    _add_limits(gradescope)

    commands.add_parser("labs", help="print the course catalogue: every lab, its kind, questions and points (Markdown)")

    demo = commands.add_parser("demo", help="build, then grade the bundled example submissions")
    demo.add_argument("-o", "--output", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    demo.add_argument("-j", "--jobs", type=_jobs, default=default_jobs(), metavar="N",
                      help=f"submissions graded at once (default: the number of cores, {default_jobs()} here)")
    return main


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status (0, 1 or 2, see `grader.errors`)."""
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
                                      unsafe_no_sandbox=args.unsafe_no_sandbox, warm=args.warm))
    if args.command == "check":
        from grader import check
        return check.main(CheckConfig(lab=args.lab, file=args.file, limits=_limits(args)))
    if args.command == "gradescope":
        from grader import gradescope
        return gradescope.main(GradescopeConfig(lab=args.lab, root=args.root, limits=_limits(args)))
    if args.command == "labs":
        print(lab_table(), end="")
        return 0
    from grader import demo
    return demo.main(DemoConfig(output=args.output, jobs=args.jobs))
