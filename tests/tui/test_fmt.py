"""How numbers read on screen."""

import pytest

from thpwatch.tui.fmt import count, per_second, percent, seconds, size_bytes


@pytest.mark.parametrize(
    "value,text",
    [(5e-7, "500ns"), (1.5e-6, "1.5µs"), (0.0025, "2.5ms"), (0.5, "500ms"), (1.2, "1.20s")],
)
def test_seconds(value, text):
    assert seconds(value) == text


def test_counts_rates_bytes_percent():
    assert [count(v) for v in (7, 12.5, 1234, 4.5e6)] == ["7", "12.5", "1.2k", "4.5M"]
    assert [per_second(v) for v in (0, 0.05, 3.25, 2500)] == ["0", "0.05", "3.2", "2.5k"]
    assert [size_bytes(v) for v in (512, 2 << 20, 3 << 30)] == ["512 B", "2.0 MiB", "3.0 GiB"]
    assert percent(0.25) == "25.0%"
