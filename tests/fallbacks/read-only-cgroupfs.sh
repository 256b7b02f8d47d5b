#!/usr/bin/env bash
# Runs a command (`make test-no-cgroup`: the hostile suite) with no usable cgroup on a host that has one, as
# in a container whose cgroupfs is read-only: as root, in a mount namespace of its own in which every
# mount under /sys/fs/cgroup is remounted read-only. Nothing changes outside that namespace. The grader
# then finds that it cannot create a cgroup ("Read-only file system"), falls back to per-process
# rlimits and says so (docs/sandbox.md, "Without a cgroup"); QGRADE_EXPECT_CAPS=rlimits makes the
# hostile suite fail if it found a cgroup after all.
set -euo pipefail
[ "$#" -gt 0 ] || { echo "usage: $0 COMMAND [ARGUMENT...]" >&2; exit 2; }
export QGRADE_EXPECT_CAPS=rlimits
if [ "$(id -u)" != 0 ]; then
  # Not root: v1 cgroups are out of reach anyway; a delegated v2 subtree would make the suite fail, saying so.
  echo "not root: running without a read-only cgroupfs of its own (the grader has no cgroup v1 as non-root)" >&2
  exec "$@"
fi
exec unshare --mount --propagation private -- bash -c '
  set -euo pipefail
  findmnt -rn -o TARGET | grep -E "^/sys/fs/cgroup(/|$)" | while read -r target; do
    mount -o remount,bind,ro "$target"
  done
  if mkdir /sys/fs/cgroup/qgrade-probe 2>/dev/null; then
    rmdir /sys/fs/cgroup/qgrade-probe; echo "the cgroupfs is still writable" >&2; exit 2
  fi
  echo "cgroupfs read-only in this mount namespace: grading without a cgroup" >&2
  exec "$@"' bash "$@"
