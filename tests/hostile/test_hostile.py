"""Hostile submissions (tests/hostile/submissions/, real files) graded in one batch in the sandbox.

Each is graded on what it really computes, leaves no process, file or network trace, and cannot
change another submission's grade. Some report what they saw from inside the sandbox by raising
`RuntimeError("PROBE {json}")` at the end of their code: the message reaches the result's notes.

The suite holds with a cgroup capping each sandbox and without one (per-process rlimits only: not
root, or no usable cgroup, as `make test-no-cgroup` and `make test-unprivileged` run it), but for the
cases only a cgroup holds (`CGROUP_ONLY`, docs/sandbox.md "Without a cgroup"): their tests assert the
cgroup's hold where there is one, and what the rlimits do hold, and do not, where there is none.
"""

import json
import os
import re
import shutil
import socket
import threading
import time
from html.parser import HTMLParser
from pathlib import Path

import mistune
import pytest

from grader.config import GradeConfig
from grader.grade import grade_batch
from grader.labs import LABS
from grader.report import MEMORY_CAP_NOTE
from grader.sandbox import bubblewrap, caps, why_no_cgroup
from grader.sandbox.isolation import HOST_UID_BASE
from grader.sandbox.limits import Limits

# One batch and one loopback listener for the module: its tests share one xdist worker
# (make test runs --dist loadgroup).
pytestmark = pytest.mark.xdist_group("hostile")

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
#: The cell limit is wall-clock time (`worker._run_cells`) and no file here relies on it; on CI, with the VM
#: beside the suite on 2 cores, the hogs' 2.5 GiB writes and the cgroup's reclaim have taken over 30 s.
LIMITS = Limits(question=10.0, load=120.0, cell=60.0)
LISTENER_PORT = 39217  # network.py tries to reach it
SLEEPER = "HOSTILE-" + "SLEEPER-3b7c"
FAKE_RESULT = "HOSTILE-" + "WRITE-9d1e"
QUANTIZE, DEQUANTIZE = LABS["L2-A"].question_names
#: Which of the two questions each file answers correctly, whatever else it does.
CORRECT = {
    "victim": (True, True),
    "patcher": (True, False),     # wrong dequantization, every comparison monkeypatched to agree
    "eqobject": (True, False),    # an object whose __eq__ always says yes
    "liar": (False, True),        # a tensor subclass that lies in comparisons
    "searcher": (True, True),
    "writer": (True, True),
    "exits": (False, True),       # os._exit
    "sysexit": (False, True),     # sys.exit, SystemExit in a cell
    "segfault": (True, False),
    "spins": (False, True),       # an infinite loop
    "hog": (False, True),         # far more memory than the cap
    "spawner": (True, True),      # detached and double-forked processes, a fork bomb
    "network": (True, True),
    "mutator": (True, True),      # destroys its inputs
    "sloppy": (False, False),     # float codes instead of int8; a NaN
    "shapes": (False, False),     # a shape that only broadcasts; a numpy array
    "printer": (True, True),      # tens of megabytes printed
    "markup": (False, True),      # markup printed and raised
    "hogs": (True, True),         # a fork bomb of memory hogs, more in all than the cap (CGROUP_ONLY)
}
#: The hostile cases only a cgroup holds, and what they do (docs/sandbox.md, "Without a cgroup"); each has a
#: test of its own below, which asserts what holds with a cgroup and what holds without one.
CGROUP_ONLY = {
    "hogs": "several processes that hold more memory in all than the cap, none more than the cap alone",
    "memfd": "memory held in files it never maps (memfd), outside every process's address space",
}
#: The caps a run must find (`run.json`'s `caps`), when it says so: the runs meant to grade without a cgroup
#: set it to "rlimits", so that one that found a cgroup after all fails instead of passing for the wrong reason.
EXPECTED_CAPS = os.environ.get("QGRADE_EXPECT_CAPS")


class Listener:
    """A TCP server on the host's loopback that no sandbox should ever reach."""

    def __init__(self, port: int):
        self.connections = 0
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", port))
        self.server.listen()
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def stop(self):
        self.stopped.set()
        self.thread.join()
        self.server.close()


#: Seconds the processes of ended sandboxes may take to go: the kernel kills a pid namespace's processes
#: (and a cgroup's) asynchronously, which takes a moment with the VM's emulation beside the suite on 2 cores.
GONE_WITHIN = 20.0


def _sandbox_processes(within: float = GONE_WITHIN) -> list[str]:
    """Host processes that this process's sandboxes started and that are still there after `within`
    seconds: their uids, or the sleepers' marker, with their state (a sleeper that escaped stays `S`).

    Sandbox uids are allotted per grader process (see `isolation.worker_uid`), so sandboxes of
    tests running beside this one, in other processes, are not counted.
    """
    deadline = time.monotonic() + within
    while (left := _sandbox_processes_now()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


def _sandbox_processes_now() -> list[str]:
    first = HOST_UID_BASE + (os.getpid() % 1000) * 1000
    left = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            uid = int(status.split("\nUid:\t")[1].split()[0])
            state = status.split("\nState:\t")[1].split()[0]
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError, ValueError):
            continue
        if first <= uid < first + 1000 or SLEEPER in command:
            left.append(f"{entry.name} uid={uid} state={state} {command[:100]}")
    return left


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-submissions")
    for path in SUBMISSIONS.iterdir():
        shutil.copy(path, folder / path.name)
    output = tmp_path_factory.mktemp("hostile-out")
    assert not Path("/tmp/writer.json").exists()
    listener = Listener(LISTENER_PORT)
    try:
        results = grade_batch(GradeConfig(lab="L2-A", submissions=folder, output=output, jobs=2, limits=LIMITS))
    finally:
        listener.stop()
    assert '"warm": true' in (output / "run.json").read_text()  # the default path
    return {r.student: r.to_dict() for r in results}, output, folder, listener.connections


def _probe(result: dict) -> dict:
    for note in result["notes"]:
        if "PROBE " in note:
            return json.loads(note.split("PROBE ", 1)[1].rsplit("}", 1)[0] + "}")
    raise AssertionError(f"no probe in {result['notes']}")


def _question(result: dict, name: str) -> dict:
    return next(q for q in result["questions"] if q["name"] == name)


def test_the_batch_completes_in_the_sandbox(batch):
    results, output, _, _ = batch
    sandbox = bubblewrap.available()[0].name  # "bubblewrap+cgroup" when root can make cgroups
    assert sorted(results) == sorted(CORRECT.keys() | CGROUP_ONLY.keys())
    for student, result in results.items():
        assert result["status"] == "graded", student
        assert result["grader"]["isolation"] == sandbox
        assert json.loads((output / "results" / f"{student}.json").read_text()) == result
    assert f"<code>{sandbox}</code>" in (output / "summary.html").read_text()


def test_the_caps_in_force_are_recorded_and_said(batch):
    results, output, _, _ = batch
    sandbox = bubblewrap.available()[0]
    run = json.loads((output / "run.json").read_text())
    assert run["caps"] == caps(sandbox.name)
    if EXPECTED_CAPS:
        assert run["caps"] == EXPECTED_CAPS, run["cgroup_problem"]
    summary = (output / "summary.html").read_text()
    noted = sorted(s for s in results if MEMORY_CAP_NOTE in (output / "reports" / f"{s}.html").read_text())
    if sandbox.cgroups:
        assert run["caps"] in ("cgroup v1", "cgroup v2") and run["cgroup_problem"] is None
        assert "without a cgroup" not in summary and noted == []
    else:  # said to the instructor, and to the students whose code ran out of memory
        assert run["cgroup_problem"] == why_no_cgroup(sandbox) and run["cgroup_problem"].startswith("cgroup v1: ")
        assert f"{len(results)} submission(s) were graded without a cgroup" in summary
        assert "hog" in noted and "victim" not in noted, noted


def test_each_is_graded_on_what_it_really_computes(batch):
    results, _, _, _ = batch
    for student, expected in CORRECT.items():
        for name, right in zip((QUANTIZE, DEQUANTIZE), expected, strict=True):
            question = _question(results[student], name)
            if right:
                failed = [t["message"] for t in question["tests"] if not t["passed"]]
                assert question["score"] == question["max_score"] > 0, (student, name, failed)
            else:
                assert question["score"] == 0, (student, name)


def test_deaths_cost_only_their_question(batch):
    results, _, _, _ = batch
    assert _question(results["exits"], QUANTIZE)["status"] == "crashed"
    assert "SIGSEGV" in _question(results["segfault"], DEQUANTIZE)["message"]
    assert _question(results["spins"], QUANTIZE)["status"] == "timeout"
    sysexit = _question(results["sysexit"], QUANTIZE)
    assert all("SystemExit: bye" in t["message"] for t in sysexit["tests"])


def test_a_neighbour_never_changes_a_grade(batch, tmp_path):
    results, _, folder, _ = batch
    (tmp_path / "alone").mkdir()
    shutil.copy(folder / "victim.py", tmp_path / "alone")
    [alone] = [r.to_dict() for r in grade_batch(GradeConfig(lab="L2-A", submissions=tmp_path / "alone",
                                                            output=tmp_path / "out", limits=LIMITS))]

    def strip(r):
        return [(q["name"], q["score"], [(t["name"], t["passed"], t["message"]) for t in q["tests"]])
                for q in r["questions"]]

    assert strip(alone) == strip(results["victim"])


def test_the_disk_holds_nothing_to_find(batch):
    results, _, _, _ = batch
    found = _probe(results["searcher"])
    assert found["names"] == [] and found["contents"] == [], found
    assert "home" not in found["roots"] and "scratch" in found["roots"], found["roots"]
    # Only the sandbox's own processes, whose command lines may name where Python lives (a venv of a
    # checkout called quantization-grader, say): bwrap and the worker's Python. None of the grader's own.
    others = [p for p in found["processes"] if "/worker/" not in p and not p.split(" ")[0].endswith("/bwrap")]
    assert not [p for p in others if "pytest" in p or "grader" in p], found["processes"]


def test_fake_results_land_nowhere_outside_the_scratch(batch):
    results, output, folder, _ = batch
    written = _probe(results["writer"])["written"]
    assert written and all(path.startswith("/scratch/") for path in written), written
    assert results["writer"]["score"] == results["writer"]["max_score"]  # its own result, not the fake 100
    assert not Path("/tmp/writer.json").exists()
    for place in (output, folder, Path(__file__).resolve().parents[2]):
        assert not [p for p in place.rglob("*")
                    if FAKE_RESULT in p.name or p.name == "writer.json" and "results" not in p.parts], place
    assert not [p for p in Path("/tmp").iterdir() if FAKE_RESULT in p.name]


def test_no_process_is_left_behind(batch):
    results, _, _, _ = batch
    forked = _probe(results["spawner"])["forked"]
    assert 0 < forked < LIMITS.processes
    assert _sandbox_processes() == []


def test_the_network_is_unreachable(batch):
    results, _, _, connections = batch
    assert _probe(results["network"]) == {"reached": []}
    assert connections == 0


def test_memory_beyond_the_cap_is_refused(batch):
    results, _, _, _ = batch
    attempts = _probe(results["hog"])
    assert attempts and all(outcome != "allocated" for outcome in attempts.values()), attempts


def test_a_fork_bomb_of_memory_hogs_is_held_by_the_cgroup_and_each_hog_by_its_own_cap(batch):
    results, _, _, _ = batch
    seen = _probe(results["hogs"])
    if bubblewrap.available()[0].cgroups:  # the cap holds all the sandbox's processes together: hogs are killed
        assert seen["alone"] == "killed" and "killed" in seen["together"], seen
    else:  # CGROUP_ONLY: each process is held to its own cap, and four hold 2.5 GiB in all
        assert seen == {"alone": "refused", "together": ["finished"] * 4}, seen


def test_memory_outside_every_address_space_is_held_by_the_cgroup(batch):
    results, _, _, _ = batch
    memfd = results["memfd"]
    if bubblewrap.available()[0].cgroups:  # its worker is stopped at the cap, while loading: no question runs
        for question in memfd["questions"]:
            assert question["status"] == "crashed" and question["score"] == 0, question
            assert "used more than the 2 GiB memory cap" in question["message"], question["message"]
    else:  # CGROUP_ONLY: no rlimit counts it, so it holds 2.5 GiB, and is graded on its (right) functions
        assert _probe(memfd) == {"held_mib": 2560, "files": 80}
        assert memfd["score"] == memfd["max_score"]


def test_markup_reaches_no_report_unescaped(batch):
    results, output, _, _ = batch
    texts = " ".join([*results["markup"]["notes"],
                      *(t["message"] for q in results["markup"]["questions"] for t in q["tests"])])
    assert "<script>" in texts  # the submission's own words are kept in the data...
    html = (output / "reports" / "markup.html").read_text()
    # The raised text reaches the report as text: escaped, so a browser shows it and runs nothing.
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    # No live element or attribute: parse the page as a browser would and look at its real tags.
    assert _live_markup(html) == []
    # ...and a Markdown renderer that lets raw HTML through (as some LMSs do) still shows them as text.
    rendered = mistune.create_markdown(escape=False)((output / "reports" / "markup.md").read_text())
    assert "<script" not in rendered.lower() and "<img" not in rendered.lower() and "<b>" not in rendered
    assert _live_markup(rendered) == []
    assert _live_markup((output / "summary.html").read_text()) == []


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def _live_markup(html: str) -> list[str]:
    """The tags a browser would act on that the student's text could have put there: a script, an
    event-handler attribute (`onerror=...`) on any tag, a `javascript:` link, or an image that is not
    the summary's own inline histogram."""
    parser = _Tags()
    parser.feed(html)
    parser.close()

    def live(tag: str, attrs: dict) -> bool:
        urls = [str(attrs.get(name) or "").strip().lower() for name in ("href", "src")]
        return (tag == "script" or any(name.lower().startswith("on") for name in attrs)
                or any(url.startswith("javascript:") for url in urls)
                or tag == "img" and not urls[1].startswith("data:image/"))

    return [f"<{tag} {attrs}>" for tag, attrs in parser.tags if live(tag, attrs)]


def test_live_markup_finds_what_escaping_would_have_stopped():
    # The check above must be able to fail: a live attribute is found, the same text escaped is not.
    assert _live_markup('<p>x</p><img src=x onerror=alert(2)>') == ["<img {'src': 'x', 'onerror': 'alert(2)'}>"]
    assert _live_markup('<div onclick="f()">x</div>') == ["<div {'onclick': 'f()'}>"]
    assert _live_markup('<a href=" JavaScript:alert(1)">x</a><script>1</script>') == [
        "<a {'href': ' JavaScript:alert(1)'}>", "<script {}>"]
    assert _live_markup("<p>&lt;img src=x onerror=alert(2)&gt; &lt;script&gt;</p>") == []
    assert _live_markup('<img class="hist" src="data:image/png;base64,AAAA" alt="h">') == []


def test_big_output_costs_nothing(batch):
    results, output, _, _ = batch
    assert results["printer"]["score"] == results["printer"]["max_score"]
    for path in output.rglob("*"):
        if path.is_file() and path.name != "summary.html":
            # A report's pictures (embedded PNGs, at most 6) are bounded on their own: under 1 MB in all.
            text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", path.read_text(errors="replace"))
            assert len(text.encode()) < 200_000 and path.stat().st_size < 1_000_000, path


def test_notes_and_messages_are_cut_to_a_bounded_size(batch):
    results, _, _, _ = batch
    for result in results.values():
        for text in [*result["notes"], *(t["message"] for q in result["questions"] for t in q["tests"])]:
            assert len(text) <= 4100
