"""Suite-wide settings: hypothesis runs without per-example deadlines or speed health checks, so
a test that generates slowly on a loaded CI machine cannot flake; what it checks is unchanged.
And the suite leaves no cgroup behind: every cgroup tree its daemons (or the tests themselves)
made is gone when the session ends. The suite's processes start what they start with every
signal at its default, as the daemon's programs do, however the suite itself was launched."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from hypothesis import HealthCheck, settings

from supervisord_lite.runtime.daemon_signals import reset_inherited
from tests.daemon_harness import CGROUP_TREES, cgroup_trees

if TYPE_CHECKING:
    from collections.abc import Iterator

settings.register_profile(
    "supervisord-lite",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("supervisord-lite")


def pytest_configure(config: pytest.Config) -> None:
    """A suite run in a shell's background (``.ci/run &``) inherits SIGINT and SIGQUIT
    ignored, which every svctl and program the tests start would inherit in turn: Ctrl-C
    tests and programs stopped by SIGINT (the in-process harness does not go through the
    daemon's ``run``, which resets them) would fail for the launcher's sake."""
    reset_inherited()


@pytest.fixture(scope="session", autouse=True)
def no_cgroup_left_behind() -> Iterator[None]:
    """Fails the session if a cgroup tree made by its daemons or by the tests survives. The
    failure shows as an error in the teardown of whichever test ran last (under xdist, the
    last on that worker), so it names the test that started the tree's daemon."""
    foreign = set(cgroup_trees(os.getpid()))  # left by an earlier process with our pid
    yield
    ours = {*CGROUP_TREES, *cgroup_trees(os.getpid())} - foreign
    left = sorted(t for t in ours if os.path.exists(t))
    made_by = [f"{t} (a daemon of {CGROUP_TREES.get(t, 'this process')})" for t in left]
    assert left == [], f"cgroup trees left behind by the tests: {made_by}"
