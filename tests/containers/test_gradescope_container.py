"""Gradescope's image, for real: dist/gradescope/L2-A.zip unpacked at /autograder/source in a fresh
Debian bookworm root (debootstrap, `containers.engine.debian_base`), its `setup.sh` run as Gradescope
runs it (as root, with the network), the container committed as the autograder's image, and
`/autograder/run_autograder` run on right, wrong, unreadable and hostile uploads with no network.

The uploads are graded twice, in containers of the one image: once where bubblewrap works, once under
Docker's default seccomp profile, where no user namespace can be made and the grader falls back to
an unprivileged uid (`grader.sandbox.for_gradescope`). Each results.json must be what Gradescope
accepts (tests/gradescope_results.py) and score what the course records for the same files on the
host: the bundled examples' grades in tests/records/behaviour.json, and the hostile files' verdicts
in tests/hostile/test_hostile.py (`CORRECT`).

setup.sh takes torch from the local CPU wheel (`TORCH_INDEX_URL`, the folder pip's find-links names
here), and pip the host's CA bundle (`PIP_CERT`); the rest comes from Debian's mirror and PyPI, as on
Gradescope. One container grades every upload of a run in turn, as Gradescope's harness would run
them one after another: the results folder and the submission are fresh for each.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from ci import in_ci
from containers.engine import Docker
from grader.build.gradescope import PREFIX, SETUP, TORCH_VERSION
from grader.labs import LABS
from gradescope_results import check_shape, schema_problems
from hostile.test_hostile import CORRECT

pytestmark = pytest.mark.xdist_group("containers")

LAB = LABS["L2-A"]
TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent
EXAMPLES = ROOT / "examples" / LAB.id
HOSTILE = TESTS / "hostile" / "submissions"
#: The host's CA bundle, for setup.sh's pip (the registries' certificates here chain to a CA in it).
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
#: The local CPU wheel of torch for bookworm's python3 (3.11), in the folder pip's find-links names here.
TORCH_WHEEL = f"torch-{TORCH_VERSION}-cp311-cp311-*.whl"
FAKE_RESULT = "HOSTILE-" + "WRITE-9d1e"  # what tests/hostile/submissions/writer.ipynb writes wherever it can
#: The folders of a Debian container that any user may write to (sticky, mode 1777).
WORLD_WRITABLE = ("/tmp/", "/var/tmp/", "/dev/shm/", "/dev/mqueue/", "/run/lock/")

#: Each upload: its folder's name inside the container (graded in this order), and its one file.
UPLOADS = {
    "1-right": EXAMPLES / "alice.ipynb",
    "2-wrong": EXAMPLES / "carol.ipynb",
    "3-unreadable": EXAMPLES / "erin.ipynb",
    "4-hostile-writer": HOSTILE / "writer.ipynb",    # writes fake results wherever it can reach
    "5-hostile-patcher": HOSTILE / "patcher.py",     # monkeypatches every comparison to agree
    "6-hostile-spawner": HOSTILE / "spawner.py",     # detached, double-forked processes, a fork bomb
}
#: The uploads from the bundled examples, by the name the course's record keeps their grades under.
RECORDED = {"1-right": "alice", "2-wrong": "carol", "3-unreadable": "erin"}
PROFILES = {"bubblewrap": True, "default-seccomp": False}

#: Runs in the container, as root, with the grader's Python: each upload into a fresh
#: /autograder/submission, then /autograder/run_autograder as Gradescope runs it; prints one JSON
#: object with what each run left (its results.json, the results folder, processes still alive).
DRIVER = r"""
import json, os, shutil, subprocess, sys
from pathlib import Path

ROOT = Path("/autograder")

def reap():
    while True:  # this driver is PID 1: orphans become its zombies
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return

def processes():
    reap()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) not in (1, os.getpid()):
            try:
                uid = int((entry / "status").read_text().split("\nUid:\t")[1].split()[0])
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            found.append(f"{entry.name} uid={uid} {command[:200]}")
    return found

control = subprocess.Popen(["sleep", "60"])  # the listing must find a process that is there
listed = any(p.startswith(f"{control.pid} ") for p in processes())
control.kill()
control.wait()
runs = {}
for name in sys.argv[1:]:
    for folder in ("submission", "results"):
        shutil.rmtree(ROOT / folder, ignore_errors=True)
    shutil.copytree(Path("/uploads") / name, ROOT / "submission")
    (ROOT / "results").mkdir()
    done = subprocess.run([str(ROOT / "run_autograder")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    results = ROOT / "results" / "results.json"
    runs[name] = {
        "status": done.returncode, "stdout": done.stdout[-3000:], "stderr": done.stderr[-3000:],
        "results": results.read_text() if results.is_file() else None,
        "results_folder": sorted(os.listdir(ROOT / "results")),
        "results_mode": oct((ROOT / "results").stat().st_mode & 0o777),
        "source_mode": oct((ROOT / "source").stat().st_mode & 0o777),
        "processes": processes(),
    }
Path("/var/tmp/control-FAKE.json").write_text("{}")  # the search must find a file that is there
fakes = []
for where, folders, files in os.walk("/"):
    if where in ("/proc", "/sys", "/uploads"):
        folders[:] = []
        continue
    fakes += [os.path.join(where, f) for f in files if "FAKE" in f or f == "writer.json"]
import torch
found_control = "/var/tmp/control-FAKE.json" in fakes
fakes.remove("/var/tmp/control-FAKE.json") if found_control else None
print(json.dumps({"runs": runs, "fakes": sorted(fakes), "torch": torch.__version__,
                  "controls": {"process listed": listed, "fake found": found_control}}))
""".replace("FAKE", FAKE_RESULT)


def _unzip(archive: Path, folder: Path) -> None:
    """As Gradescope unpacks the zip: every file, with the mode the zip records."""
    with zipfile.ZipFile(archive) as zipped:
        for info in zipped.infolist():
            path = Path(zipped.extract(info, folder))
            mode = info.external_attr >> 16 & 0o7777
            if mode:
                path.chmod(mode)


def _expected_scores() -> dict[str, dict]:
    """What the host gives each upload: per question, its score (and mistake, for the examples)."""
    record = json.loads((TESTS / "records" / "behaviour.json").read_text(encoding="utf-8"))["examples"][LAB.id]
    expected = {}
    for upload, student in RECORDED.items():
        graded = record[student]
        expected[upload] = {"score": graded["score"], "status": graded["status"],
                            "questions": {q["name"]: (q["score"], q["mistake"]) for q in graded["questions"]}}
    for upload, path in UPLOADS.items():
        if upload in RECORDED:
            continue
        rights = CORRECT[path.stem]  # the host's hostile batch: which question it answers rightly
        scores = {q.name: float(q.points) * right for q, right in zip(LAB.questions, rights, strict=True)}
        expected[upload] = {"score": sum(scores.values()), "status": "graded",
                            "questions": {name: (score, None) for name, score in scores.items()}}
    return expected


EXPECTED = _expected_scores()


def _find_links() -> list[Path]:
    """The folders pip's find-links names here (its environment, then its configuration)."""
    named = os.environ.get("PIP_FIND_LINKS", "").split()
    configured = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                                capture_output=True, text=True)
    named += configured.stdout.split() if configured.returncode == 0 else []
    return [Path(n.removeprefix("file://")) for n in named if not n.startswith(("http:", "https:"))]


@pytest.fixture(scope="module")
def torch_wheels() -> Path:
    """The folder holding torch's CPU wheel for Python 3.11: setup.sh installs torch from it."""
    for folder in _find_links():
        if folder.is_dir() and list(folder.glob(TORCH_WHEEL)):
            return folder
    reason = f"no {TORCH_WHEEL} in the folders pip's find-links names ({_find_links()})"
    if in_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


SETUP_CONTAINER, AUTOGRADER_IMAGE = "qgrade-gradescope-setup", "quant-grader-gradescope"


def _alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        pass
    return True


def _remove_leftovers(docker: Docker) -> None:
    """The setup containers and autograder images of runs that were killed (each named by its pid)."""
    names = docker("ps", "--all", "--filter", f"name={SETUP_CONTAINER}-", "--format", "{{.Names}}").stdout.split()
    for name in names:
        if not _alive(name.rsplit("-", 1)[-1]):
            docker("rm", "--force", name, check=False)
    for tag in docker("images", AUTOGRADER_IMAGE, "--format", "{{.Tag}}").stdout.split():
        if not _alive(tag.rsplit("-", 1)[-1]):
            docker("image", "rm", "--force", f"{AUTOGRADER_IMAGE}:{tag}", check=False, timeout=300)


@pytest.fixture(scope="module")
def autograder_image(docker: Docker, debian_base: str, dist: Path, torch_wheels: Path, tmp_path_factory):
    """The debootstrap root after setup.sh: committed once for the module, removed after it."""
    assert HOST_CA.is_file(), f"{HOST_CA} is missing: pip in the container would trust no registry"
    _remove_leftovers(docker)
    stage = tmp_path_factory.mktemp("stage")
    _unzip(dist / "gradescope" / f"{LAB.id}.zip", stage / "autograder" / "source")
    name = f"{SETUP_CONTAINER}-{os.getpid()}"
    image = f"{AUTOGRADER_IMAGE}:{LAB.id.lower()}-{os.getpid()}"
    # Gradescope: setup.sh as root, with the network; then run_autograder copied to /autograder.
    # The variables go on the command line, so the committed image keeps none of them.
    script = ("cd /autograder/source && env PIP_CERT=/opt/host-ca/ca-certificates.crt TORCH_INDEX_URL=/opt/host-wheels "
              "bash ./setup.sh && cp /autograder/source/run_autograder /autograder/run_autograder")
    docker("create", "--name", name, "-v", f"{torch_wheels}:/opt/host-wheels:ro",
           "-v", f"{HOST_CA}:/opt/host-ca/ca-certificates.crt:ro", debian_base, "bash", "-c", script)
    try:
        docker("cp", str(stage / "autograder"), f"{name}:/")
        begun = time.monotonic()
        setup = docker("start", "--attach", name, timeout=1800, check=False)
        print(f"setup.sh ran in {time.monotonic() - begun:.0f} s")
        assert setup.returncode == 0, f"setup.sh failed:\n{(setup.stdout + setup.stderr)[-4000:]}"
        docker("commit", "--change", 'CMD ["/bin/bash"]', name, image, timeout=900)
    finally:
        docker("rm", "--force", name, check=False)
    yield image, setup.stdout + setup.stderr
    docker("image", "rm", "--force", image, check=False, timeout=300)


@pytest.fixture(scope="module")
def uploads(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("uploads")
    folder.chmod(0o755)
    for upload, path in UPLOADS.items():
        (folder / upload).mkdir()
        shutil.copy(path, folder / upload / path.name)
    return folder


@pytest.fixture(scope="module", params=list(PROFILES))
def graded(request, docker: Docker, autograder_image, uploads: Path) -> tuple[str, dict]:
    """(the profile, what the container's driver reported): every upload graded with no network."""
    image, _ = autograder_image
    begun = time.monotonic()
    done = docker.run(image, [f"{PREFIX}/bin/python", "-c", DRIVER, *UPLOADS],
                      read_only_mounts={str(uploads): "/uploads"}, bubblewrap=PROFILES[request.param],
                      network="none", timeout=1800)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for upload, run in report["runs"].items():  # shown with -s (-rP): the figures docs/gradescope.md quotes
        results = json.loads(run["results"] or "{}")
        print(f"{request.param}: {upload} ({UPLOADS[upload].name}) scored {results.get('score')} of "
              f"{LAB.max_score:g}, isolation {results.get('extra_data', {}).get('isolation')}")
    print(f"{request.param}: files left by the hostile writer: {report['fakes']}")
    print(f"{request.param}: {len(UPLOADS)} uploads graded in {time.monotonic() - begun:.0f} s")
    return request.param, report


def _results(graded: tuple[str, dict], upload: str) -> dict:
    run = graded[1]["runs"][upload]
    assert run["status"] == 0, run["stderr"]
    assert run["results"] is not None, run["stderr"]
    results = json.loads(run["results"])
    assert schema_problems(results) == [], schema_problems(results)
    check_shape(results, LAB)
    return results


def _questions(results: dict) -> dict[str, tuple[float, str | None]]:
    return {q["name"]: (q["score"], q["mistake"]) for q in results["extra_data"]["questions"]}


def test_setup_installs_the_cpu_torch_from_the_local_wheel_and_locks_the_source(autograder_image, graded):
    _, log = autograder_image
    assert f"Processing /opt/host-wheels/torch-{TORCH_VERSION}-cp311" in log  # the wheel, not an index's torch
    assert graded[1]["torch"] == TORCH_VERSION
    for run in graded[1]["runs"].values():
        assert run["source_mode"] == "0o700" and run["results_mode"] == "0o755"


@pytest.mark.parametrize("upload", list(UPLOADS))
def test_each_upload_scores_what_the_host_gives_it(graded, upload):
    results = _results(graded, upload)
    expected = EXPECTED[upload]
    assert results["score"] == expected["score"], (graded[0], upload, results["output"][-2000:])
    assert results["extra_data"]["status"] == expected["status"]
    scores = _questions(results)
    if upload in RECORDED:  # the examples: the record's score and diagnosis for every question
        assert scores == expected["questions"]
    else:
        assert {name: score for name, (score, _) in scores.items()} == \
               {name: score for name, (score, _) in expected["questions"].items()}
    assert graded[1]["runs"][upload]["results_folder"] == ["results.json"]


def test_the_right_notebook_passes_every_test_and_the_unreadable_one_none(graded):
    right, unreadable = _results(graded, "1-right"), _results(graded, "3-unreadable")
    assert right["score"] == LAB.max_score and all(t["status"] == "passed" for t in right["tests"])
    assert unreadable["score"] == 0 and all(t["status"] == "failed" for t in unreadable["tests"])
    assert "We could not read your submission" in unreadable["output"]
    wrong = _results(graded, "2-wrong")
    assert "What to look at" in wrong["output"]


def test_each_run_says_which_isolation_it_used(graded):
    profile, report = graded
    for upload in UPLOADS:
        results = _results(graded, upload)
        isolation = results["extra_data"]["isolation"]
        assert f"isolation: {isolation}" in results["output"]
        if profile == "bubblewrap":
            assert isolation.startswith("bubblewrap"), (upload, isolation)
            assert "isolation_note" not in results["extra_data"]
        else:  # Docker's default profile: no namespace can be made, so the unprivileged uid
            assert isolation.startswith("unprivileged-uid"), (upload, isolation)
            note = results["extra_data"]["isolation_note"]
            assert "bubblewrap does not work here" in note and "Operation not permitted" in note, note
            assert "bubblewrap does not work here" in report["runs"][upload]["stderr"]


def test_hostile_uploads_leave_no_process_and_no_fake_result_where_it_counts(graded):
    profile, report = graded
    assert report["controls"] == {"process listed": True, "fake found": True}  # the checks can see
    for upload, run in report["runs"].items():
        assert run["processes"] == [], (upload, run["processes"])
    if profile == "bubblewrap":  # the sandbox's writes stay in its own scratch, gone with it
        assert report["fakes"] == []
    else:  # the unprivileged uid sees the container's files: it writes only where anyone may
        assert report["fakes"], "the writer wrote nothing: the check would see nothing either"
        assert all(p.startswith(WORLD_WRITABLE) for p in report["fakes"]), report["fakes"]
    writer = _results(graded, "4-hostile-writer")
    assert writer["score"] == LAB.max_score  # its own grade, not the 100 it wrote everywhere


@pytest.mark.parametrize("version, status", [("2.13.0+cu130", 1), ("2.14.0+cpu", 1), (TORCH_VERSION, 0)])
def test_setup_fails_unless_python_imports_the_cpu_torch_it_pins(docker, autograder_image, version, status):
    """setup.sh's last check, run in the image against a stand-in torch of another build."""
    image, _ = autograder_image
    check = SETUP[SETUP.index('found="$('):SETUP.index("# The hidden tests")]
    stand_in = f"mkdir -p /stand-in/torch && echo '__version__ = \"{version}\"' > /stand-in/torch/__init__.py"
    done = docker.run(image, ["bash", "-c", f"set -euo pipefail\n{stand_in}\nexport PYTHONPATH=/stand-in\n{check}"],
                      check=False, timeout=120)
    assert done.returncode == status, done.stderr
    assert (f"torch {version} is installed, not {TORCH_VERSION}" in done.stderr) is (status == 1), done.stderr


def test_the_committed_image_keeps_no_setup_variable(docker, autograder_image):
    image, _ = autograder_image
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config.Env}}", image).stdout)
    assert not [v for v in config if v.startswith(("PIP_CERT=", "TORCH_INDEX_URL="))], config
