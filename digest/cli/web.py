"""`digest serve`: the preference centre under waitress."""

from __future__ import annotations

import click

from digest.cli import main, pass_app


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--dev", is_flag=True, help="Without a configured secret key, make up a throwaway one (links then die with the server).")
@click.option("--preview", is_flag=True, help="Also serve the editors' preview pages (only on 127.0.0.1).")
@pass_app
def serve(app, host, port, dev, preview):
    """Serve the preference centre: preferences, unsubscribe, sign-up and lost-link pages.

    Links in the emails point at base_url (DIGEST_BASE_URL), so put this behind a
    reverse proxy answering there. The secret key comes from DIGEST_SECRET_KEY or
    [web] secret_key in digest.toml; without one it refuses to start unless --dev.

    \b
    Example:
        DIGEST_SECRET_KEY=... digest serve --port 8000
        digest serve --dev
    """
    from digest.web import serve as run_server

    run_server(app.config, host=host, port=port, dev=dev, preview=preview, say=click.echo)
