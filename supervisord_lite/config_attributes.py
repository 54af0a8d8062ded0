"""Process attributes of the config: what a program's process is given before it is exec'ed.

``nice``, ``ionice``, ``oom_score_adj``, ``rlimits``, ``capabilities`` and
``no_new_privileges`` (``umask`` is in config_program.py). Here they are checked as values: known
limit and capability names, a soft limit within its hard one, ambient capabilities only for a
program that switches to a ``user`` and only from its bounding set. Whether this host lets the
daemon grant them (a negative nice needs CAP_SYS_NICE...) is the runtime's question
(runtime/attributes.py), asked when the daemon loads the config. Pure.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

import msgspec
from msgspec import Meta

from supervisord_lite import config_wording as wording
from supervisord_lite.config_tables import INVALID, convert, table
from supervisord_lite.errors import Problem

__all__ = [
    "CAPABILITIES",
    "RLIMITS",
    "UNLIMITED",
    "Capabilities",
    "IoNice",
    "Limit",
    "RLimit",
    "capabilities",
    "check_capabilities",
    "ionice",
    "rlimits",
]

UNLIMITED: Final = "unlimited"
Limit = Annotated[int, Meta(ge=0)] | Literal["unlimited"]

#: setrlimit(2)'s resources, by the name after ``RLIMIT_`` in lower case.
RLIMITS: Final = (
    "as",
    "core",
    "cpu",
    "data",
    "fsize",
    "locks",
    "memlock",
    "msgqueue",
    "nice",
    "nofile",
    "nproc",
    "rss",
    "rtprio",
    "rttime",
    "sigpending",
    "stack",
)

#: capabilities(7), by number: ``CAPABILITIES[n]`` is capability n's name.
CAPABILITIES: Final = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)


class IoNice(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``ionice``: the I/O scheduling class and, for ``realtime`` and ``best-effort``, the
    level within it (0 first, 7 last; the kernel's default is 4)."""

    io_class: Literal["realtime", "best-effort", "idle"] = msgspec.field(name="class")
    level: Annotated[int, Meta(ge=0, le=7)] | None = None


class RLimit(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One resource limit: ``soft`` is enforced, ``hard`` is how far the program may raise it."""

    soft: Limit
    hard: Limit


class Capabilities(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``capabilities``: names as in capabilities(7) (``CAP_NET_BIND_SERVICE``).

    ``bounding`` (when set) is all the program can ever hold: every other capability is
    dropped from its bounding set. ``ambient`` are kept across the switch from root to ``user``
    and held by the program after exec."""

    ambient: tuple[str, ...] = ()
    bounding: tuple[str, ...] | None = None


def ionice(raw: object, where: str, problems: list[Problem]) -> object:
    """``ionice = "idle"`` or ``{ class = "best-effort", level = 7 }``."""
    if isinstance(raw, str):
        raw = {"class": raw}
    if not isinstance(raw, dict):
        problems.append(Problem(where, f"expected a string or a table, got {wording.kind_of(raw)}"))
        return INVALID
    before = len(problems)
    values = table(
        {k: v for k, v in raw.items() if k != "class"},
        IoNice,
        where,
        problems,
        forbidden={"io_class": "unknown field"},
    )
    if "class" not in raw:
        problems.append(Problem(wording.join(where, "class"), "missing: this field is required"))
    else:
        kind = Literal["realtime", "best-effort", "idle"]
        values["io_class"] = convert(raw["class"], kind, wording.join(where, "class"), problems)
    if len(problems) > before:
        return INVALID
    if values["io_class"] == "idle" and values.get("level") is not None:
        problems.append(Problem(wording.join(where, "level"), 'not with class = "idle"'))
        return INVALID
    return IoNice(**values)


def rlimits(raw: object, where: str, problems: list[Problem]) -> object:
    """``{ nofile = 4096, core = "unlimited", nproc = { soft = 100, hard = 200 } }``: one value
    sets both limits."""
    if not isinstance(raw, dict):
        problems.append(Problem(where, f"expected a table, got {wording.kind_of(raw)}"))
        return INVALID
    before = len(problems)
    limits: dict[str, RLimit] = {}
    for name, value in raw.items():
        at = wording.join(where, name)
        if name not in RLIMITS:
            problems.append(Problem(at, f"unknown limit; one of {', '.join(RLIMITS)}"))
            continue
        if isinstance(value, dict):
            fields = table(value, RLimit, at, problems)
            if len(fields) < 2:
                continue
            limit = RLimit(**fields)
        elif isinstance(value, str) and value != UNLIMITED:
            problems.append(Problem(at, f'expected a number or "unlimited", got {value!r}'))
            continue
        else:
            one = convert(value, Limit, at, problems)
            if one is INVALID:
                continue
            limit = RLimit(soft=one, hard=one)
        if _above(limit.soft, limit.hard):
            problems.append(Problem(wording.join(at, "soft"), f"must be <= hard ({limit.hard})"))
            continue
        limits[name] = limit
    return INVALID if len(problems) > before else limits


def _above(soft: int | str, hard: int | str) -> bool:
    if soft == UNLIMITED:
        return hard != UNLIMITED
    return hard != UNLIMITED and isinstance(soft, int) and isinstance(hard, int) and soft > hard


def capabilities(raw: object, where: str, problems: list[Problem]) -> object:
    """The ``capabilities`` table, each name known and written the one way."""
    before = len(problems)
    special = {"ambient": _capability_names, "bounding": _capability_names}
    values = table(raw, Capabilities, where, problems, special=special)
    if len(problems) > before:
        return INVALID
    caps = Capabilities(**values)
    if caps.bounding is not None:
        outside = [c for c in caps.ambient if c not in caps.bounding]
        if outside:
            message = f"{', '.join(outside)} not in the bounding set, so it cannot be kept"
            problems.append(Problem(wording.join(where, "ambient"), message))
            return INVALID
    return caps


def _capability_names(raw: object, where: str, problems: list[Problem]) -> object:
    names = convert(raw, tuple[str, ...], where, problems)
    if names is INVALID:
        return INVALID
    found: list[str] = []
    for i, name in enumerate(names):
        canonical = name.upper() if name.upper().startswith("CAP_") else f"CAP_{name.upper()}"
        if canonical not in CAPABILITIES:
            problems.append(Problem(f"{where}[{i}]", f"unknown capability {name!r}"))
        elif canonical not in found:
            found.append(canonical)
    return tuple(found)


def check_capabilities(
    caps: Capabilities | None, user: str | None, where: str, problems: list[Problem]
) -> None:
    """Ambient capabilities are for a program that runs as another ``user`` than root: root
    holds every capability its bounding set allows anyway."""
    if caps is None or not caps.ambient:
        return
    if user is None or user in ("root", "0"):
        message = "needs user = (a non-root user): a program running as root has them all"
        problems.append(Problem(wording.join(where, "ambient"), message))
