"""The command line's face: every command's --help ends with examples and its exit status, as the docs say."""

import argparse
import re

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


def statuses(words: tuple[str, ...]) -> set[str]:
    """The exit statuses a command's --help lists: "exit status: 0 done, 1 ..., 2 ..." gives {"0", "1", "2"}."""
    text = " ".join(COMMANDS[words].format_help().split("\nexit status:", 1)[1].split())
    return set(re.findall(r"(?:^|, )([0-9])(?= |$)", text))


def test_the_docs_document_every_commands_exit_status():
    """Every command of the parser, nested ones included: each status its --help lists has a row in the
    table of docs/instructors.md, and the rows of 0, 1 and 3 name the command (2, "cannot run at all", holds
    for all)."""
    page = (ROOT / "docs" / "instructors.md").read_text(encoding="utf-8")
    table = page.split("## Exit status", 1)[1].split("\n## ", 1)[0]
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if re.match(r"\| [0-9] \|", line)}
    assert set(rows) == {"0", "1", "2", "3"}
    for words in COMMANDS:
        listed = statuses(words)
        assert "0" in listed and listed <= set(rows), (words, listed)
        for status in listed - {"2"}:
            # A nested command (`export canvas`) is typed after its command, which the table names.
            assert f"`{words[0]}`" in rows[status], (words, status)


def test_the_statuses_of_a_help_text_are_read():
    assert statuses(("check",)) == {"0", "1", "2"}
    assert statuses(("labs",)) == {"0"}
    assert statuses(("grade",)) == statuses(("demo",)) == {"0", "2", "3"}
    assert statuses(("export", "canvas")) == {"0", "1", "2"}
