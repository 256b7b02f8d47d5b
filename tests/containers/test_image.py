"""The container image (Dockerfile, `make image`), built on the imported Debian root, grading under
Docker's default profile, where bubblewrap may not make namespaces and the grader takes an unprivileged
uid per submission (docs/sandbox.md, "In a container").

- `make image BASE=<the debootstrap image> TORCH=<the folder pip's find-links names>` builds it.
- `demo` in it gives every bundled example the grades the host gives (tests/records/behaviour.json).
- The hostile submissions, graded in it, get what the container lets the grader enforce; what it cannot
  enforce without a sandbox or a cgroup (`UNENFORCED_HERE`) is asserted as it is, so a change shows.
- `check` works in it; as a user other than root the refusal names the cause and what to do; with
  bubblewrap let through (seccomp and /proc unmasked), the same image grades in the full sandbox.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

import mistakes
import pythons
from ci import in_ci
from containers.engine import DOCKER
from hostile.test_hostile import CGROUP_ONLY, CORRECT, DEQUANTIZE, QUANTIZE

pytestmark = pytest.mark.xdist_group("containers")

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = ROOT / "tests" / "hostile" / "submissions"
IMAGE = "quant-grader:test"
#: The hostile files whose sandbox behaviour an unprivileged uid without a cgroup does not give, and why: the
#: rest of tests/hostile holds in the container too (below). docs/sandbox.md, "In a container", lists them.
UNENFORCED_HERE = {
    **CGROUP_ONLY,
    "searcher": "it sees the container's files that any user may read and its processes (not the hidden ones)",
    "writer": "it may write to world-writable folders (never the results)",
}
#: Run after grading, in the same container: the processes left under the workers' uids.
LEFT_RUNNING = ("import os\nleft = []\nfor p in os.listdir('/proc'):\n    try:\n"
                "        uid = int(open(f'/proc/{p}/status').read().split('\\nUid:\\t')[1].split()[0])\n"
                "    except (OSError, IndexError, ValueError):\n        continue\n"
                "    if uid >= 3_000_000:\n        left.append(p)\nprint('LEFT', len(left))\n")


def _torch_folder() -> Path:
    """The folder pip's find-links names here, holding torch 2.13.0's CPU wheel for Debian bookworm's 3.11."""
    named = os.environ.get("PIP_FIND_LINKS", "").split()
    listed = subprocess.run(["pip", "config", "list"], capture_output=True, text=True).stdout.splitlines()
    named += [line.split("=", 1)[1].strip("'\" ") for line in listed if "find-links" in line]
    for folder in map(Path, named):
        if list(folder.glob("torch-2.13.0*cp311*.whl")):
            return folder
    reason = f"no folder of torch 2.13.0's wheel for Python 3.11 among pip's find-links ({named})"
    pytest.fail(reason) if in_ci() else pytest.skip(reason)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def image(docker, debian_base) -> str:
    done = subprocess.run(["make", "-C", str(ROOT), "image", f"BASE={debian_base}", f"TORCH={_torch_folder()}",
                           f"IMAGE={IMAGE}", f"DOCKER={DOCKER}"], capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert docker("image", "inspect", IMAGE, "--format", "{{json .Config.Entrypoint}}").stdout.strip() == (
        '["/opt/quant-grader/venv/bin/python","-m","grader"]')
    return IMAGE


def _private(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)  # as docs/sandbox.md asks: only root reads the submissions
    return folder


def test_the_demo_in_the_image_grades_every_example_as_the_host_does(docker, image, tmp_path):
    out = _private(tmp_path / "out")
    done = docker.run(image, ["demo", "-o", "/out"], mounts={str(out): "/out"})
    assert pythons.record_differences(out) == []
    run = json.loads((out / "L2-A" / "run.json").read_text())
    assert run["isolation"] == "unprivileged-uid" and run["caps"] == "rlimits"
    assert [line.split(":")[0] for line in run["unenforced"]] == ["files", "processes", "memory"]  # no network
    assert "runs as an unprivileged uid of its own" in done.stderr and "--unsafe-no-sandbox" not in done.stderr
    assert "ran as an unprivileged uid of their own" in (out / "L2-A" / "summary.html").read_text()


@pytest.fixture(scope="module")
def hostile(docker, image, tmp_path_factory) -> dict[str, dict]:
    """The hostile submissions graded by `grade` in the image, then the processes left under the workers' uids."""
    subs, out = _private(tmp_path_factory.mktemp("subs")), _private(tmp_path_factory.mktemp("out"))
    for path in HOSTILE.iterdir():
        (subs / path.name).write_bytes(path.read_bytes())
    script = ("/opt/quant-grader/venv/bin/python -m grader grade L2-A /subs -o /out --question-timeout 10 "
              "--load-timeout 120 --cell-timeout 60; echo GRADE-EXIT $?; /opt/quant-grader/venv/bin/python -c "
              f"{shlex.quote(LEFT_RUNNING)}")
    done = docker("run", "--rm", "--network", "none", "-v", f"{subs}:/subs:ro", "-v", f"{out}:/out",
                  "--entrypoint", "/bin/sh", image, "-c", script, timeout=1500)
    assert "GRADE-EXIT 0" in done.stdout and "LEFT 0" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    return {p.stem: json.loads(p.read_text()) for p in (out / "results").glob("*.json")}


def _question(result: dict, name: str) -> dict:
    return next(q for q in result["questions"] if q["name"] == name)


def _probe(result: dict) -> dict:
    note = next(n for n in result["notes"] if "PROBE " in n)
    return json.loads(note.split("PROBE ", 1)[1].rsplit("}", 1)[0] + "}")


def test_hostile_submissions_are_graded_on_what_they_compute(hostile):
    assert sorted(hostile) == sorted(CORRECT.keys() | CGROUP_ONLY.keys())
    assert {r["grader"]["isolation"] for r in hostile.values()} == {"unprivileged-uid"}
    for student, expected in CORRECT.items():
        for name, right in zip((QUANTIZE, DEQUANTIZE), expected, strict=True):
            question = _question(hostile[student], name)
            assert question["score"] == (question["max_score"] if right else 0), (student, name, question["message"])


def test_what_the_container_lets_the_grader_enforce_holds(hostile):
    assert _question(hostile["exits"], QUANTIZE)["status"] == "crashed"
    assert "SIGSEGV" in _question(hostile["segfault"], DEQUANTIZE)["message"]
    assert _question(hostile["spins"], QUANTIZE)["status"] == "timeout"
    assert 0 < _probe(hostile["spawner"])["forked"] < 256  # the process cap, counted for the worker's own uid
    assert all(outcome != "allocated" for outcome in _probe(hostile["hog"]).values())
    assert _probe(hostile["network"]) == {"reached": []}  # --network none
    found = _probe(hostile["searcher"])
    # Neither the hidden material (the grader's alone) nor a classmate's file (a folder root's alone): only
    # the container's own /home, whose name it looks for too.
    assert set(found["names"]) <= {"/home"} and found["contents"] == [], found
    assert hostile["writer"]["score"] == hostile["writer"]["max_score"]  # its own result, not its fake


def test_what_it_cannot_enforce_is_as_documented(hostile):
    assert _probe(hostile["hogs"]) == {"alone": "refused", "together": ["finished"] * 4}  # no cgroup holds the sum
    assert _probe(hostile["memfd"]) == {"held_mib": 2560, "files": 80}
    assert any("grader grade L2-A" in line for line in _probe(hostile["searcher"])["processes"])  # the grader's
    sandbox_md = (ROOT / "docs" / "sandbox.md").read_text()
    for what in UNENFORCED_HERE:
        assert f"`{what}`" in sandbox_md, what


def test_check_works_in_the_image(docker, image, tmp_path):
    lab = _private(tmp_path / "lab")
    (lab / "mine.py").write_text(mistakes.COURSE_LITERAL)
    done = docker.run(image, ["check", "L2-A", "/lab/mine.py"], mounts={str(lab): "/lab"})
    assert "Ran as a separate unprivileged user" in done.stdout, done.stdout
    assert "All test cases passed!" in done.stdout and "Public tests: 5 / 5 points." in done.stdout, done.stdout


#: Asks for the isolation `grade` would take, and prints the refusal if there is none.
CHOOSE = ("from grader.sandbox import SandboxUnavailable, choose\ntry:\n    print('CHOSE', choose().name)\n"
          "except SandboxUnavailable as refusal:\n    print('REFUSED', refusal)\n")
#: What lets bubblewrap make its namespaces and mount its /proc in a container, for a user other than root.
LET_THROUGH = ["--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined"]


def _choose(docker, image: str, *options: str) -> str:
    done = docker("run", "--rm", "--network", "none", *options, "--entrypoint", "/opt/quant-grader/venv/bin/python",
                  image, "-c", CHOOSE)
    return " ".join(done.stdout.split())


def test_as_another_user_the_refusal_names_the_cause_and_what_to_do(docker, image):
    said = _choose(docker, image, "--user", "grader")
    assert said.startswith("REFUSED bubblewrap is installed, but this system does not let it make namespaces"), said
    assert "No permissions to create new namespace" in said and "apt-get install" not in said
    assert "as a user other than root in a container started with " + " ".join(LET_THROUGH) in said


def test_with_bubblewrap_let_through_the_image_grades_in_the_sandbox(docker, image, tmp_path):
    assert _choose(docker, image, *LET_THROUGH) == "CHOSE unprivileged-uid"  # root in a container has no
    # CAP_SYS_ADMIN to build the view as root does: it falls back (docs/sandbox.md, "In a container")
    out = _private(tmp_path / "out")
    os.chown(out, 1000, 1000)  # the image's user `grader`
    docker("run", "--rm", "--network", "none", "--user", "grader", *LET_THROUGH, "-v", f"{out}:/out", image,
           "grade", "L2-A", "/opt/quant-grader/material/examples/L2-A", "-o", "/out", timeout=900)
    run = json.loads((out / "run.json").read_text())
    assert run["isolation"] == "bubblewrap" and run["unenforced"] == [
        "memory: capped for each process on its own (rlimits), not for all of a sandbox's processes together"]
    recorded = json.loads(pythons.RECORD.read_text())["examples"]["L2-A"]
    graded = {p.stem: json.loads(p.read_text())["score"] for p in (out / "results").glob("*.json")}
    assert graded == {student: result["score"] for student, result in recorded.items()}
