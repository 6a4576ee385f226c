"""`thpwatch run`: the Prometheus exporter daemon."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from thpwatch.assembly import SourceOptions, all_sources
from thpwatch.commands.common import enable_probe_option, say_loading_bpf
from thpwatch.exporter import journal_log
from thpwatch.exporter.lifecycle import Daemon, Settings
from thpwatch.exporter.listen import DEFAULT_LISTEN, ListenAddressError, parse_listen
from thpwatch.exporter.server import ServeError
from thpwatch.exporter.textfile import TextfileError
from thpwatch.kernel.liveroot import is_live

log = logging.getLogger("thpwatch")

LOG_LEVELS = ("debug", "info", "warning", "error")
PAGETYPEINFO_INTERVAL = 60.0  # seconds; why: docs/exporter.md "pagetypeinfo"


def _env(name: str) -> str:
    return f"THPWATCH_{name}"


@click.command(context_settings={"show_default": True})
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    envvar=_env("LISTEN"),
    help="Address to serve /metrics on: HOST:PORT, :PORT (every address) or [IPv6]:PORT.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=_env("TLS_CERT"),
    help="PEM certificate: serve HTTPS (with --tls-key; re-read on change). "
    "--web.config.file can do more.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=_env("TLS_KEY"),
    help="PEM private key of --tls-cert.",
)
@click.option(
    "--web.config.file",
    "web_config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=_env("WEB_CONFIG_FILE"),
    help="TLS and basic auth settings in the Prometheus exporter-toolkit format (re-read on "
    "change: certificates rotate without restart). See docs/exporter.md.",
)
@click.option(
    "--textfile",
    "textfile_dir",
    envvar=_env("TEXTFILE"),
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write DIR/thpwatch.prom for node_exporter's textfile collector.",
)
@click.option(
    "--textfile-interval",
    type=click.FloatRange(min=1),
    default=15.0,
    envvar=_env("TEXTFILE_INTERVAL"),
    help="Seconds between textfile rewrites.",
)
@click.option(
    "--no-bpf",
    is_flag=True,
    envvar=_env("NO_BPF"),
    help="Do not load BPF probes: kernel files only.",
)
@enable_probe_option(envvar=_env("ENABLE_PROBE"))
@click.option(
    "--per-process",
    is_flag=True,
    envvar=_env("PER_PROCESS"),
    help="Export the top processes by THP use (scans /proc/<pid>/smaps).",
)
@click.option(
    "--per-cgroup",
    is_flag=True,
    envvar=_env("PER_CGROUP"),
    help="Export the top cgroups by THP use.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1, max=1000),
    default=10,
    envvar=_env("TOP"),
    help="How many processes / cgroups --per-process / --per-cgroup export.",
)
@click.option(
    "--pid-labels",
    is_flag=True,
    envvar=_env("PID_LABELS"),
    help="Label --per-process series by pid (a series per process: high cardinality); "
    "by default processes are grouped by command name.",
)
@click.option(
    "--process-smaps",
    type=click.Choice(["auto", "on", "off"]),
    default="auto",
    envvar=_env("PROCESS_SMAPS"),
    help="Walk /proc/<pid>/smaps in --per-process: auto = unless that splits PUD THPs here.",
)
@click.option(
    "--scan-interval",
    type=click.FloatRange(min=5),
    default=60.0,
    envvar=_env("SCAN_INTERVAL"),
    help="Seconds between process / cgroup scans (they are not read per scrape).",
)
@click.option(
    "--pagetypeinfo-interval",
    type=click.FloatRange(min=0),
    default=PAGETYPEINFO_INTERVAL,
    envvar=_env("PAGETYPEINFO_INTERVAL"),
    help="Seconds between /proc/pagetypeinfo reads (free chunks, pageblocks, reserved-pool "
    "residency; reading it locks each zone while its free lists are walked); 0 = every scrape.",
)
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("/"),
    envvar=_env("ROOT"),
    help="Read the kernel's files under DIR instead of / (a fixture tree); no BPF then.",
)
@click.option(
    "--log-level", type=click.Choice(LOG_LEVELS), default="info", envvar=_env("LOG_LEVEL")
)
def run(
    listen: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    web_config_file: Path | None,
    textfile_dir: Path | None,
    textfile_interval: float,
    no_bpf: bool,
    enable_probes: tuple[str, ...],
    per_process: bool,
    per_cgroup: bool,
    top: int,
    pid_labels: bool,
    process_smaps: str,
    scan_interval: float,
    pagetypeinfo_interval: float,
    root: Path,
    log_level: str,
) -> None:
    """Serve THP metrics to Prometheus (and optionally a node_exporter textfile).

    Every scrape reads the kernel afresh; process and cgroup scans run on their own interval.
    Under systemd (Type=notify) it reports READY once the BPF probes are attached.

    \b
    Examples:
      thpwatch run                               serve on :10386
      thpwatch run --listen 127.0.0.1:10386 --no-bpf
      thpwatch run --textfile /var/lib/prometheus/node-exporter
      thpwatch run --root tests/fixtures/patched  a patched kernel's files, for a demo

    \b
    Exit status: 0 stopped by SIGTERM/SIGINT/SIGQUIT/SIGHUP; 1 could not start (address in
    use, TLS files, web config, textfile directory); 2 bad command line.
    """
    journal_log.configure(log_level)
    try:
        host, port = parse_listen(listen)
    except ListenAddressError as e:
        raise click.BadParameter(str(e), param_hint="--listen") from None
    options = SourceOptions(
        processes=per_process,
        process_smaps=process_smaps,
        process_pids=pid_labels,
        cgroups=per_cgroup,
        top=top,
        scan_interval=scan_interval,
        pagetypeinfo_interval=pagetypeinfo_interval,
        bpf=not no_bpf,
        enable_probes=enable_probes,
        bpf_helper=True,
    )
    settings = Settings(
        host, port, tls_cert, tls_key, textfile_dir, textfile_interval, web_config_file
    )
    daemon = Daemon(all_sources(root, options), settings)
    daemon.install_signal_handlers()
    say_loading_bpf(options.bpf and is_live(root))
    try:
        daemon.start()
    except (ServeError, TextfileError) as e:
        daemon.close_sources()
        click.echo(f"thpwatch run: {e}", err=True)
        sys.exit(1)
    try:
        daemon.run_forever()
    finally:
        daemon.stop()
