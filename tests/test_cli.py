"""The command line's face: every command's --help ends with examples and its exit status, as the README says."""

import argparse

import pytest

from grader.cli import parser
from grader.labs import ROOT


def _commands(top: argparse.ArgumentParser, prefix=()):
    """Every (sub)command parser, with its words after `python -m grader`."""
    for action in top._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, command in action.choices.items():
                yield (*prefix, name), command
                yield from _commands(command, (*prefix, name))


COMMANDS = dict(_commands(parser()))


def test_every_command_is_there():
    assert {" ".join(words) for words in COMMANDS} == {
        "build", "grade", "check", "gradescope", "audit", "export", "export canvas", "export moodle", "labs", "demo"}


@pytest.mark.parametrize("words", list(COMMANDS), ids=" ".join)
def test_help_ends_with_examples_of_the_command_then_its_exit_status(words):
    text = COMMANDS[words].format_help()
    examples = text.split("\nexamples:\n")[-1]
    assert "\nexamples:\n" in text and examples.startswith(f"  python -m grader {' '.join(words)}")
    assert "\nexit status: 0" in examples and text.count("\nexit status:") == 1
    assert "options:" not in examples  # the examples come last, after every option


def test_the_readme_documents_every_commands_exit_status():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    for status in ("| 0 |", "| 1 |", "| 2 |"):
        assert status in table
    for command in ("build", "grade", "check", "audit", "export", "demo", "labs"):
        assert f"`{command}`" in table, command
