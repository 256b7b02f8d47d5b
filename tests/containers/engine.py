"""Real containers for the tests: Debian's docker.io, and a Debian bookworm base image made here.

- `Docker`: Debian's docker client (`DOCKER`, never whatever `docker` is first on PATH), with its
  output captured and a failure that says which command failed and how.
- `start_dockerd()`: the dockerd already answering on the default socket, or Debian's `dockerd`
  started for the run (its data root kept in /var/lib/docker, so images stay cached between runs).
- `debian_base(docker)`: Debian bookworm (`debootstrap --variant=minbase`) from the mirror the host's
  own apt sources name, cached as a tarball in `CACHE` and `docker import`ed under a tag keyed by
  the tarball's hash. No registry of images is used, and no registry's host name is written here.

Each raises `EngineUnavailable` with the reason when what it needs is missing or does not start.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["DOCKER", "Docker", "EngineUnavailable", "start_dockerd", "debian_base", "debian_mirror", "missing"]

#: Debian's docker.io client (another, static client may come first on PATH).
DOCKER = "/usr/bin/docker"
DOCKERD = "/usr/sbin/dockerd"
DEBOOTSTRAP = "/usr/sbin/debootstrap"
DATA_ROOT = "/var/lib/docker"
DOCKERD_LOG = Path("/var/log/quantization-grader-dockerd.log")
#: The debootstrap tarball (and its lock); a killed build leaves only `*.partial-*` names, never the tarball.
CACHE = Path("/var/cache/quantization-grader/debootstrap")
SUITE = "bookworm"
TARBALL = CACHE / f"{SUITE}-minbase.tar"
IMAGE = "quant-grader-debian"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APT_SOURCES = (Path("/etc/apt/sources.list.d"), Path("/etc/apt/sources.list"))


#: What `Docker.run(bubblewrap=True)` adds so that bubblewrap works in the container. Docker's default
#: seccomp profile refuses every new namespace ("bwrap: Creating new namespace failed: Operation not
#: permitted"); unconfined, a user namespace can be made, but bwrap's /proc mount is refused while
#: Docker masks paths of /proc ("Can't mount proc on /newroot/proc") until systempaths=unconfined.
#: The grader, as root, runs bwrap without a user namespace (then setpriv to a uid of its own), which
#: needs CAP_SYS_ADMIN for the namespaces and CAP_NET_ADMIN for the loopback of its network
#: namespace ("bwrap: loopback: Failed RTM_NEWADDR"): Docker's default capabilities hold neither.
BUBBLEWRAP_OPTIONS = ("--security-opt", "seccomp=unconfined", "--security-opt", "systempaths=unconfined",
                      "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN")


class EngineUnavailable(Exception):
    """dockerd or debootstrap is missing here, or does not run."""


def _tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


class Docker:
    """Debian's docker client, talking to the daemon on the default socket."""

    def __call__(self, *args: str, timeout: float = 600, check: bool = True,
                 input: bytes | None = None) -> subprocess.CompletedProcess:
        command = [DOCKER, *args]
        done = subprocess.run(command, input=input, capture_output=True, timeout=timeout)
        done = subprocess.CompletedProcess(command, done.returncode, done.stdout.decode(errors="replace"),
                                           done.stderr.decode(errors="replace"))
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(command)} exited with {done.returncode}:\n{_tail(done.stderr)}")
        return done

    def run(self, image: str, command: list[str], *, mounts: dict[str, str] = {},  # noqa: B006 - never mutated
            read_only_mounts: dict[str, str] = {}, env: dict[str, str] = {},  # noqa: B006
            bubblewrap: bool = False, network: str = "none", timeout: float = 900,
            check: bool = True) -> subprocess.CompletedProcess:
        """`docker run --rm`: mounts are host path -> container path; `bubblewrap=True` adds
        `BUBBLEWRAP_OPTIONS` (no seccomp profile, no masked /proc paths, the capabilities root's bwrap
        needs); otherwise Docker's default profile and capabilities."""
        args = ["run", "--rm", "--network", network]
        if bubblewrap:
            args += BUBBLEWRAP_OPTIONS
        args += [arg for host, inside in mounts.items() for arg in ("-v", f"{host}:{inside}")]
        args += [arg for host, inside in read_only_mounts.items() for arg in ("-v", f"{host}:{inside}:ro")]
        args += [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
        return self(*args, image, *command, timeout=timeout, check=check)

    def answers(self) -> bool:
        try:
            return self("version", "--format", "{{.Server.Version}}", timeout=20, check=False).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False


def missing() -> str | None:
    """Why containers cannot be had here at all (not root, no docker.io, no debootstrap), or None."""
    if os.geteuid() != 0:
        return "the container tests need root (dockerd, debootstrap)"
    for path, package in ((DOCKER, "docker.io"), (DOCKERD, "docker.io"), (DEBOOTSTRAP, "debootstrap")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: install Debian's {package} package"
    return None


def start_dockerd(wait: float = 90) -> tuple[Docker, Callable[[], None]]:
    """(a client, stop): the daemon already answering, or Debian's dockerd started now; stop ends only
    a daemon started here."""
    docker = Docker()
    if docker.answers():
        return docker, lambda: None
    reason = missing()
    if reason:
        raise EngineUnavailable(reason)
    DOCKERD_LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(DOCKERD_LOG, "ab") as log:
        log.write(f"---- {time.strftime('%Y-%m-%dT%H:%M:%S')} started by tests/containers/engine.py\n".encode())
        log.flush()
        daemon = subprocess.Popen([DOCKERD, "--data-root", DATA_ROOT], stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)

    def stop() -> None:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)  # dockerd stops its containers and its containerd
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()

    deadline = time.monotonic() + wait
    while not docker.answers():
        if daemon.poll() is not None or time.monotonic() > deadline:
            stop()
            raise EngineUnavailable(f"{DOCKERD} did not start (its log, {DOCKERD_LOG}):\n"
                                    f"{_tail(DOCKERD_LOG.read_text(errors='replace'))}")
        time.sleep(0.5)
    return docker, stop


def debian_mirror(sources: tuple[Path, ...] = APT_SOURCES) -> str:
    """The Debian archive the host's apt uses (deb822 `URIs:` or a sources.list `deb` line): the
    entry for bookworm if any, else one for a main suite (not -security, -updates or -backports)."""
    entries: list[tuple[str, list[str]]] = []  # (uri, suites), in apt's order
    files = [p for s in sources for p in (sorted(s.glob("*.sources")) + sorted(s.glob("*.list")) if s.is_dir()
                                          else [s] if s.is_file() else [])]
    for path in files:
        text = path.read_text(errors="replace")
        if path.suffix == ".sources":
            for stanza in text.split("\n\n"):
                fields = _deb822(stanza)
                if "deb" in fields.get("types", "").split() and fields.get("enabled", "yes") != "no":
                    entries += [(uri, fields.get("suites", "").split()) for uri in fields.get("uris", "").split()]
        else:
            for line in text.splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()  # without [options]
                if words[:1] == ["deb"] and len(words) >= 3:
                    entries.append((words[1], [words[2]]))
    for uri, suites in entries:
        if SUITE in suites:
            return uri.rstrip("/")
    for uri, suites in entries:
        if any("-" not in suite and "/" not in suite for suite in suites) and uri.startswith(("http", "file")):
            return uri.rstrip("/")
    raise EngineUnavailable(f"no Debian archive in the host's apt sources ({', '.join(map(str, sources))})")


def _deb822(stanza: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    key = None
    for line in stanza.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0] in " \t" and key:
            fields[key] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
    return fields


def debootstrap_tarball() -> Path:
    """`TARBALL`, made once: debootstrap into a temporary folder, tar it to a temporary name, then
    rename. A killed build leaves `*.partial-*` names (removed by the next build), never the tarball."""
    if TARBALL.is_file():
        return TARBALL
    reason = missing()
    if reason:
        raise EngineUnavailable(reason)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if TARBALL.is_file():  # built by another process while this one waited
            return TARBALL
        for stale in CACHE.glob(f"{TARBALL.name}.partial-*"):
            shutil.rmtree(stale) if stale.is_dir() and not stale.is_symlink() else stale.unlink()
        mirror = debian_mirror()
        work = Path(tempfile.mkdtemp(prefix=f"{TARBALL.name}.partial-", dir=CACHE))
        try:
            root = work / "root"
            done = subprocess.run([DEBOOTSTRAP, "--variant=minbase", SUITE, str(root), mirror],
                                  capture_output=True, text=True, timeout=1800)
            if done.returncode != 0:
                raise EngineUnavailable(f"debootstrap {SUITE} from {mirror} failed:\n"
                                        f"{_tail(done.stdout + done.stderr)}")
            partial = work / "root.tar"
            subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
                           check=True, capture_output=True, timeout=600)
            os.replace(partial, TARBALL)  # the rename is the stamp: the tarball exists only whole
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return TARBALL


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def debian_base(docker: Docker) -> str:
    """The tag of Debian bookworm minbase as an image (`docker import` of the cached tarball), keyed by the
    tarball's hash: imported once, reused while the tarball is the same."""
    tarball = debootstrap_tarball()
    tag = f"{IMAGE}:{SUITE}-minbase-{_sha256(tarball)[:16]}"
    if docker("image", "inspect", tag, check=False, timeout=60).returncode != 0:
        docker("import", "--change", f"ENV {PATH_ENV}", "--change", 'CMD ["/bin/bash"]', str(tarball), tag,
               timeout=900)
    return tag
