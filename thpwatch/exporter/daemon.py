"""`thpwatch run`: the Prometheus exporter daemon."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from thpwatch.assembly import all_sources
from thpwatch.commands.common import say_loading_bpf
from thpwatch.commands.source_options import EXPORTER, envvar, options_from, source_options
from thpwatch.exporter import journal_log
from thpwatch.exporter.lifecycle import Daemon, Settings
from thpwatch.exporter.listen import DEFAULT_LISTEN, ListenAddressError, parse_listen
from thpwatch.exporter.server import ServeError
from thpwatch.exporter.textfile import TextfileError

log = logging.getLogger("thpwatch")

LOG_LEVELS = ("debug", "info", "warning", "error")


@click.command(context_settings={"show_default": True})
@click.option(
    "--listen",
    default=DEFAULT_LISTEN,
    envvar=envvar("--listen"),
    show_envvar=True,
    help="Address to serve /metrics on: HOST:PORT, :PORT (every address) or [IPv6]:PORT.",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=envvar("--tls-cert"),
    show_envvar=True,
    help="PEM certificate: serve HTTPS (with --tls-key; re-read on change). "
    "--web.config.file can do more.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=envvar("--tls-key"),
    show_envvar=True,
    help="PEM private key of --tls-cert.",
)
@click.option(
    "--web.config.file",
    "web_config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar=envvar("--web.config.file"),
    show_envvar=True,
    help="TLS and basic auth settings in the Prometheus exporter-toolkit format (re-read on "
    "change: certificates rotate without restart). See docs/exporter.md.",
)
@click.option(
    "--textfile",
    "textfile_dir",
    envvar=envvar("--textfile"),
    show_envvar=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write DIR/thpwatch.prom for node_exporter's textfile collector.",
)
@click.option(
    "--textfile-interval",
    type=click.FloatRange(min=1),
    default=15.0,
    envvar=envvar("--textfile-interval"),
    show_envvar=True,
    help="Seconds between textfile rewrites.",
)
@source_options(EXPORTER)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    default="info",
    envvar=envvar("--log-level"),
    show_envvar=True,
)
def run(
    listen: str,
    tls_cert: Path | None,
    tls_key: Path | None,
    web_config_file: Path | None,
    textfile_dir: Path | None,
    textfile_interval: float,
    root: Path,
    log_level: str,
    **kw: Any,
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
    options = replace(options_from(root, kw), bpf_helper=True)
    settings = Settings(
        host, port, tls_cert, tls_key, textfile_dir, textfile_interval, web_config_file
    )
    daemon = Daemon(all_sources(root, options), settings)
    daemon.install_signal_handlers()
    say_loading_bpf(options.bpf)
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
