"""The options that choose what a command reads, shared by `run`, `snapshot`, `doctor` and `top`.

Declared here once: one name per concept, each also read from the environment variable
THPWATCH_<NAME> (shown in --help). What differs between commands is a default (`Defaults`):
`run` scans no process and no cgroup unless asked, because it runs on every host all the time
and a scan costs CPU (docs/exporter.md); snapshot, doctor and top, which a person runs to look,
read everything.

The spellings of the previous release stay accepted for one more release and are listed in
--help as deprecated: run's --per-process and --per-cgroup (and THPWATCH_PER_PROCESS,
THPWATCH_PER_CGROUP), snapshot/doctor/top's --process-pids.

A new option here reaches every command: its SourceOptions field (thpwatch/assembly.py), its
`_option` below (and its name in FIELDS), and its row in tests/unit/test_cli_source_options.py
SETTINGS, which fails until it has one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import click

from thpwatch.assembly import SourceOptions
from thpwatch.kernel.liveroot import is_live

ENV_PREFIX = "THPWATCH_"


class Interval(NamedTuple):
    default: float  # seconds
    minimum: float


@dataclass(frozen=True)
class Defaults:
    """A command's defaults where the commands differ."""

    scans: bool  # the process scan and the cgroup walk
    scan_interval: Interval | None = None  # None: the command reads once, no such option
    pagetypeinfo_interval: Interval | None = None


EXPORTER = Defaults(  # run
    scans=False,
    scan_interval=Interval(default=60.0, minimum=5.0),
    # why 60 s: docs/exporter.md "pagetypeinfo"
    pagetypeinfo_interval=Interval(default=60.0, minimum=0.0),
)
LIVE_VIEW = Defaults(  # top
    scans=True,
    scan_interval=Interval(default=5.0, minimum=0.1),
    pagetypeinfo_interval=Interval(default=0.0, minimum=0.0),  # read with every frame
)
READ_ONCE = Defaults(scans=True)  # snapshot, doctor

SCANS_DEFAULT = (
    "Off by default in `run` (a scan costs CPU; it runs on every host), on in the others."
)

# The options that are SourceOptions fields of the same name, as given.
FIELDS = (
    "processes",
    "cgroups",
    "top",
    "pid_labels",
    "process_smaps",
    "kmsg",
    "scan_interval",
    "pagetypeinfo_interval",
)
# Every source option's parameter name (a command may lack the two intervals).
NAMES = ("root", "no_bpf", "enable_probes", *FIELDS)


def envvar(flag: str) -> str:
    """--process-smaps -> THPWATCH_PROCESS_SMAPS, --web.config.file -> THPWATCH_WEB_CONFIG_FILE"""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").replace(".", "_").upper()


class SourceOption(click.Option):
    """A click.Option that also parses its deprecated spellings (`former`: flags and environment
    variables) but names them in --help only in its help text."""

    def __init__(self, *args: Any, former: tuple[str, ...] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.former = former

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown = copy.copy(self)
        shown.opts = [o for o in self.opts if o not in self.former]
        shown.envvar = [e for e in self.envvar if e not in self.former]
        return click.Option.get_help_record(shown, ctx)


def _option(
    name: str,
    flags: str,
    help: str,
    *,
    former: tuple[str, ...] = (),
    former_env: tuple[str, ...] = (),
    **attrs: Any,
) -> Callable[[Any], Any]:
    """click.option(flags) with its environment variable; `former` and `former_env` are the
    deprecated spellings, still accepted."""
    if former or former_env:
        help += f" Also, deprecated until the next release: {', '.join((*former, *former_env))}."
    return click.option(
        name,
        flags,
        *former,
        cls=SourceOption,
        former=(*former, *former_env),
        envvar=[envvar(flags.split("/")[0]), *former_env],
        show_envvar=True,
        show_default=True,
        help=help,
        **attrs,
    )


def _options(d: Defaults) -> list[Callable[[Any], Any]]:
    from thpwatch.probes.specs import OPT_IN_GROUPS

    options = [
        _option(
            "root",
            "--root",
            "Read the kernel's files under DIR: the host's /proc and /sys mounted there (a "
            "container), or a fixture tree (BPF is off then).",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            default=Path("/"),
        ),
        _option("no_bpf", "--no-bpf", "Do not load BPF probes: kernel files only.", is_flag=True),
        _option(
            "enable_probes",
            "--enable-probe",
            "Also load an opt-in probe group (repeatable; costly, see bench/README.md): alloc = "
            "kmem:mm_page_alloc (order >= 2 allocations, reserved-THP GFP bit), faults_any = "
            "handle_mm_fault latency.",
            multiple=True,
            type=click.Choice(sorted(OPT_IN_GROUPS)),
        ),
        _option(
            "processes",
            "--processes/--no-processes",
            "Report the top processes by THP use (a bounded scan of /proc). " + SCANS_DEFAULT,
            default=d.scans,
            former=("--per-process",),
            former_env=("THPWATCH_PER_PROCESS",),
        ),
        _option(
            "cgroups",
            "--cgroups/--no-cgroups",
            "Report the top cgroups by THP use (their memory.stat). " + SCANS_DEFAULT,
            default=d.scans,
            former=("--per-cgroup",),
            former_env=("THPWATCH_PER_CGROUP",),
        ),
        _option(
            "top",
            "--top",
            "How many processes / cgroups the scans report.",
            type=click.IntRange(min=1, max=1000),
            default=10,
        ),
        _option(
            "pid_labels",
            "--pid-labels",
            "Label per-process series by pid too, not only by command name (a series per "
            "process: high cardinality).",
            is_flag=True,
            former=("--process-pids",),
        ),
        _option(
            "process_smaps",
            "--process-smaps",
            "Walk /proc/<pid>/smaps in the process scan. auto: not on kernels where that "
            "splits PUD (1 GiB) THPs.",
            type=click.Choice(["auto", "on", "off"]),
            default="auto",
        ),
        _option(
            "kmsg",
            "--kmsg/--no-kmsg",
            "Read the kernel log (/dev/kmsg): Reserved THP's boot line, boot-parameter errors, "
            "OOM lines.",
            default=True,
        ),
    ]
    if d.scan_interval is not None:
        options.append(
            _option(
                "scan_interval",
                "--scan-interval",
                "Seconds between process / cgroup scans (they cost more than the rest, so they "
                "are not read every time).",
                type=click.FloatRange(min=d.scan_interval.minimum),
                default=d.scan_interval.default,
            )
        )
    if d.pagetypeinfo_interval is not None:
        options.append(
            _option(
                "pagetypeinfo_interval",
                "--pagetypeinfo-interval",
                "Seconds between /proc/pagetypeinfo reads (free chunks, pageblocks, reserved-pool "
                "residency; reading it locks each zone while its free lists are walked); "
                "0 = every reading.",
                type=click.FloatRange(min=d.pagetypeinfo_interval.minimum),
                default=d.pagetypeinfo_interval.default,
            )
        )
    return options


def source_options(defaults: Defaults) -> Callable[[Any], Any]:
    """Decorator: a command's source options, with `defaults`."""

    def decorate(command: Any) -> Any:
        for option in reversed(_options(defaults)):
            command = option(command)
        return command

    return decorate


def options_from(root: Path, kw: dict[str, Any]) -> SourceOptions:
    """SourceOptions from a command's keyword arguments (consumes the source options but root,
    which the command passes)."""
    given = {name: kw.pop(name) for name in FIELDS if name in kw}
    return SourceOptions(
        bpf=not kw.pop("no_bpf") and is_live(root),
        enable_probes=tuple(kw.pop("enable_probes")),
        **given,
    )
