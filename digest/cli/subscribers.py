"""`digest subscribers ...`: import, export, list, add, remove, set, rotate, cleanup."""

from __future__ import annotations

import json

import click

from digest.cli import main, pass_app
from digest.errors import InputError
from digest.store.subscribers import STATUSES
from digest import subscribers as service


@main.group()
def subscribers():
    """Manage who gets the digest and which categories they chose.

    \b
    Example:
        digest subscribers import subscribers.csv --dry-run
    """


@subscribers.command("import")
@click.argument("file", metavar="FILE")
@click.option("--resubscribe", is_flag=True, help="Subscribe again addresses that unsubscribed or bounced.")
@click.option("--dry-run", is_flag=True, help="Check and report, but write nothing.")
@click.option("--skip-invalid", is_flag=True, help="Apply the good rows even when some are rejected.")
@pass_app
def import_(app, file, resubscribe, dry_run, skip_invalid):
    """Add and update subscribers from a CSV file (header email,name,categories).

    Every row is checked first; one rejected row means nothing is applied (exit 1)
    unless --skip-invalid. Categories are separated by ';' (names or aliases, any case;
    empty means all).

    \b
    Example:
        digest subscribers import subscribers.csv --dry-run
        digest subscribers import subscribers.csv
    """
    report = service.import_csv(app.store, app.config, file, app.now(None), resubscribe=resubscribe,
                                dry_run=dry_run, skip_invalid=skip_invalid)
    for line in report.lines():
        click.echo(line)
    if report.rejected and not skip_invalid:
        raise InputError(f"{report.rejected} row(s) rejected")


@subscribers.command()
@click.argument("file", metavar="[FILE]", type=click.File("w", encoding="utf-8", atomic=True), default="-")
@click.option("--status", type=click.Choice([*STATUSES, "all"]), default="active", show_default=True,
              help="Which subscribers to write.")
@pass_app
def export(app, file, status):
    """Write subscribers as CSV in the import format (FILE, or stdout when omitted or '-').

    \b
    Example:
        digest subscribers export backup.csv
    """
    service.export_csv(app.store, file, None if status == "all" else status)


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects (categories [] means all).")
@click.option("--status", type=click.Choice(STATUSES), help="Only subscribers with this status.")
@pass_app
def list_(app, as_json, status):
    """List subscribers: email, name, categories and status.

    \b
    Example:
        digest subscribers list --status active --json
    """
    items = service.iter_subscribers(app.store, status)
    if as_json:
        # Streamed one object at a time, so a long list never sits in memory.
        click.echo("[", nl=False)
        for number, subscriber in enumerate(items):
            click.echo(("," if number else "") + "\n  " + json.dumps(service.as_dict(subscriber), ensure_ascii=False),
                       nl=False)
        click.echo("\n]")
        return
    for subscriber in items:
        categories = service.describe_categories(subscriber.categories)
        click.echo(f"{subscriber.email}\t{subscriber.name}\t{categories}\t{subscriber.status}")


@subscribers.command()
@click.argument("email")
@click.option("--name", default="", help="The name used in greetings.")
@click.option("--categories", default="", metavar='"A;B"', help="Categories to receive (default: all).")
@pass_app
def add(app, email, name, categories):
    """Subscribe one address now (no confirmation email).

    \b
    Example:
        digest subscribers add ada@example.com --name "Ada" --categories "tech;travel"
    """
    subscriber = service.add(app.store, app.config, email, name, categories, app.now(None))
    click.echo(f"Added {subscriber.email} (categories: {service.describe_categories(subscriber.categories)})")


@subscribers.command()
@click.argument("email")
@click.option("--forget", is_flag=True,
              help="Delete the subscriber and their history (events, deliveries): for data-protection requests.")
@pass_app
def remove(app, email, forget):
    """Unsubscribe an address (or, with --forget, delete every trace of it).

    \b
    Example:
        digest subscribers remove ada@example.com --forget
    """
    subscriber = service.remove(app.store, email, app.now(None), forget=forget)
    if forget:
        click.echo(f"Forgot {subscriber.email}: subscriber, events and deliveries deleted")
    else:
        click.echo(f"Unsubscribed {subscriber.email}")


@subscribers.command("set")
@click.argument("email")
@click.option("--categories", required=True, metavar='"A;B"', help='Categories to receive ("" means all).')
@pass_app
def set_(app, email, categories):
    """Change which categories an address receives.

    \b
    Example:
        digest subscribers set ada@example.com --categories "News;Travel"
    """
    subscriber = service.change_categories(app.store, app.config, email, categories, app.now(None))
    click.echo(f"{subscriber.email}: categories {service.describe_categories(subscriber.categories)}")


@subscribers.command()
@click.argument("email")
@pass_app
def rotate(app, email):
    """Make every link already sent to this address stop working (e.g. a forwarded email).

    \b
    Example:
        digest subscribers rotate ada@example.com
    """
    subscriber = service.rotate(app.store, email, app.now(None))
    click.echo(f"{subscriber.email}: links before now no longer work (token version {subscriber.token_version})")


@subscribers.command()
@click.option("--now", "when", metavar="WHEN", help="Count the waiting time up to this moment.")
@pass_app
def cleanup(app, when):
    """Delete sign-ups not confirmed within confirm_days ([web] in digest.toml).

    \b
    Example:
        digest subscribers cleanup
    """
    count = service.cleanup_pending(app.store, app.config, app.now(when))
    click.echo(f"Deleted {count} unconfirmed sign-up(s)")
