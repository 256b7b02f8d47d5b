"""The container tests' engine: dockerd and the debootstrap base image, once per session.

Outside CI a machine without root, docker.io or debootstrap skips these tests, saying which; in CI
they fail instead (.ci/run installs docker.io and debootstrap). Each module here marks itself
`xdist_group("containers")`, so one xdist worker starts dockerd and builds the images for all of them.
"""

from __future__ import annotations

import pytest

from ci import in_ci
from containers import engine


def _cannot(reason: str):
    if in_ci():
        pytest.fail(f"containers cannot be had here: {reason}", pytrace=False)
    pytest.skip(f"containers cannot be had here: {reason}")


@pytest.fixture(scope="session")
def docker():
    reason = engine.missing()
    if reason:
        _cannot(reason)
    try:
        client, stop = engine.start_dockerd()
    except engine.EngineUnavailable as error:
        pytest.fail(f"dockerd is installed but does not start: {error}", pytrace=False)
    yield client
    stop()


@pytest.fixture(scope="session")
def debian_base(docker) -> str:
    try:
        return engine.debian_base(docker)
    except engine.EngineUnavailable as error:
        pytest.fail(f"the Debian base image could not be made: {error}", pytrace=False)
