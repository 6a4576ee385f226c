"""What each key does to the view: a pure function of (state, key), so it is tested without a
terminal."""

from __future__ import annotations

from thpwatch.tui.keys import ESC
from thpwatch.tui.screen import ViewState

BACKSPACES = ("\x7f", "\b")
ENTERS = ("\r", "\n")


def handle_key(state: ViewState, key: str) -> bool:
    """Apply one key press to state; True means quit."""
    if state.editing_filter:
        edit_filter(state, key)
        return False
    if state.show_help:
        state.show_help = False  # any key closes the help
        return key == "q"
    if key == "q":
        return True
    if key == "p":
        state.paused = not state.paused
    elif key == "s":
        state.sort_index += 1
    elif key == "/":
        state.editing_filter = True
        state.needle = ""
    elif key == "?":
        state.show_help = True
    elif key == ESC:
        state.needle = ""
    return False


def edit_filter(state: ViewState, key: str) -> None:
    if key in ENTERS:
        state.editing_filter = False
    elif key == ESC:
        state.editing_filter, state.needle = False, ""
    elif key in BACKSPACES:
        state.needle = state.needle[:-1]
    elif key.isprintable() and not key.startswith(ESC):
        state.needle += key
