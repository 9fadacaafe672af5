"""digest CLI: approve, send, run (for cron) and status."""

from __future__ import annotations

import json
import sys

import click

from digest.cli import main, pass_app

def _progress(describe: str):
    """A bar on a terminal; on cron, a few log lines on stderr."""
    from digest.deliver.progress import LogProgress, TerminalProgress

    if sys.stderr.isatty():
        return TerminalProgress(sys.stderr)
    return LogProgress(lambda line: click.echo(line, err=True), describe=describe)


def _config_with(app, smtp_url: str | None):
    from digest.config import parse_smtp_url

    if not smtp_url:
        return app.config
    return app.config.with_overrides(smtp=parse_smtp_url(smtp_url, app.config.smtp), transport="smtp")


def _write_stats(path: str, stats: dict) -> None:
    from digest.errors import InputError

    try:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(stats, out)
            out.write("\n")
    except OSError as exc:
        raise InputError(f"cannot write --stats-json file {path}: {exc.strerror}") from None


def _options(config, **overrides):
    from digest.deliver.engine import SendOptions

    return SendOptions.from_config(config, **overrides)


@main.command()
@click.argument("edition", required=False)
@click.option("--now", "when", metavar="WHEN", help="Record the approval at WHEN instead of now.")
@pass_app
def approve(app, edition, when):
    """Approve a draft edition (the newest if none is named) so that send and run deliver it.

    \b
    Example:
        digest approve
        digest approve 2026-W48
    """
    from digest.editions import approve as approve_edition

    approved = approve_edition(app.store, edition, app.now(when))
    count = sum(len(section.articles) for section in approved.sections)
    click.echo(f"Approved edition {approved.key}: {count} article{'s' * (count != 1)}; "
               f"`digest send` (or the next `digest run`) delivers it")


@main.command()
@click.argument("edition", required=False)
@click.option("--dry-run", is_flag=True, help="Build every message, send none; print the count per variant.")
@click.option("--test", "test_email", metavar="EMAIL", help="Send one copy, subject prefixed [TEST], to EMAIL only.")
@click.option("--as", "as_subscriber", metavar="SUBSCRIBER",
              help="With --test: the copy SUBSCRIBER (email or id) would get (default: every category).")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Send at most N messages in this run.")
@click.option("--concurrency", type=click.IntRange(1, 64), metavar="N",
              help="Parallel SMTP connections (default: concurrency in digest.toml, 4).")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), metavar="N",
              help="At most N messages per second across all connections (default: unlimited).")
@click.option("--transport", metavar="smtp|file:DIR", help="Where mail goes (default: transport in digest.toml).")
@click.option("--smtp", "smtp_url", metavar="URL", help="SMTP server as a URL, e.g. smtp://user@host:587?tls=starttls.")
@click.option("--max-wait", type=click.FloatRange(min=0), metavar="SECONDS",
              help="How long to wait at the end for retries that come due (default 60); later ones wait for the next run.")
@click.option("--stats-json", "stats_path", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="When the send ends, write its figures (sent, failed, skipped, deferred, variants, "
                   "render_seconds, bytes, seconds) to FILE as one JSON object.")
@pass_app
@click.pass_context
def send(ctx, app, edition, dry_run, test_email, as_subscriber, limit, concurrency, rate, transport,
         smtp_url, max_wait, stats_path):
    """Send an edition to every active subscriber who has not had it yet.

    Without EDITION: the newest approved edition (or, when require_approval is false, the
    newest built) that is not fully sent. Each subscriber gets only their categories; a
    subscriber with nothing new is skipped. The ledger records every message, so running
    send again (after a crash, or with --limit) sends only what is left, and temporary
    failures are retried with growing delays. The password comes from DIGEST_SMTP_PASSWORD.

    \b
    Exit status:
        0   all done (permanent failures are recorded, never retried)
        1   configuration or input error (e.g. the edition still needs approval)
        73  another send or run holds this database's send lock
        75  temporary failures remain: the next send or run retries them

    \b
    Example:
        digest send --dry-run
        digest send --test editor@example.com --as reader@example.com
        digest send 2026-W48 --smtp smtp://mailer@mail.example.com:587?tls=starttls --rate 50
        digest send --stats-json send-stats.json
    """
    from digest.deliver.engine import SendReport
    from digest.deliver.service import dry_run as dry, send_edition, send_test
    from digest.deliver.transports import make_transport

    if as_subscriber and not test_email:
        raise click.UsageError("--as needs --test EMAIL")
    if dry_run and test_email:
        raise click.UsageError("choose --dry-run or --test, not both")
    config = _config_with(app, smtp_url)
    if dry_run:
        for line in dry(app.store, config, edition).lines():
            click.echo(line)
        return
    chosen = make_transport(config, transport)
    try:
        if test_email:
            click.echo(send_test(app.store, config, test_email, edition, as_subscriber, chosen))
            return
        report = send_edition(
            app.store, config, edition, transport=chosen,
            options=_options(config, concurrency=concurrency, rate=rate, limit=limit, max_wait=max_wait),
            progress=_progress(chosen.describe()), warn=lambda line: click.echo(line, err=True),
        )
    finally:
        chosen.close()
    if stats_path:
        _write_stats(stats_path, (report or SendReport(None)).stats())
    if report is None:
        click.echo("Nothing to send: every edition has been sent", err=True)
        return
    click.echo(report.line(), err=True)
    ctx.exit(report.exit_code)



@main.command()
@click.option("--now", "when", metavar="WHEN", help="Act as if it were WHEN (ingest dates and the schedule).")
@click.option("--transport", metavar="smtp|file:DIR", help="Where mail goes (default: transport in digest.toml).")
@click.option("--smtp", "smtp_url", metavar="URL", help="SMTP server as a URL (else [smtp] or DIGEST_SMTP_URL).")
@click.option("--max-wait", type=click.FloatRange(min=0), metavar="SECONDS",
              help="How long to wait at the end for retries that come due (default 60).")
@pass_app
@click.pass_context
def run(ctx, app, when, transport, smtp_url, max_wait):
    """Everything cron needs: ingest the feeds, build when due, send what is ready.

    Safe to call every few minutes. It builds the edition when the schedule in digest.toml
    is due, sends it once approved (or at once when require_approval is false), and resumes
    editions that earlier runs left part-sent. It also deletes sign-ups never confirmed
    within confirm_days. It holds the same lock as send. Log lines go to stderr.

    \b
    Exit status:
        0   all done
        1   configuration or input error
        73  another send or run holds this database's send lock
        75  temporary failures remain: the next run retries them

    \b
    Example:
        */5 * * * *  cd /srv/digest && digest run
    """
    from digest.deliver.cron import run as run_once
    from digest.deliver.transports import make_transport

    config = _config_with(app, smtp_url)
    chosen = make_transport(config, transport)
    try:
        report = run_once(
            app.store, config, app.now(when), transport=chosen, options=_options(config, max_wait=max_wait),
            progress=lambda: _progress(chosen.describe()), log=lambda line: click.echo(line, err=True),
        )
    finally:
        chosen.close()
    ctx.exit(report.exit_code)



@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the editions and their ledger counts as JSON.")
@pass_app
def status(app, as_json):
    """Show each edition (draft, approved, sending, sent) with its ledger counts.

    queued: waiting for a retry; sent; failed: refused for good or out of attempts;
    skipped: nothing new for the subscriber, or no longer subscribed.

    \b
    Example:
        digest status
        digest status --json
    """
    from digest.deliver.service import status as edition_status

    rows = edition_status(app.store)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No editions yet (run: digest build)")
        return
    click.echo(f"{'edition':<10} {'status':<9} {'queued':>7} {'sent':>7} {'failed':>7} {'skipped':>7}")
    for row in rows:
        click.echo(f"{row['edition']:<10} {row['status']:<9} {row['queued']:>7} {row['sent']:>7} "
                   f"{row['failed']:>7} {row['skipped']:>7}")
