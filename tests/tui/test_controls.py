"""Key handling, without a terminal."""

from thpwatch.tui.controls import handle_key
from thpwatch.tui.keys import ESC
from thpwatch.tui.screen import ViewState


def press(state: ViewState, keys: list[str]) -> list[bool]:
    return [handle_key(state, k) for k in keys]


def test_quit_pause_sort_help():
    state = ViewState()
    assert press(state, ["p", "s", "s"]) == [False, False, False]
    assert state.paused and state.sort_index == 2
    press(state, ["p", "?"])
    assert not state.paused and state.show_help
    assert press(state, ["x"]) == [False] and not state.show_help  # any key closes help
    assert handle_key(state, "q") is True


def test_filter_typing_backspace_enter_escape():
    state = ViewState()
    press(state, ["/", "d", "b", "x", "\x7f", "q", "\r"])
    assert state.needle == "dbq" and not state.editing_filter  # q typed into the filter
    press(state, ["/", "a", ESC])
    assert state.needle == "" and not state.editing_filter
    press(state, ["/", "c", "\r", ESC])
    assert state.needle == ""  # ESC outside the prompt clears the filter
    press(state, ["/", ESC + "[A", "z", "\n"])
    assert state.needle == "z"  # an arrow key is not typed into the filter
