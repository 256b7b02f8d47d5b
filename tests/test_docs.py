"""The documentation: the site builds with --strict, every page is in its navigation, the README stays a
short, true front page, the course contract names every lab and mistake the catalogue has, and no tracked
file points at a place outside the repository that someone who clones it cannot open.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
import yaml

import quant_mistakes
from grader.labs import LABS, ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
MAX_README_LINES = 200


def _nav_pages(entry) -> list[str]:
    """Every page a mkdocs `nav` entry names, however deeply nested."""
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, list):
        return [page for item in entry for page in _nav_pages(item)]
    if isinstance(entry, dict):
        return [page for value in entry.values() for page in _nav_pages(value)]
    return []


def test_the_site_builds_with_strict(tmp_path):
    """`mkdocs build --strict`: a broken link, a missing anchor or a page left out of the nav fails."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr}\n{done.stdout}"
    assert (tmp_path / "site" / "index.html").is_file()


def test_every_page_is_in_the_nav():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = _nav_pages(config["nav"])
    pages = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))
    assert sorted(set(nav)) == pages, "every page of docs/ in mkdocs.yml's nav, and only those"
    assert len(nav) == len(set(nav)), "a page listed twice in the nav"


def test_the_site_fetches_no_fonts_and_runs_no_networked_plugin():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["theme"]["font"] is False, "theme.font: false, or the pages link Google Fonts"
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in config.get("plugins", ["search"])]
    assert set(plugins) <= {"search"}, plugins


def test_the_readme_is_short_and_opens_with_the_two_commands():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move the detail to docs/"
    fence = lines.index("```sh")
    assert all(line.startswith("#") or not line.strip() for line in lines[:fence]), "only the title before it"
    first, second = lines[fence + 1], lines[fence + 2]
    assert first.startswith("make demo ") and second.startswith("make test "), (first, second)


#: A Markdown link's target: `[text](target)` or `[text](target "title")`.
_LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def relative_links(markdown: str) -> list[str]:
    """The targets of the links that point into the repository (no scheme, no bare anchor), without anchors."""
    code_free = re.sub(r"`[^`\n]*`", "", re.sub(r"```.*?```", "", markdown, flags=re.S))
    targets = [m.group(1) for m in _LINK.finditer(code_free)]
    return [t.split("#", 1)[0] for t in targets if not re.match(r"[a-z][a-z0-9+.-]*:", t) and not t.startswith("#")]


def test_every_relative_link_of_the_readme_exists():
    links = relative_links(README.read_text(encoding="utf-8"))
    assert "docs/course.md" in links
    missing = [link for link in links if not (ROOT / link).exists()]
    assert missing == [], f"README.md links to files that do not exist: {missing}"


def test_relative_links_are_read():
    text = '[a](docs/a.md) [b](https://x.org/b) [c](#c) [d](docs/d.md#part "title") `[e](e.md)`\n```\n[f](f.md)\n```'
    assert relative_links(text) == ["docs/a.md", "docs/d.md"]


def _section(text: str, number: int) -> str:
    return text.split(f"\n## {number}. ", 1)[1].split("\n## ", 1)[0]


def test_the_course_contract_names_every_lab_and_only_catalogued_mistakes():
    course = (DOCS / "course.md").read_text(encoding="utf-8")
    overview = _section(course, 1)
    assert {lab for lab in LABS if f"\n| {lab} |" in overview} == set(LABS)
    mistakes = _section(course, 5)
    ids = set(re.findall(r"^\| `([a-z0-9_]+)` \|", mistakes, flags=re.M))
    catalogued = {mistake.id for mistake in quant_mistakes.MISTAKES.values()}
    assert len(ids) >= 39 and ids <= catalogued, sorted(ids - catalogued)


# -- Nothing outside the repository ------------------------------------------------------------------------------
#
# The patterns are built from pieces, so that this file does not match them itself.
_SLASH = "/"
_TMP = _SLASH + "tmp"
_NOT_AFTER = r"(?<![\w.~-])"  # a path that starts here, not the tail of a longer word or path
OUTSIDE = {
    "the course's shared folder": re.escape(".." + _SLASH + "shared"),
    "the work folder": _NOT_AFTER + re.escape(_SLASH + "work") + r"(?=/|\b)",
    "the farm folder": _NOT_AFTER + re.escape(_SLASH + "farm") + r"(?=/|\b)",
    "root's home": _NOT_AFTER + re.escape(_SLASH + "root") + r"(?=/)",
    "a user's home": _NOT_AFTER + re.escape(_SLASH + "home" + _SLASH) + r"[A-Za-z_]",
    "the temporary folder": _NOT_AFTER + re.escape(_TMP) + r"(?=/|\b)",
    "a package mirror": re.escape(_SLASH + "opt" + _SLASH + "pypi"),
    "a pyenv installation": re.escape(".pyenv" + _SLASH + "versions"),
}
#: Code that truly names the temporary folder: inside the sandbox, or as the place a hostile submission
#: tries to write and the test checks it did not. (file, exact text) pairs; each must still be found.
ALLOWED = {
    ("grader/sandbox/bubblewrap.py", '"--dir", "' + _TMP + '"'),  # the sandbox's own, empty, temporary folder
    ("grader/sandbox/bubblewrap.py", '"' + _TMP + '/probe"'),  # the self-test: that one is not writable
    ("tests/hostile/submissions/writer.ipynb", _TMP + "/writer.json"),  # the hostile write...
    ("tests/hostile/test_hostile.py", 'Path("' + _TMP + '/writer.json")'),  # ...and the check it failed
    ("tests/hostile/test_hostile.py", 'Path("' + _TMP + '")'),
    ("tests/sandbox/test_bubblewrap.py", '"' + _TMP + '/x.bin"'),  # a write the sandbox must refuse
    # a container's folders that any user may write, where the hostile writer's files may land
    ("tests/containers/test_gradescope_container.py", 'WORLD_WRITABLE = ("' + _TMP + '/"'),
    ("docs/gradescope.md", "(`" + _TMP + "`, `/var" + _TMP + "`"),
}


def outside_paths(text: str, allowed: list[str] = ()) -> list[str]:
    """What `text` names outside the repository, after the allowed texts are taken out."""
    for literal in allowed:
        text = text.replace(literal, "")
    found = []
    for what, pattern in OUTSIDE.items():
        for match in re.finditer(pattern, text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(f"line {line}: {what} ({text[match.start():match.start() + 40].splitlines()[0]!r})")
    return found


def _tracked_text_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in sorted(filter(None, listed.decode().split("\0"))):
        path = ROOT / name
        if path.is_symlink() or not path.is_file():
            continue  # deleted in the work tree, or a link
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue  # binary
        try:
            yield name, data.decode("utf-8")
        except UnicodeDecodeError:
            continue


def test_no_tracked_file_names_a_path_outside_the_repository():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no list of tracked files")
    texts = dict(_tracked_text_files())
    assert "README.md" in texts and "pyproject.toml" in texts
    stale = sorted(pair for pair in ALLOWED if pair[0] not in texts or pair[1] not in texts[pair[0]])
    assert stale == [], f"allowed texts no longer found; remove them from ALLOWED: {stale}"
    found = {}
    for name, text in texts.items():
        hits = outside_paths(text, [literal for file, literal in ALLOWED if file == name])
        if hits:
            found[name] = hits
    assert found == {}, ("paths outside the repository (a clone cannot open them); cite the repository's own "
                         f"files, such as docs/course.md, instead: {found}")


def test_the_outside_patterns_find_what_they_should():
    assert outside_paths("see .." + _SLASH + "shared" + "/course/X.md")
    assert outside_paths("written to " + _TMP + "/autograder")
    assert outside_paths("in " + _SLASH + "work" + "/main")
    assert outside_paths(_SLASH + "home" + _SLASH + "alice/x")
    assert outside_paths("python at " + _SLASH + "root" + "/.pyenv" + _SLASH + "versions/3.11")
    assert outside_paths("pip index " + _SLASH + "opt" + _SLASH + "pypi")
    assert outside_paths(_SLASH + "farm" + "/in")
    assert outside_paths("docs/course.md, homework/x, ./autograder, --root " + _SLASH + "autograder") == []
    assert outside_paths("data" + _TMP + "/x, " + _SLASH + "var" + _TMP) == []
    assert outside_paths('open("' + _TMP + '/x")', ['"' + _TMP + '/x"']) == []
