"""The ``svctl top`` application: a Textual app over :class:`svctl.AsyncClient` connections.

Where each figure comes from (docs/top.md):

- States, pids, exits and progress are pushed by the daemon (``Client.events``): the app
  subscribes first, then reads every program once, so no change falls between the two. A
  pushed change moves its row at once and asks for a status read of that one program (for
  its restarts, health and message); reads for changes that come in a burst are merged.
- CPU and memory have no event: they come from a status read with ``usage=True`` every
  ``usage_interval`` seconds (the daemon reads cgroup or /proc files for it).
- Uptime is counted on from the last read by the app's own clock, redrawn once a second.
- The selected program's output comes from a ``logs(follow=True)`` stream, one at a time.

Each stream has a connection of its own (the events, the log tail), the reads share one, and
each action (start, stop, restart, signal) opens its own: a stream waits on its connection for
as long as its program is quiet, and a ``stop`` for as long as the program takes to stop,
and neither holds up the others.

When the daemon goes away, the view says so and connects again after a pause that doubles up
to ``RECONNECT_MAX``; once back, it subscribes and reads every program afresh. Errors the
daemon answers (a program that failed to start, a stop refused) are shown as notices; no
traceback reaches the screen for them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, ClassVar, Final

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.widgets import DataTable, Footer, RichLog, Static

from supervisord_lite.protocol.messages import ProgramState
from svctl import (
    AsyncClient,
    DaemonEvent,
    DaemonUnavailable,
    LogChunk,
    StateChanged,
    SvctlError,
)
from svctl.top.dialogs import ConfirmStop, PickSignal
from svctl.top.model import COLUMNS, Board, Lines, cells, detail

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.binding import BindingType


__all__ = ["TopApp"]

#: How many lines of the selected program's past output the log pane starts with.
TAIL_LINES: Final = 50
#: The most lines the log pane keeps.
KEPT_LINES: Final = 2000
RECONNECT_MIN: Final = 0.5
RECONNECT_MAX: Final = 5.0

#: State colours, as systemctl shows them; dropped under NO_COLOR.
STATE_STYLES: Final = {
    ProgramState.RUNNING: "bold green",
    ProgramState.STARTING: "yellow",
    ProgramState.STOPPING: "yellow",
    ProgramState.BACKOFF: "bold red",
    ProgramState.FATAL: "bold red",
    ProgramState.EXITED: "dim",
    ProgramState.STOPPED: "dim",
}


class TopApp(App[int]):
    """See the module docstring. ``usage_interval`` None reads no usage."""

    TITLE = "svctl top"
    CSS = """
    #summary { height: 1; background: $primary-background; padding: 0 1; }
    #programs { height: 1fr; min-height: 5; }
    #detail { height: 1; padding: 0 1; background: $boost; }
    #log { height: 1fr; min-height: 4; border-top: solid $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "act('start')", "start"),
        Binding("x", "stop", "stop"),
        Binding("r", "act('restart')", "restart"),
        Binding("k", "signal", "signal"),
        Binding("q", "quit", "quit"),
    ]

    def __init__(
        self,
        socket_path: str,
        *,
        usage_interval: float | None = 2.0,
        timeout: float | None = 10.0,
        read_only: bool = False,
    ) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.timeout = timeout
        self.read_only = read_only
        self.feed = self._client()
        self.reads = self._client()
        self.usage_interval = usage_interval
        self.board = Board()
        self.connected = False
        self._selected: str | None = None
        self._lines = Lines()
        self._refreshing = False
        self._retry = RECONNECT_MIN
        self._daemon = ""
        # Held here, not looked up: a feed task may still draw while the app closes.
        self.summary_bar = Static("connecting…", id="summary")
        self.programs_table: DataTable[str | Text] = DataTable(
            id="programs", cursor_type="row", zebra_stripes=True
        )
        self.detail_bar = Static("", id="detail")
        self.output_pane = RichLog(id="log", max_lines=KEPT_LINES, wrap=False, markup=False)

    def _client(self) -> AsyncClient:
        return AsyncClient(self.socket_path, timeout=self.timeout, read_only=self.read_only)

    # -- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield self.summary_bar
        yield self.programs_table
        yield self.detail_bar
        yield self.output_pane
        yield Footer()

    def on_mount(self) -> None:
        for key, heading in COLUMNS:
            self.programs_table.add_column(heading, key=key)
        self.set_interval(1.0, self._redraw)  # uptime counts on between reads
        if self.usage_interval is not None:
            self.set_interval(self.usage_interval, self._read_usage)
        self._follow()

    @property
    def selected(self) -> str | None:
        """The program under the cursor."""
        return self._selected

    # -- the feed ------------------------------------------------------------------------------

    @work(exclusive=True, group="feed")
    async def _follow(self) -> None:
        """Subscribe, read every program, then apply each pushed change until the stream
        or the connection ends; then try again after a pause."""
        try:
            async with self.feed.events() as events:
                self.board.load(await self.feed.status(usage=True), time.monotonic())
                welcome = self.feed.welcome
                if welcome is not None:
                    self._daemon = f"supervisord-lite {welcome.daemon_version}, pid {welcome.pid}"
                self.connected, self._retry = True, RECONNECT_MIN
                self._show_all()
                async for event in events:
                    if isinstance(event, StateChanged):
                        self._on_event(event)
                    elif isinstance(event, DaemonEvent) and event.change == "reload":
                        self._reload_all()  # programs were added or removed
            why = "the daemon ended the stream (shutting down?)"
        except SvctlError as exc:
            why = str(exc)
        self.connected = False
        self._summary(f"retrying in {self._retry:g}s: {why}")
        self.set_timer(self._retry, self._follow)
        self._retry = min(self._retry * 2, RECONNECT_MAX)

    def _on_event(self, event: StateChanged) -> None:
        if not self.board.apply(event, time.monotonic()):
            self._reload_all()
            return
        self._show(event.program)
        if not self._refreshing:
            self._refreshing = True  # one reader of marked rows at a time, from now
            self._refresh_stale()

    @work(group="refresh")
    async def _refresh_stale(self) -> None:
        """Read the programs pushed changes marked, until none is left to read."""
        try:
            while self.board.stale and self.connected:
                names = sorted(self.board.stale)
                self.board.stale.clear()
                programs = await self.reads.status(*names)
                self.board.update(programs, time.monotonic())
                for name in names:
                    self._show(name)
        except DaemonUnavailable:
            pass  # the feed says so and reconnects
        except SvctlError:  # a program a reload removed: read them all
            self._reload_all()
        finally:
            self._refreshing = False

    @work(exclusive=True, group="reload")
    async def _reload_all(self) -> None:
        try:
            self.board.load(await self.reads.status(usage=True), time.monotonic())
        except SvctlError:
            return  # the feed says so and reconnects
        self._show_all()

    @work(exclusive=True, group="usage")
    async def _read_usage(self) -> None:
        if not self.connected:
            return
        try:
            programs = await self.reads.status(usage=True)
        except SvctlError:
            return  # the feed says so and reconnects
        self.board.update(programs, time.monotonic())
        self._redraw()

    # -- drawing -------------------------------------------------------------------------------

    def _show_all(self) -> None:
        table = self.programs_table
        cursor = self._selected
        table.clear()
        now = time.monotonic()
        for name, row in self.board.rows.items():
            table.add_row(*self._cells(cells(row, now)), key=name)
        if self.board.rows:
            names = list(self.board.rows)
            table.move_cursor(row=names.index(cursor) if cursor in names else 0)
        self._summary()
        self._show_detail()

    def _cells(self, values: dict[str, str]) -> list[str | Text]:
        out: list[str | Text] = []
        for key, _ in COLUMNS:
            value = values[key]
            if key == "state":
                out.append(Text(value, style=STATE_STYLES.get(ProgramState(value), "")))
            elif key == "health" and value == "unhealthy":
                out.append(Text(value, style="bold red"))
            else:
                out.append(value)
        return out

    def _show(self, name: str) -> None:
        row = self.board.rows.get(name)
        if row is None:
            return
        table = self.programs_table
        values = self._cells(cells(row, time.monotonic()))
        for (key, _), value in zip(COLUMNS, values, strict=True):
            table.update_cell(name, key, value)
        self._summary()
        if name == self._selected:
            self._show_detail()

    def _redraw(self) -> None:
        if self.connected:
            for name in self.board.rows:
                self._show(name)

    def _summary(self, trouble: str = "") -> None:
        counts: dict[str, int] = {}
        for row in self.board.rows.values():
            state = row.status.state.value.lower()
            counts[state] = counts.get(state, 0) + 1
        said = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        head = trouble or self._daemon
        self.summary_bar.update(Text(f"{head} · {said}" if said else head))

    def _show_detail(self) -> None:
        row = self.board.rows.get(self._selected) if self._selected else None
        said = detail(row, time.monotonic()) if row is not None else ""
        self.detail_bar.update(Text(said, no_wrap=True, overflow="ellipsis"))

    # -- the selected program's output -----------------------------------------------------------

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = event.row_key.value
        if name is None or name == self._selected:
            return
        self._selected = name
        self._show_detail()
        log = self.output_pane
        log.clear()
        log.border_title = f"{name}: output"
        self._lines = Lines()
        self._tail(name)

    @work(exclusive=True, group="logs")
    async def _tail(self, name: str) -> None:
        log = self.output_pane
        try:
            async with (
                self._client() as client,
                client.logs(name, lines=TAIL_LINES, follow=True) as items,
            ):
                async for item in items:
                    if isinstance(item, LogChunk):
                        style = "red" if item.stream == "stderr" else ""
                        for line in self._lines.feed(item.stream, item.data):
                            log.write(Text(line, style=style))
                    else:
                        log.write(Text(f"[{item.dropped} bytes of {item.stream} missed]", "dim"))
        except SvctlError as exc:
            log.write(Text(f"[{exc}]", style="dim"))

    # -- actions -------------------------------------------------------------------------------

    def action_act(self, op: str) -> None:
        if self._selected is not None:
            self._run(op, self._selected)

    def action_stop(self) -> None:
        name = self._selected
        if name is None:
            return

        def answered(stop: bool | None) -> None:
            if stop:
                self._run("stop", name)

        self.push_screen(ConfirmStop(name), answered)

    def action_signal(self) -> None:
        name = self._selected
        if name is None:
            return

        def answered(signal: str | None) -> None:
            if signal:
                self._send_signal(name, signal)

        self.push_screen(PickSignal(name), answered)

    @work(group="actions")
    async def _run(self, op: str, name: str) -> None:
        self.notify(f"{op} {name}…", timeout=2)
        try:
            async with self._client() as client:
                if op == "start":
                    results = await client.start(name)
                elif op == "stop":
                    results = await client.stop(name)
                else:
                    results = await client.restart(name)
        except SvctlError as exc:
            self.notify(f"{op} {name}: {exc}", severity="error")
            return
        for result in results:
            said = result.state.value.lower()
            if result.message and result.message != said:
                said = f"{said}: {result.message}"
            if result.ok:
                self.notify(f"{result.name}: {said}")
            else:
                self.notify(f"{result.name}: {said}", severity="error")

    @work(group="actions")
    async def _send_signal(self, name: str, signal: str) -> None:
        try:
            async with self._client() as client:
                results = await client.signal(name, signal=signal)
        except SvctlError as exc:
            self.notify(f"signal {name}: {exc}", severity="error")
            return
        for result in results:
            if result.ok:
                self.notify(f"{result.name}: sent SIG{signal}")
            else:
                self.notify(f"{result.name}: {result.message or 'not sent'}", severity="error")

    async def on_unmount(self) -> None:
        self.workers.cancel_all()
        await self.feed.aclose()
        await self.reads.aclose()
