"""The `digest` command. Commands parse options, call one library function, print the result.

The group callback loads the Config and puts an App in ctx.obj; command modules below
register themselves on `main`. Library errors (DigestError) become one-line messages with
their exit code, never tracebacks.
"""

from __future__ import annotations

import sys
from datetime import datetime

import click

from digest.config import Config, load_config
from digest.errors import DigestError
from digest.timeutil import parse_when, utcnow


class App:
    """What every command needs: the config, and the store opened on first use."""

    def __init__(self, config: Config):
        self.config = config
        self._store = None

    @property
    def store(self):
        if self._store is None:
            from digest.store import Store

            self._store = Store(self.config.db_path)
        return self._store

    def now(self, when: str | None) -> datetime:
        """--now WHEN, read in the configured timezone, or the real now; always UTC."""
        return parse_when(when, self.config.tz) if when else utcnow()

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


class DigestGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except DigestError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=DigestGroup)
@click.option("--config", "config_file", metavar="FILE", help="digest.toml to use (else $DIGEST_CONFIG, else ./digest.toml).")
@click.option("--db", metavar="FILE", help="SQLite database (else $DIGEST_DB, else digest.db beside the config).")
@click.version_option(package_name="digest")
@click.pass_context
def main(ctx, config_file, db):
    """Build the weekly newsletter digest from your articles and send it.

    \b
    Example:
        digest init --sample && digest build && digest preview
    """
    try:
        config = load_config(config_file, db, must_exist=ctx.invoked_subcommand != "init")
    except DigestError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(exc.exit_code)
    app = App(config)
    ctx.obj = app
    ctx.call_on_close(app.close)


pass_app = click.make_pass_decorator(App)

from digest.cli import articles, delivery, editions, preview, setup, subscribers, web  # noqa: E402,F401
