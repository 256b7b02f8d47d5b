"""Whether this run is CI: the one place the suite decides it.

CI systems set `CI` to `true` (GitHub, GitLab, `.ci/run`) or `1`; a developer may export `CI=false`
or `CI=0` to say it is not. In CI a test that cannot run here fails instead of skipping.
"""

from __future__ import annotations

import os

_FALSE = ("", "0", "false", "no", "off")


def in_ci(environ: dict[str, str] | None = None) -> bool:
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in _FALSE
