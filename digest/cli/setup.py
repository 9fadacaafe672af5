"""`digest init`: a commented digest.toml and the schema, optionally the sample articles."""

from __future__ import annotations

import secrets
from pathlib import Path

import click

from digest.cli import main, pass_app
from digest.config import CONFIG_FILE_NAME


@main.command()
@click.option("--sample", is_flag=True, help="Also load the bundled sample articles and subscribers.csv.")
@click.option("--force", is_flag=True, help="Overwrite an existing digest.toml (a new secret key too).")
@click.option("--now", "when", metavar="WHEN", help="Date the sample articles relative to this moment.")
@pass_app
def init(app, sample, force, when):
    """Write a commented digest.toml and create the database schema.

    \b
    Example:
        digest init --sample
    """
    from digest.settings_file import commented_config

    path = app.config.config_path or Path(CONFIG_FILE_NAME)
    if force or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(commented_config(secret_key=secrets.token_urlsafe(32)), encoding="utf-8")
        click.echo(f"Wrote {path}")
    app.store  # creates the schema
    click.echo(f"Database ready at {app.config.db_path}")
    if sample:
        from digest.sample import load_sample

        for line in load_sample(app.store, app.config, app.now(when)):
            click.echo(line)
