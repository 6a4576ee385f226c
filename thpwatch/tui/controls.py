"""What each key does to the view: a pure function of (state, key), so it is tested without a
terminal."""

from __future__ import annotations

from thpwatch.tui.keys import ESC
from thpwatch.tui.screen import ViewState

BACKSPACES = ("\x7f", "\b")
ENTERS = ("\r", "\n")
UP, DOWN = (ESC + "[A", "k"), (ESC + "[B", "j")
PAGE_UP, PAGE_DOWN = ESC + "[5~", ESC + "[6~"
HOME = ("g", ESC + "[H", ESC + "[1~")


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
        state.scroll = 0
    elif key == "r":
        state.reverse = not state.reverse
        state.scroll = 0
    elif key in UP + DOWN + (PAGE_UP, PAGE_DOWN) + HOME:
        scroll(state, key)
    elif key == "/":
        state.editing_filter = True
        state.needle = ""
    elif key == "?":
        state.show_help = True
    elif key == ESC:
        state.needle = ""
    return False


def scroll(state: ViewState, key: str) -> None:
    """Move the tables' first row; the render keeps it within the rows there are."""
    step = {PAGE_UP: -state.page, PAGE_DOWN: state.page}.get(key, -1 if key in UP else 1)
    state.scroll = 0 if key in HOME else max(0, state.scroll + step)


def edit_filter(state: ViewState, key: str) -> None:
    if key in ENTERS:
        state.editing_filter = False
        state.scroll = 0
    elif key == ESC:
        state.editing_filter, state.needle = False, ""
    elif key in BACKSPACES:
        state.needle = state.needle[:-1]
    elif key.isprintable() and not key.startswith(ESC):
        state.needle += key
