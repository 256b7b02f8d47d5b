"""The container tests' foundation (tests/containers/engine.py): the host's Debian mirror read from its
apt sources, and the debootstrap base image that dockerd runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from containers import engine

pytestmark = pytest.mark.xdist_group("containers")

DEB822 = """\
Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.mark.parametrize("files, mirror", [
    ({"sources.list.d/debian.sources": DEB822}, "http://mirror.example/debian"),
    ({"sources.list": "deb [arch=amd64 signed-by=/k.gpg] http://other.example/debian/ bookworm main\n"},
     "http://other.example/debian"),
    ({"sources.list": "# deb http://old.example/debian bookworm main\ndeb-src http://src.example/d bookworm main\n"
                      "deb http://sec.example/debian-security bookworm-security main\n"
                      "deb http://main.example/debian trixie main\n"}, "http://main.example/debian"),
], ids=["deb822", "sources.list with options", "another suite"])
def test_the_mirror_is_the_hosts_own(tmp_path, files, mirror):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert engine.debian_mirror((tmp_path / "sources.list.d", tmp_path / "sources.list")) == mirror


def test_no_debian_archive_is_said(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://sec.example/debian-security bookworm-security main\n")
    with pytest.raises(engine.EngineUnavailable, match="no Debian archive"):
        engine.debian_mirror((tmp_path / "sources.list",))


def test_the_base_image_is_debian_bookworm_from_the_hosts_mirror(docker, debian_base):
    assert debian_base.startswith(f"{engine.IMAGE}:bookworm-minbase-")
    assert engine.TARBALL.is_file() and not list(engine.CACHE.glob("*.partial-*"))
    assert debian_base.endswith(engine._sha256(engine.TARBALL)[:16])
    done = docker.run(debian_base, ["sh", "-c", "cat /etc/debian_version; cat /etc/apt/sources.list; id -u"],
                      timeout=120)
    version, *sources, uid = done.stdout.split("\n")[:-1]
    assert version.startswith("12."), done.stdout
    assert f"deb {engine.debian_mirror()} bookworm main" in sources, done.stdout
    assert uid == "0"
    # minbase: no Python and no bubblewrap until setup.sh installs them
    assert docker.run(debian_base, ["sh", "-c", "command -v python3 bwrap"], check=False).returncode != 0


NEEDS_DOCKER = "test_a_network_of_none_reaches_nothing"


def test_a_network_of_none_reaches_nothing(docker, debian_base):
    done = docker.run(debian_base, ["cat", "/proc/net/dev"], timeout=120)
    interfaces = [line.split(":")[0].strip() for line in done.stdout.splitlines()[2:]]
    assert interfaces == ["lo"], done.stdout


MISSING = """
from containers import engine
engine.DEBOOTSTRAP = "/nonexistent/debootstrap"
"""


@pytest.mark.parametrize("ci, status, outcome", [("true", 1, "1 error"), ("false", 0, "1 skipped")])
def test_without_debootstrap_ci_fails_and_a_developer_is_told_what_to_install(docker, tmp_path, ci, status, outcome):
    """(`docker`: where containers can be had at all, so that only debootstrap is missing.)"""
    (tmp_path / "without_debootstrap.py").write_text(MISSING)
    tests = Path(__file__).resolve().parents[1]
    env = {**os.environ, "CI": ci, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(tests)])}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rfs", "-p", "no:cacheprovider", "-n", "0",
                          "-p", "without_debootstrap", f"{Path(__file__).resolve()}::{NEEDS_DOCKER}"],
                         cwd=tests.parent, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == status and outcome in run.stdout.splitlines()[-1], run.stdout[-3000:]
    assert "containers cannot be had here: /nonexistent/debootstrap is missing: install Debian's debootstrap" \
        in run.stdout, run.stdout[-3000:]
