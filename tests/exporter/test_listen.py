from __future__ import annotations

import pytest

from thpwatch.exporter.listen import ListenAddressError, parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (":10386", ("", 10386)),
        ("127.0.0.1:9000", ("127.0.0.1", 9000)),
        ("[::1]:10386", ("::1", 10386)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_valid_addresses(text, expected):
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10386", "expected HOST:PORT"),
        ("host:http", "'http' is not a number"),
        (":70000", "out of range"),
        ("::1:10386", "IPv6 addresses as"),
    ],
)
def test_bad_addresses_say_what_is_wrong(text, message):
    with pytest.raises(ListenAddressError, match=message):
        parse_listen(text)
