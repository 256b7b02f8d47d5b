"""Autograder for "Quantization in Depth".

A submission takes one path through the package, one module per step:

    load      (load.py)            notebook or script -> Program (cells ready to run)
    run       (sandbox/)           Program runs in a separate worker process; calls cross as data
    judge     (judge.py)           otter test files run here, against the reference, via the worker
    report    (report.py)          jinja2 feedback for the student, summary for the instructor
    export    (export.py)          results JSON, grades.csv, written atomically

What a submission's grading produces is a typed record (results.py: `SubmissionResult`, with
its questions and tests); every step after judging reads it, and its JSON schema is documented
there.

Commands live in subpackages (`build`, `grade`, `check`, `gradescope`, `demo`), each with a small `main`.
"""

__version__ = "0.1.0"
