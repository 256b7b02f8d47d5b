"""Loading submissions: notebooks as students leave them, scripts, and files that cannot be read."""

import hashlib
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.labs import LABS
from grader.load import MAX_BYTES, Unreadable, Upload, load_submission


def write_notebook(path, *sources, kernel="python3"):
    notebook = new_notebook(cells=[new_markdown_cell("# Lab")] + [new_code_cell(s) for s in sources])
    notebook.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_code_cells_in_order_with_magics_and_shell_lines_transformed(tmp_path):
    path = write_notebook(tmp_path / "a.ipynb", "%matplotlib inline\nimport torch", "!pip install torch\nx = 1",
                          "%%time\ny = 2", kernel="conda-env-not-installed")
    program = load_submission(path)
    assert program.kind == "notebook"
    assert [c["index"] for c in program.cells] == [2, 3, 4]  # numbered as in the notebook, markdown included
    assert "get_ipython().run_line_magic('matplotlib', 'inline')" in program.cells[0]["source"]
    assert "get_ipython().system('pip install torch')" in program.cells[1]["source"]
    assert program.cells[2]["source"].startswith("get_ipython().run_cell_magic('time'")


def test_otter_calls_are_not_run(tmp_path):
    path = write_notebook(tmp_path / "a.ipynb", 'import otter\ngrader = otter.Notebook("L2-A.ipynb")\nimport torch',
                          'grader.check("linear_dequantization")', "def f():\n    grader.check('x')\n    return 1")
    sources = [c["source"] for c in load_submission(path).cells]
    assert "otter" not in sources[0] and "import torch" in sources[0]
    assert sources[1].strip() == "pass"
    assert "grader.check('x')" in sources[2]  # indented code is the student's own, left alone


def test_an_import_of_otter_inside_a_block_is_not_run_either(tmp_path):
    """The hand-out's set-up cell imports otter inside `try:`, to say what to install when it fails."""
    setup = ("try:\n    import torch\n    import otter\n    from otter import Notebook\nexcept ImportError:\n"
             "    print('pip install -r requirements.txt')\n    raise\ngrader = otter.Notebook('L2-A.ipynb')\nx = 1")
    path = write_notebook(tmp_path / "a.ipynb", setup, "def f():\n    import otter\n    return 1")
    first, second = (c["source"] for c in load_submission(path).cells)
    assert first.splitlines() == ["try:", "    import torch", "    pass", "    pass", "except ImportError:",
                                  "    print('pip install -r requirements.txt')", "    raise", "pass", "x = 1"]
    assert second.splitlines() == ["def f():", "    pass", "    return 1"]


@pytest.mark.parametrize("lab", LABS.values(), ids=list(LABS))
def test_the_handout_setup_cell_is_graded_without_otter(lab):
    program = load_submission(lab.notebook)
    (setup,) = [c["source"] for c in program.cells if "requirements.txt" in c["source"]]
    assert "    import torch" in setup and "    raise" in setup
    assert not re.search(r"^\s*(import|from)\s+otter\b|otter\.Notebook", setup, re.M)
    compile(setup, "setup", "exec")


def test_a_cell_with_a_syntax_error_is_skipped_with_a_note(tmp_path):
    path = write_notebook(tmp_path / "a.ipynb", "def f(:\n    pass", "def g():\n    return 1")
    program = load_submission(path)
    assert [c["index"] for c in program.cells] == [3]
    assert program.notes and "cell 2, line 1" in program.notes[0]


def test_script_with_syntax_error_is_unreadable(tmp_path):
    path = tmp_path / "frank.py"
    path.write_text("import torch\ndef f(x)\n    return x\n")
    with pytest.raises(Unreadable, match="line 2"):
        load_submission(path)


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b'{"cells": [', "could not be read"),
        (b"not json at all", "could not be read"),
        (b"\xff\xfe\x00garbage", "UTF-8"),
        (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}', "no code"),
    ],
)
def test_broken_notebooks_are_unreadable_with_a_clear_message(tmp_path, content, expected):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    with pytest.raises(Unreadable, match=expected):
        load_submission(path)


def test_the_submission_file_is_never_modified(tmp_path):
    path = write_notebook(tmp_path / "a.ipynb", "%matplotlib inline\nx = 1")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    program = load_submission(path)
    assert program.sha256 == before == hashlib.sha256(path.read_bytes()).hexdigest()


def test_other_suffixes_are_refused(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("x = 1")
    with pytest.raises(Unreadable, match=".txt"):
        load_submission(path)


def test_a_script_with_ipython_syntax_is_read_as_a_notebook_cell(tmp_path):
    path = tmp_path / "pasted.py"
    path.write_text("%matplotlib inline\n!pip install torch\nimport torch\ndef f():\n    return 1\n")
    program = load_submission(path)
    assert "get_ipython().system('pip install torch')" in program.cells[0]["source"]
    assert any("IPython syntax" in note for note in program.notes)


def test_uploaded_bytes_load_as_the_file_they_came_from(tmp_path):
    """What a Dask worker receives (a file name and its bytes) reads exactly as the file itself."""
    path = write_notebook(tmp_path / "alice.ipynb", "%matplotlib inline\nimport torch", "x = 1")
    upload = Upload.read(path)
    assert (upload.name, upload.stem, upload.suffix) == ("alice.ipynb", "alice", ".ipynb")
    assert load_submission(upload) == load_submission(path)
    assert load_submission(upload).sha256 == upload.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("upload", "expected"), [
    (Upload("alice.txt", b"x = 1"), ".txt"),
    (Upload("alice.py", b""), "empty"),
    (Upload("alice.py", b"#" * (MAX_BYTES + 1)), "the limit is 20 MiB"),
    (Upload("alice.py", b"\xff\xfe x = 1"), "not UTF-8"),
])
def test_uploaded_bytes_are_refused_as_their_file_would_be(upload, expected):
    with pytest.raises(Unreadable, match=expected):
        load_submission(upload)
