"""The systemd unit, the config it points at, and the config reference agree with the code.

The unit is read the way systemd reads it (a directive may repeat; an empty assignment resets
a list), its timeouts are checked against the daemon's own stop bounds, both shipped configs
must load, and docs/config.md must have an entry, with the right default, for every field of
the config Structs, so a new field without documentation fails here.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

from supervisord_lite.config import (
    AccessConfig,
    AccessGrant,
    Backoff,
    Config,
    DaemonConfig,
    LogConfig,
    MetricsConfig,
    ProgramConfig,
    ProgressConfig,
    StartLimit,
    load,
    load_path,
)
from supervisord_lite.config_attributes import Capabilities, IoNice, RLimit
from supervisord_lite.config_hooks import Hook
from supervisord_lite.config_probes import LivenessProbe, ReadyProbe
from supervisord_lite.config_restarts import PermafailConfig, RestartWhen
from supervisord_lite.config_sockets import SocketConfig
from supervisord_lite.config_webhooks import WebhookConfig

ROOT = Path(__file__).resolve().parent.parent
UNIT = ROOT / "packaging" / "supervisord-lite.service"
PACKAGED_CONFIG = ROOT / "packaging" / "supervisord-lite.toml"
DEMO_CONFIG = ROOT / "examples" / "demo.toml"
CONFIG_DOC = ROOT / "docs" / "config.md"
DOCS = ROOT / "docs"

INSTALLED_CONFIG = "/etc/supervisord-lite/supervisord-lite.toml"
INSTALLED_BINARY = "/usr/local/bin/supervisord-lite"

Unit = dict[str, dict[str, list[str]]]


def _parse_unit(text: str) -> Unit:
    """Sections -> directive -> values in file order; an empty value clears the list."""
    unit: Unit = {}
    section: dict[str, list[str]] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        assert not line.endswith("\\"), f"line {number}: continuation lines are not used here"
        if header := re.fullmatch(r"\[([A-Za-z]+)\]", line):
            assert header[1] not in unit, f"line {number}: section [{header[1]}] repeated"
            section = unit[header[1]] = {}
            continue
        key, equals, value = line.partition("=")
        assert equals, f"line {number}: neither a section nor a directive: {raw!r}"
        assert section is not None, f"line {number}: directive outside any section"
        values = section.setdefault(key.strip(), [])
        if value.strip():
            values.append(value.strip())
        else:
            values.clear()
    return unit


@pytest.fixture(scope="module")
def service() -> dict[str, list[str]]:
    unit = _parse_unit(UNIT.read_text())
    assert set(unit) == {"Unit", "Service", "Install"}
    return unit["Service"]


def _one(service: dict[str, list[str]], key: str) -> str:
    values = service.get(key, [])
    assert len(values) == 1, f"{key}= should be set exactly once, got {values}"
    return values[0]


_SPAN_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def _seconds(span: str) -> float:
    """A systemd time span ("90", "90s", "1min 30s") in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span)
    assert parts, f"not a time span: {span!r}"
    assert re.fullmatch(r"(\s*\d+(?:\.\d+)?\s*[a-z]*)+\s*", span), f"not a time span: {span!r}"
    return sum(float(n) * _SPAN_UNITS[unit or "s"] for n, unit in parts)


def _default(struct: type[msgspec.Struct], name: str) -> Any:
    field = next(f for f in msgspec.structs.fields(struct) if f.name == name)
    return field.default


def test_unit_directives(service: dict[str, list[str]]) -> None:
    assert _one(service, "Type") == "notify"
    assert _one(service, "NotifyAccess") == "main"
    assert _one(service, "KillMode") == "mixed"
    assert _one(service, "Restart") == "on-failure"
    assert _one(service, "Delegate") == "yes"
    assert _one(service, "RuntimeDirectory") == "supervisord-lite"
    assert _one(service, "RuntimeDirectoryMode") == "0700"
    assert _one(service, "StateDirectory") == "supervisord-lite"
    assert _one(service, "LogsDirectory") == "supervisord-lite"
    assert _one(service, "ExecStart") == f"{INSTALLED_BINARY} -c {INSTALLED_CONFIG}"
    reload_ = service["ExecReload"]
    assert reload_[-1] == "/bin/kill -HUP $MAINPID"
    assert all(f"-c {INSTALLED_CONFIG}" in line for line in reload_[:-1])


def test_unit_is_installed_for_multi_user() -> None:
    unit = _parse_unit(UNIT.read_text())
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]


def test_timeout_stop_outlasts_the_daemon_shutdown(service: dict[str, list[str]]) -> None:
    """The daemon stops within shutdown_timeout, then waits up to kill_timeout for survivors."""
    timeout = _seconds(_one(service, "TimeoutStopSec"))
    shutdown = _default(DaemonConfig, "shutdown_timeout")
    stop, kill = _default(ProgramConfig, "stop_timeout"), _default(ProgramConfig, "kill_timeout")
    assert timeout > shutdown + kill
    assert timeout > stop + kill

    packaged = _load_with_example()
    kills = [p.kill_timeout for p in packaged.programs.values()]
    stops = [p.stop_timeout + p.kill_timeout for p in packaged.programs.values()]
    assert timeout > packaged.daemon.shutdown_timeout + max(kills)
    assert timeout > max(stops)


def test_the_kubernetes_and_nomad_examples_match_their_config() -> None:
    """docs/kubernetes.md: its config loads, and the grace periods outlast its shutdown (the
    shutdown_timeout, the largest kill_timeout, the store's 5 s) plus what comes before the
    SIGTERM (the preStop sleep, Nomad's shutdown_delay)."""
    text = (DOCS / "kubernetes.md").read_text()
    [toml] = re.findall(r"```toml\n(.*?)```", text, re.S)
    config = load(toml)
    assert set(config.programs) == {"web", "worker"}
    assert config.daemon.metrics is not None
    needed = config.daemon.shutdown_timeout + max(p.kill_timeout for p in config.programs.values())
    needed += 5
    [grace] = re.findall(r"terminationGracePeriodSeconds: (\d+)", text)
    [pre_stop] = re.findall(r'command: \["sleep", "(\d+)"\]', text)
    assert int(grace) > needed + int(pre_stop)
    [kill] = re.findall(r'kill_timeout = "(\d+)s"', text)
    assert int(kill) > needed
    port = config.daemon.metrics.listen.rpartition(":")[2]
    assert f'prometheus.io/port: "{port}"' in text
    assert f"to = {port} }}" in text
    for probe in ("svctl", '"wait", "web", "--ready"', '"--timeout", "5", "ok"'):
        assert probe in text


def test_unit_folders_are_the_packaged_config_paths(service: dict[str, list[str]]) -> None:
    daemon = load_path(PACKAGED_CONFIG).daemon
    runtime = _one(service, "RuntimeDirectory")
    assert daemon.socket == f"/run/{runtime}/ctl.sock"
    assert Path(daemon.state_db).parent == Path("/var/lib") / _one(service, "StateDirectory")
    assert Path(daemon.log_dir) == Path("/var/log") / _one(service, "LogsDirectory")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart's binary exists; this checkout's is not installed there.
    text = UNIT.read_text().replace(INSTALLED_BINARY, sys.executable)
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(copy)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


# -- the shipped configs ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [PACKAGED_CONFIG, DEMO_CONFIG], ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    config = load_path(path)
    assert config.base_dir == str(path.parent)


def _load_with_example() -> Config:
    """The packaged config with its commented example program enabled, as its comment says."""
    lines = PACKAGED_CONFIG.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("#[programs."))
    enabled = [line.removeprefix("#") for line in lines[start:]]
    return load("\n".join([*lines[:start], *enabled]), base_dir=str(PACKAGED_CONFIG.parent))


def test_packaged_example_program_is_valid() -> None:
    config = _load_with_example()
    assert len(config.programs) == 1
    (program,) = config.programs.values()
    assert program.log.stdout == f"/var/log/supervisord-lite/{program.name}.stdout.log"


# -- the config reference ---------------------------------------------------------------------

SECTIONS: dict[type[msgspec.Struct], str] = {
    DaemonConfig: "## `[daemon]`",
    MetricsConfig: "## `[daemon.metrics]`",
    AccessConfig: "## `[daemon.access]`",
    AccessGrant: "## `[daemon.access.read]`, `[daemon.access.control]`",
    ProgramConfig: "## `[programs.NAME]`",
    Backoff: "## `[programs.NAME.backoff]`",
    StartLimit: "## `[programs.NAME.start_limit]`",
    LogConfig: "## `[programs.NAME.log]`",
    ReadyProbe: "## `[programs.NAME.ready]`",
    LivenessProbe: "## `[programs.NAME.liveness]`",
    ProgressConfig: "## `[programs.NAME.progress]`",
    PermafailConfig: "## `[programs.NAME.permafail]`",
    RestartWhen: "## `[programs.NAME.restart_when]`",
    SocketConfig: "## `[[programs.NAME.sockets]]`",
    Hook: "## Hook tables",
    IoNice: "## `[programs.NAME.ionice]`",
    RLimit: "## `[programs.NAME.rlimits]`",
    Capabilities: "## `[programs.NAME.capabilities]`",
    WebhookConfig: "## `[[webhooks]]`",
}
OCTAL_FIELDS = frozenset({"socket_mode", "umask", "mode"})


def _sections(text: str) -> dict[str, str]:
    """Level-2 heading -> the text up to the next one."""
    parts = re.split(r"^(## .*)$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _entries(section: str) -> dict[str, str]:
    """Field name -> its entry (a level-3 heading "### `name`" and the text up to the next)."""
    parts = re.split(r"^### `([a-z_]+)`$", section, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def _toml(name: str, value: object) -> str | None:
    """A default as the reference writes it; None for those it describes in words."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return oct(value) if name in OCTAL_FIELDS else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(name, v) or "" for v in value) + "]"
    return None


@pytest.mark.parametrize("struct", list(SECTIONS), ids=lambda s: s.__name__)
def test_config_reference_documents_every_field(struct: type[msgspec.Struct]) -> None:
    sections = _sections(CONFIG_DOC.read_text())
    heading = SECTIONS[struct]
    assert heading in sections, f"docs/config.md has no section {heading!r}"
    entries = _entries(sections[heading])
    fields = msgspec.structs.fields(struct)
    missing = [f.encode_name for f in fields if f.encode_name not in entries]
    assert not missing, f"docs/config.md {heading} lacks entries for {missing}"
    extra = sorted(entries.keys() - {f.encode_name for f in fields})
    assert not extra, f"docs/config.md {heading} documents fields that do not exist: {extra}"
    for field in fields:
        if field.default is msgspec.NODEFAULT:
            continue
        shown = _toml(field.name, field.default)
        if shown is not None:
            assert f"default: `{shown}`" in entries[field.encode_name], (
                f"{heading} `{field.name}`: the default is {shown}"
            )


def test_docs_index_links_every_page() -> None:
    index = (DOCS / "README.md").read_text()
    for page in sorted(DOCS.glob("*.md")):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/README.md does not link {page.name}"


def test_install_docs_exit_table_matches_the_daemon() -> None:
    from supervisord_lite.runtime import EXIT_KILLED_AT_SHUTDOWN

    text = (ROOT / "docs" / "install.md").read_text()
    rows = {
        cells[1].strip(): cells[2]
        for line in text.splitlines()
        if line.startswith("| ") and len(cells := line.split("|")) > 3
    }
    assert "shutdown_timeout" in rows[str(EXIT_KILLED_AT_SHUTDOWN)]
    assert "shutdown_timeout" not in rows["1"]


# -- what the wheel ships ---------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supervisord_lite", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_print_unit_gives_a_unit_for_this_installation(tmp_path: Path) -> None:
    config = tmp_path / "lite.toml"
    done = _cli("--print-unit", "-c", str(config))
    assert done.returncode == 0, done.stderr
    assert f"-c {config}" in done.stdout
    assert INSTALLED_BINARY not in done.stdout.replace(f"#   ExecStart={INSTALLED_BINARY}", "")
    unit = tmp_path / "supervisord-lite.service"
    # verify insists that ExecStart's binary exists and is executable.
    binary = next(
        line.split("=", 1)[1].split()[0]
        for line in done.stdout.splitlines()
        if line.startswith("ExecStart=")
    )
    unit.write_text(
        done.stdout if os.access(binary, os.X_OK) else done.stdout.replace(binary, sys.executable)
    )
    verify = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=30
    )
    assert verify.returncode == 0, verify.stderr


def test_print_config_gives_the_config_the_unit_runs() -> None:
    done = _cli("--print-config")
    assert done.returncode == 0
    assert done.stdout == PACKAGED_CONFIG.read_text()


def test_the_daemon_without_a_config_says_so() -> None:
    done = _cli()
    assert done.returncode == 2
    assert done.stderr.startswith("usage: supervisord-lite")
    assert done.stderr.endswith("supervisord-lite: error: -c CONFIG.toml is required\n")


@pytest.mark.timeout(300)
def test_the_wheel_ships_the_unit_the_config_and_the_license(tmp_path: Path) -> None:
    import zipfile

    # Built from a copy of the tracked files: a build/ folder left in the checkout by an
    # earlier build would otherwise hide a package missing from pyproject.toml.
    source = tmp_path / "source"
    tracked = (
        subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(source)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = tmp_path.glob("supervisord_lite-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "supervisord_lite/packaging/supervisord-lite.service" in names
    assert "supervisord_lite/packaging/supervisord-lite.toml" in names
    assert any(n.endswith(("/licenses/LICENSE", "/LICENSE")) for n in names)
    assert "svctl/py.typed" in names
    web_page = {"svctl/web/page.html", "svctl/web/static/app.js", "svctl/web/static/style.css"}
    assert web_page <= set(names)
    modules = {
        str(path.relative_to(ROOT)) for path in (ROOT / "supervisord_lite").rglob("*.py")
    } | {
        f"svctl/{p.relative_to(ROOT / 'clients' / 'svctl')}"
        for p in (ROOT / "clients" / "svctl").rglob("*.py")
    }
    assert modules - set(names) == set(), "modules the wheel leaves out"
