"""A daemon started with signals ignored or blocked (a shell's ``cmd &`` ignores SIGINT and
SIGQUIT; any parent may block some) still starts its programs with the default action of every
signal and an empty mask, as systemd does: an ignored disposition and a signal mask survive
fork and exec, so a program whose stop signal was ignored could only be SIGKILLed."""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING

from svctl import Client
from tests.daemon_harness import running

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

PROGRAM = '[programs.plain]\ncommand = ["sleep", "3600"]\nstart_seconds = 0\n'
IGNORED = (signal.SIGINT, signal.SIGQUIT, signal.SIGUSR2)
BLOCKED = (signal.SIGUSR1,)


def _bits(signals: tuple[signal.Signals, ...]) -> int:
    return sum(1 << (s - 1) for s in signals)


def _masks(pid: int) -> dict[str, int]:
    """SigBlk and SigIgn of ``pid``, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status if line.startswith("Sig"))
    return {key: int(value, 16) for key, value in fields.items() if key in ("SigBlk", "SigIgn")}


@contextlib.contextmanager
def _inherited() -> Iterator[None]:
    """IGNORED ignored and BLOCKED blocked in this process, for what it starts meanwhile."""
    before = {s: signal.signal(s, signal.SIG_IGN) for s in IGNORED}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, BLOCKED)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for s, handler in before.items():
            signal.signal(s, handler)


def test_programs_start_with_every_signal_at_its_default(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        with _inherited():
            daemon = stack.enter_context(running(tmp_path, PROGRAM))
        with Client(daemon.socket) as client:
            client.wait("plain", timeout=10)
            [plain] = client.status("plain")
        assert plain.pid is not None
        masks = _masks(plain.pid)
        assert masks["SigIgn"] & _bits(IGNORED) == 0, masks
        assert masks["SigBlk"] & _bits(BLOCKED) == 0, masks
        # The daemon itself still shrugs SIGQUIT off, as it was started to.
        daemon.process.send_signal(signal.SIGQUIT)
        with Client(daemon.socket) as client:
            client.ping()
        said = daemon.log_path.read_text()
        assert "started with SIGINT, SIGQUIT, SIGUSR2 ignored" in said, said
