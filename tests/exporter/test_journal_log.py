"""Daemon log lines carry their syslog priority ("<4>") only when stderr is the journal."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

from thpwatch.exporter.journal_log import (
    FORMAT,
    JournalFormatter,
    stderr_is_journal,
    syslog_priority,
)


def test_levels_map_to_syslog_priorities():
    assert [syslog_priority(lv) for lv in (10, 20, 30, 40, 50)] == [7, 6, 4, 3, 2]


def test_the_formatter_prefixes_the_priority():
    record = logging.LogRecord("thpwatch.x", logging.WARNING, "f", 1, "probe a: blocked", (), None)
    assert JournalFormatter(FORMAT).format(record) == "<4>WARNING thpwatch.x: probe a: blocked"


def test_stderr_is_the_journal_only_when_journal_stream_names_it(tmp_path):
    with open(tmp_path / "f", "w") as f:
        st = os.fstat(f.fileno())
        assert stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, f.fileno())
        assert not stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"}, f.fileno())
        assert not stderr_is_journal({}, f.fileno())


def test_the_daemons_lines_are_prefixed_under_journal_stream_only():
    """A real process: stderr is a pipe; JOURNAL_STREAM set to that pipe's device:inode."""
    code = (
        "import os, logging\n"
        "st = os.fstat(2)\n"
        "if os.environ.get('AS_JOURNAL'):\n"
        "    os.environ['JOURNAL_STREAM'] = f'{st.st_dev}:{st.st_ino}'\n"
        "from thpwatch.exporter.journal_log import configure\n"
        "configure('info')\n"
        "logging.getLogger('thpwatch').warning('probe a: blocked')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    plain = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    journal = subprocess.run(
        [sys.executable, "-c", code], env={**env, "AS_JOURNAL": "1"}, capture_output=True, text=True
    )
    assert plain.stderr == "WARNING thpwatch: probe a: blocked\n"
    assert journal.stderr == "<4>WARNING thpwatch: probe a: blocked\n"
