"""Hooks and process attributes in the config: the forms they may take, every mistake named
with its path, and what a reload does when they change."""

from __future__ import annotations

import pytest

from supervisord_lite.config import load
from supervisord_lite.config_attributes import Capabilities, IoNice, RLimit
from supervisord_lite.config_hooks import Hook
from supervisord_lite.errors import ConfigError
from supervisord_lite.reloadplan import plan

HEAD = '[programs.web]\ncommand = ["sleep", "1"]\n'


def problems(body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(HEAD + body)
    return [f"{p.path}: {p.message}" for p in caught.value.problems]


def test_the_forms_a_hook_and_the_attributes_take() -> None:
    web = load(
        HEAD
        + """
pre_start = "migrate --check 'a b'"
post_stop = ["rm", "-f", "run.sock"]
stop_command = { command = ["nginx", "-s", "quit"], timeout = "5s" }
nice = -5
ionice = "idle"
oom_score_adj = 500
rlimits = { nofile = 4096, core = "unlimited", nproc = { soft = 10, hard = 20 } }
user = "nobody"
capabilities = { ambient = ["net_bind_service"], bounding = ["CAP_NET_BIND_SERVICE", "cap_chown"] }
no_new_privileges = true
"""
    ).programs["web"]
    assert web.pre_start == Hook(command=("migrate", "--check", "a b"), timeout=30.0)
    assert web.post_stop == Hook(command=("rm", "-f", "run.sock"))
    assert web.stop_command == Hook(command=("nginx", "-s", "quit"), timeout=5.0)
    assert (web.post_start, web.pre_stop) == (None, None)
    assert web.ionice == IoNice(io_class="idle")
    assert web.rlimits == {
        "nofile": RLimit(soft=4096, hard=4096),
        "core": RLimit(soft="unlimited", hard="unlimited"),
        "nproc": RLimit(soft=10, hard=20),
    }
    assert web.capabilities == Capabilities(
        ambient=("CAP_NET_BIND_SERVICE",), bounding=("CAP_NET_BIND_SERVICE", "CAP_CHOWN")
    )


def test_every_mistake_is_named_with_its_path() -> None:
    assert problems(
        """
pre_start = []
post_stop = { command = ["x"], timeout = 0, retries = 1 }
post_start = { command = ["x"], timeout = "soon" }
stop_command = { timeout = 1.0 }
nice = 20
ionice = { class = "idle", level = 3 }
oom_score_adj = -1001
rlimits = { nofile = "lots", core = -1, nproc = { soft = 30, hard = 20 }, files = 1 }
capabilities = { ambient = ["CAP_NET_BIND_SERVICE", "cap_flying"], bounding = ["CAP_CHOWN"] }
"""
    ) == [
        "$.programs.web.pre_start: must not be empty",
        "$.programs.web.post_stop.timeout: must be > 0",
        "$.programs.web.post_stop.retries: unknown field",
        '$.programs.web.post_start.timeout: expected seconds or a duration as "500ms",'
        ' "60s", "5m", "1h"; got \'soon\'',
        "$.programs.web.stop_command.command: missing: this field is required",
        "$.programs.web.nice: must be <= 19",
        '$.programs.web.ionice.level: not with class = "idle"',
        "$.programs.web.oom_score_adj: must be >= -1000",
        "$.programs.web.rlimits.nofile: expected a number or \"unlimited\", got 'lots'",
        "$.programs.web.rlimits.core: must be >= 0",
        "$.programs.web.rlimits.nproc.soft: must be <= hard (20)",
        "$.programs.web.rlimits.files: unknown limit; one of as, core, cpu, data, fsize, locks,"
        " memlock, msgqueue, nice, nofile, nproc, rss, rtprio, rttime, sigpending, stack",
        "$.programs.web.capabilities.ambient[1]: unknown capability 'cap_flying'",
    ]
    assert problems('capabilities = { ambient = ["CAP_CHOWN"], bounding = ["CAP_KILL"] }') == [
        "$.programs.web.capabilities.ambient: CAP_CHOWN not in the bounding set, so it cannot"
        " be kept"
    ]
    assert problems('capabilities = { ambient = ["CAP_CHOWN"] }') == [
        "$.programs.web.capabilities.ambient: needs user = (a non-root user): a program"
        " running as root has them all"
    ]


@pytest.mark.parametrize(
    ("edit", "restart"),
    [
        ('pre_start = ["true"]', False),
        ('stop_command = ["true"]', False),
        ("post_stop = { command = ['true'], timeout = 1.0 }", False),
        ("nice = 5", True),
        ('ionice = "idle"', True),
        ("oom_score_adj = 100", True),
        ("rlimits = { nofile = 1024 }", True),
        ('capabilities = { bounding = ["CAP_CHOWN"] }', True),
        ("no_new_privileges = true", True),
    ],
)
def test_a_reload_applies_hooks_in_place_and_restarts_for_attributes(
    edit: str, restart: bool
) -> None:
    (program,) = plan(load(HEAD), load(HEAD + edit)).programs
    assert program.fate == "changed"
    assert program.restart is restart
