#!/usr/bin/env python3
"""Run the cgroup v2 tests in a VM whose only cgroup hierarchy is v2 (`make test-vm`).

This project's machines are cgroup v1 hosts, so grader/sandbox/cgroup2.py would never run on them.
This script boots Debian's generic kernel in QEMU (`qemu-system-x86_64`, Debian's `qemu-system-x86`)
with `cgroup_no_v1=all` and swap on, shares the host's root read-only over 9p (so the checkout, its
.venv and its Python are there unchanged), makes it the guest's root with tmpfs wherever tests write,
and runs pytest there as root, in a cgroup below the root one (as on a real host), with CI=true (so a
skip needs a reason that tests/tiers.py documents). QEMU emulates the CPU (TCG): KVM inside this
project's machines (themselves VMs) does not boot. The guest prints a marker line with pytest's exit
status, then powers off; this script exits with that status, and with 1 when the VM does not boot or
prints no marker in time.

The kernel (from linux-image-amd64's dependency, the real linux-image-6.x-amd64 package) and
busybox (busybox-static, which would conflict with the host's busybox) are fetched with
`apt-get download` and unpacked with `dpkg -x`, never installed; the kernel and the initramfs built
from them are cached in ~/.cache/quantization-grader/vm/<packages' versions>-<init's hash>/.

    python tests/vm/run_vm.py                          # the default set (TESTS below)
    python tests/vm/run_vm.py [--timeout S] tests/sandbox/test_cgroup2.py -k sweep
"""

from __future__ import annotations

import argparse
import hashlib
import io
import lzma
import os
import queue
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The guest's own temporary folder (a tmpfs, INIT): a checkout inside it cannot be seen from the guest.
GUEST_TMP = Path("/" + "tmp")
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "quantization-grader" / "vm"
#: What needs cgroup v2, and the v1 modules, which must skip or adapt on a v2-only host.
TESTS = [
    "tests/sandbox/test_cgroup2.py",
    "tests/sandbox/test_cgroup.py",
    "tests/sandbox/test_warm.py::test_each_child_has_a_capped_cgroup_of_its_own_inside_its_sandboxs",
    "tests/sandbox/test_warm.py::test_a_childs_memory_is_capped_as_a_cold_workers_is",
    "tests/sandbox/test_warm.py::test_thirty_spinning_threads_do_not_push_a_neighbour_past_its_time_limit",
    "tests/hostile/test_caps.py",
]
#: The 9p client and its transport, in the order they depend on each other, then zram for swap.
MODULES = ("virtio_ring", "virtio", "virtio_pci_legacy_dev", "virtio_pci_modern_dev", "virtio_pci",
           "9pnet", "9pnet_virtio", "netfs", "fscache", "9p",
           "zsmalloc", "zram")
BOOT_TIMEOUT = 180.0  # TCG boots the kernel in about 4 s; torch's import then takes a minute or more
RUN_TIMEOUT = 3600.0

#: The initramfs's /init (busybox sh): mount the host's root read-only, with tmpfs where tests write
#: and only a cgroup2 at /sys/fs/cgroup, and make it the root to run the guest script (GUEST) in.
INIT = """#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "qg-vm: booted in $(cut -d' ' -f1 /proc/uptime) s"
fail() { echo "qg-vm: $*"; echo "$qg_marker 1"; poweroff -f; }
for module in MODULES; do insmod /lib/modules/$module.ko || fail "cannot load $module"; done
echo 2G > /sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 || fail "no swap"
R=/newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot $R || fail "no 9p root"
mount -t proc proc $R/proc && mount -t sysfs sysfs $R/sys && mount -t devtmpfs devtmpfs $R/dev \\
  && mount -t cgroup2 cgroup2 $R/sys/fs/cgroup && mount -t tmpfs tmpfs $R/run \\
  && cp "$R$qg_script" $R/run/qg-guest.sh && mount -t tmpfs tmpfs $R/tmp \\
  && mkdir -p $R/dev/shm $R/dev/pts && mount -t tmpfs tmpfs $R/dev/shm && mount -t devpts devpts $R/dev/pts \\
  || fail "cannot mount the guest's file systems"
exec switch_root $R /bin/sh /run/qg-guest.sh  # not chroot: a chrooted process may not make user namespaces
"""

#: The guest's pid 1 after /init, as root, with the checkout read-only: every write goes to a tmpfs.
#: It prints the marker with pytest's exit status, then powers the VM off.
GUEST = """cd {root}
export HOME=/run/home PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin CI=true \\
  PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8 XDG_CACHE_HOME=/run/home/.cache
mkdir -p $HOME
# Not in the root group, as on a real host: in a group that holds processes (a login session's scope, a
# service, a container's own group), below one that hands down the controllers systemd enables.
echo "+cpu +memory +pids" > /sys/fs/cgroup/cgroup.subtree_control
mkdir /sys/fs/cgroup/ci.scope && echo $$ > /sys/fs/cgroup/ci.scope/cgroup.procs
echo "qg-vm: $(grep -c cgroup2 /proc/mounts) cgroup2 mount, $(grep -c ' cgroup ' /proc/mounts) v1 mounts;" \\
  "controllers: $(cat /sys/fs/cgroup/cgroup.controllers); swap: $(tail -n +2 /proc/swaps | wc -l) device"
.venv/bin/python -c "import time; t = time.monotonic(); import torch; \\
print(f'qg-vm: torch imported in {{time.monotonic() - t:.0f}} s')"
PYTHONPATH=tests/vm .venv/bin/python -m pytest -p no:cacheprovider -p slow_machine -n 0 -v -rs --color=no \\
  --basetemp=/run/pytest {tests}
echo "$qg_marker $?"
echo o > /proc/sysrq-trigger  # power off
sleep 60
"""


def run(*argv: str, cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def candidate(package: str) -> dict[str, str]:
    """The fields of the version apt would install (apt-cache show), after an apt-get update if need be."""
    try:
        text = run("apt-cache", "show", "--no-all-versions", package)
    except subprocess.CalledProcessError:
        run("apt-get", "update", "-qq")
        text = run("apt-cache", "show", "--no-all-versions", package)
    fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line and not line[0].isspace())
    return fields


def newc(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """A cpio archive (newc, as the kernel reads an initramfs) of (name, mode, data, rdev) entries."""
    out = io.BytesIO()

    def pad(n: int) -> None:
        out.write(b"\0" * (-n % 4))

    for inode, (name, mode, data, rdev) in enumerate([*entries, ("TRAILER!!!", 0, b"", 0)], start=1):
        encoded = name.encode() + b"\0"
        fields = [inode, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xFF, len(encoded), 0]
        out.write(b"070701" + b"".join(b"%08X" % value for value in fields) + encoded)
        pad(110 + len(encoded))
        out.write(data)
        pad(len(data))
    return out.getvalue()


def build() -> Path:
    """The folder holding `vmlinuz` and `initramfs`, built once per package versions and /init."""
    kernel_package = candidate("linux-image-amd64")["Depends"].split(",")[0].split()[0]
    kernel_version = candidate(kernel_package)["Version"]
    busybox_version = candidate("busybox-static")["Version"]
    init = INIT.replace("MODULES", " ".join(MODULES))
    digest = hashlib.sha256(init.encode()).hexdigest()[:12]
    key = f"{kernel_package}_{kernel_version}-busybox_{busybox_version}-{digest}"
    folder = CACHE / key.replace(":", "_")
    if (folder / "initramfs").exists():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".build-") as scratch:
        work = Path(scratch)
        print(f"qg-vm: fetching {kernel_package} {kernel_version} and busybox-static {busybox_version}", flush=True)
        run("apt-get", "download", f"{kernel_package}={kernel_version}", f"busybox-static={busybox_version}", cwd=work)
        for deb in work.glob("*.deb"):
            run("dpkg", "-x", str(deb), str(work / "x"))
        unpacked = work / "x"
        entries = [(d, 0o40755, b"", 0) for d in ("bin", "dev", "proc", "sys", "newroot", "lib", "lib/modules")]
        entries += [("dev/console", 0o20600, b"", (5 << 8) | 1),
                    ("init", 0o100755, init.encode(), 0),
                    ("bin/busybox", 0o100755, (unpacked / "bin/busybox").read_bytes(), 0)]
        for module in MODULES:
            [path] = [p for p in (unpacked / "lib/modules").rglob(f"{module}.ko*")]
            data = path.read_bytes()
            if path.suffix == ".xz":  # busybox's insmod may not decompress: store it plain
                data = lzma.decompress(data)
            entries.append((f"lib/modules/{module}.ko", 0o100644, data, 0))
        built = work / "built"
        built.mkdir()
        [vmlinuz] = (unpacked / "boot").glob("vmlinuz-*")
        shutil.copy(vmlinuz, built / "vmlinuz")
        (built / "initramfs").write_bytes(newc(entries))
        try:
            built.rename(folder)  # atomic: another run that built it first wins
        except OSError:
            if not (folder / "initramfs").exists():
                raise
    return folder


def boot(folder: Path, tests: list[str], timeout: float) -> int:
    marker = f"QG-VM-STATUS-{secrets.token_hex(8)}"
    with tempfile.TemporaryDirectory(dir=CACHE, prefix=".run-") as scratch:
        script = Path(scratch) / "guest.sh"
        script.write_text(GUEST.format(root=ROOT, tests=" ".join(f"'{test}'" for test in tests)))
        command = [
            "qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "6G",
            "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
            "-kernel", str(folder / "vmlinuz"), "-initrd", str(folder / "initramfs"),
            "-append", f"console=ttyS0 quiet loglevel=2 panic=1 cgroup_no_v1=all rdinit=/init "
                       f"qg_script={script} qg_marker={marker}",
            "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
        ]
        started = time.monotonic()
        qemu = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines: queue.Queue[str | None] = queue.Queue()

        def read() -> None:
            for raw in qemu.stdout:
                lines.put(raw.decode(errors="replace").rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=read, daemon=True).start()
        booted, status = None, None
        try:
            while status is None:
                limit = timeout if booted is not None else BOOT_TIMEOUT
                try:
                    line = lines.get(timeout=max(0.1, started + limit - time.monotonic()))
                except queue.Empty:
                    print(f"qg-vm: {'no marker' if booted else 'the VM did not boot'} within {limit:.0f} s", flush=True)
                    return 1
                if line is None:
                    print(f"qg-vm: QEMU exited ({qemu.wait()}) without printing the marker", flush=True)
                    return 1
                print(line.replace(marker, "QG-VM-STATUS"), flush=True)
                if booted is None and line.startswith("qg-vm: booted"):
                    booted = time.monotonic() - started
                if line.startswith(marker + " "):
                    status = int(line.split()[1])
            print(f"qg-vm: booted after {booted:.0f} s; pytest exited {status}; "
                  f"{time.monotonic() - started:.0f} s in all", flush=True)
            return status
        finally:
            try:
                qemu.wait(timeout=30)
            except subprocess.TimeoutExpired:
                qemu.kill()
                qemu.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timeout", type=float, default=RUN_TIMEOUT,
                        help="seconds until the marker (default: %(default)s)")
    parser.add_argument("pytest", nargs=argparse.REMAINDER, help="pytest's arguments in the guest (default: TESTS)")
    arguments = parser.parse_args()
    if shutil.which("qemu-system-x86_64") is None:
        print("qg-vm: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)", file=sys.stderr)
        return 1
    if ROOT.is_relative_to(GUEST_TMP):  # INIT mounts a tmpfs there, over the host's folder
        print(f"qg-vm: the guest has a {GUEST_TMP} of its own, which hides this checkout ({ROOT}): run it "
              f"from a checkout outside {GUEST_TMP}", file=sys.stderr)
        return 1
    return boot(build(), arguments.pytest or TESTS, arguments.timeout)


if __name__ == "__main__":
    sys.exit(main())
