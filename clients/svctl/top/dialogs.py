"""The questions ``svctl top`` asks before it acts: whether to stop, which signal to send."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Final

from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.binding import BindingType

__all__ = ["SIGNALS", "ConfirmStop", "PickSignal"]

#: The signals offered, the ones programs are usually told something with first.
SIGNALS: Final = ("HUP", "USR1", "USR2", "INT", "TERM", "QUIT", "CONT", "STOP", "KILL")

_CSS: Final = """
ConfirmStop, PickSignal {
    align: center middle;
}
#dialog {
    width: auto;
    max-width: 70;
    height: auto;
    border: thick $warning;
    padding: 0 1;
    background: $surface;
}
#dialog OptionList {
    height: auto;
    max-height: 11;
    width: 20;
}
"""


class ConfirmStop(ModalScreen[bool]):
    """``Stop web? [y/N]``: y stops, anything else leaves it running."""

    DEFAULT_CSS = _CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "stop it"),
        Binding("n,escape,q", "answer(False)", "keep it running"),
    ]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.program = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Stop {self.program}?  y: stop it   n: keep it running")

    def action_answer(self, stop: bool) -> None:
        self.dismiss(stop)


class PickSignal(ModalScreen[str | None]):
    """A list of signal names; Enter sends the one chosen, Escape none."""

    DEFAULT_CSS = _CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "cancel", "cancel")]

    def __init__(self, name: str) -> None:
        super().__init__()
        self.program = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Send {self.program} which signal? (Esc: none)")
            yield OptionList(*SIGNALS)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(SIGNALS[event.option_index])

    def action_cancel(self) -> None:
        self.dismiss(None)
