"""A program's process attributes, for the exec wrapper, and whether this host can grant them.

``wrapper_attributes`` turns the config's values into what execwrap.py's script applies
(resource and capability numbers, the ioprio word). ``host_problems`` asks, when the daemon
loads a config (start and reload), whether the daemon may grant each one, reading its own
values and capabilities from /proc/self: a negative nice needs CAP_SYS_NICE, a lower
oom_score_adj or a higher hard limit CAP_SYS_RESOURCE, capabilities a root daemon. Each
refusal is a config problem with its path, so the file is refused before any program is
started without what it asked for.
"""

from __future__ import annotations

import os
import platform
import resource
from typing import TYPE_CHECKING, Any, Final

from supervisord_lite import config_wording as wording
from supervisord_lite.config_attributes import CAPABILITIES, UNLIMITED
from supervisord_lite.errors import Problem

if TYPE_CHECKING:
    from supervisord_lite.config import Config, ProgramConfig
    from supervisord_lite.config_attributes import IoNice

__all__ = ["host_problems", "wrapper_attributes"]

_CAP = {name: number for number, name in enumerate(CAPABILITIES)}
_IOPRIO_CLASS: Final = {"realtime": 1, "best-effort": 2, "idle": 3}
#: ioprio_set(2) has no libc wrapper: its system call number, by machine.
_IOPRIO_SET: Final = {
    "x86_64": 251,
    "aarch64": 30,
    "riscv64": 30,
    "loongarch64": 30,
    "i386": 289,
    "i686": 289,
    "armv7l": 314,
    "armv6l": 314,
    "ppc64le": 273,
    "ppc64": 273,
    "s390x": 282,
}


def has_attributes(program: ProgramConfig) -> bool:
    """Whether the program asks for anything the exec wrapper must set."""
    return bool(
        program.nice is not None
        or program.ionice is not None
        or program.oom_score_adj is not None
        or program.rlimits
        or program.capabilities is not None
        or program.no_new_privileges
    )


def wrapper_attributes(program: ProgramConfig) -> dict[str, Any]:
    """The program's attributes as execwrap.py's script reads them."""
    spec: dict[str, Any] = {
        "nice": program.nice,
        "oom": program.oom_score_adj,
        "nnp": program.no_new_privileges,
        "rlimits": [
            [name, getattr(resource, f"RLIMIT_{name.upper()}"), _limit(lim.soft), _limit(lim.hard)]
            for name, lim in program.rlimits.items()
        ],
    }
    if program.ionice is not None:
        spec["ioprio"] = [_IOPRIO_SET.get(platform.machine(), -1), _ioprio(program.ionice)]
    caps = program.capabilities
    if caps is not None:
        bounding = None if caps.bounding is None else [_CAP[c] for c in caps.bounding]
        spec["caps"] = {
            "ambient": [_CAP[c] for c in caps.ambient],
            "bounding": bounding,
            "last": _cap_last(),
        }
    return spec


def _limit(value: int | str) -> int:
    return -1 if value == UNLIMITED else int(value)


def _ioprio(ionice: IoNice) -> int:
    level = ionice.level if ionice.level is not None else (0 if ionice.io_class == "idle" else 4)
    return (_IOPRIO_CLASS[ionice.io_class] << 13) | level


def _cap_last() -> int:
    with open("/proc/sys/kernel/cap_last_cap") as f:
        return int(f.read())


def _own_caps() -> tuple[int, int]:
    """This process' effective and bounding capability sets, as masks."""
    found = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("CapEff", "CapBnd"):
                found[key] = int(value, 16)
    return found["CapEff"], found["CapBnd"]


def host_problems(config: Config) -> list[Problem]:
    """What this daemon cannot grant of the programs' attributes, each with its path."""
    problems: list[Problem] = []
    effective, bounding = _own_caps()

    def lacks(cap: str) -> bool:
        return not effective & (1 << _CAP[cap])

    for name, program in config.programs.items():
        if has_attributes(program):
            _program_problems(program, wording.join("$.programs", name), lacks, bounding, problems)
    return problems


def _program_problems(
    program: ProgramConfig,
    path: str,
    lacks: Any,
    bounding: int,
    problems: list[Problem],
) -> None:
    def refuse(field: str, message: str) -> None:
        problems.append(Problem(f"{path}.{field}", message))

    own_nice = os.getpriority(os.PRIO_PROCESS, 0)
    if program.nice is not None and program.nice < own_nice and lacks("CAP_SYS_NICE"):
        refuse(
            "nice", f"lower than the daemon's own ({own_nice}) needs CAP_SYS_NICE, which it lacks"
        )
    ionice = program.ionice
    if ionice is not None:
        if platform.machine() not in _IOPRIO_SET:
            refuse("ionice", f"ioprio_set's system call number on {platform.machine()} is unknown")
        if ionice.io_class == "realtime" and lacks("CAP_SYS_ADMIN") and lacks("CAP_SYS_NICE"):
            refuse(
                "ionice.class",
                "realtime needs CAP_SYS_ADMIN or CAP_SYS_NICE, which the daemon lacks",
            )
    if program.oom_score_adj is not None:
        with open("/proc/self/oom_score_adj") as f:
            own = int(f.read())
        if program.oom_score_adj < own and lacks("CAP_SYS_RESOURCE"):
            refuse(
                "oom_score_adj",
                f"lower than the daemon's own ({own}) needs CAP_SYS_RESOURCE, which it lacks",
            )
    for name, limit in program.rlimits.items():
        _, own_hard = resource.getrlimit(getattr(resource, f"RLIMIT_{name.upper()}"))
        hard = _limit(limit.hard)
        infinite = resource.RLIM_INFINITY
        raising = own_hard != infinite and (hard < 0 or hard > own_hard)
        if raising and lacks("CAP_SYS_RESOURCE"):
            shown = "unlimited" if own_hard == infinite else own_hard
            refuse(
                f"rlimits.{name}",
                f"a hard limit above the daemon's own ({shown}) needs CAP_SYS_RESOURCE,"
                " which it lacks",
            )
        if name == "nofile":
            with open("/proc/sys/fs/nr_open") as f:
                nr_open = int(f.read())
            if hard < 0 or hard > nr_open:
                refuse("rlimits.nofile", f"above this kernel's fs.nr_open ({nr_open})")
    caps = program.capabilities
    if caps is not None:
        last = _cap_last()
        if lacks("CAP_SETPCAP") or os.geteuid() != 0:
            refuse("capabilities", "needs a daemon running as root (with CAP_SETPCAP)")
        for cap in (*caps.ambient, *(caps.bounding or ())):
            if _CAP[cap] > last:
                refuse("capabilities", f"this kernel has no {cap}")
        for cap in caps.ambient:
            if not bounding & (1 << _CAP[cap]):
                refuse("capabilities.ambient", f"{cap} is not in the daemon's own bounding set")
