"""`digest preview`: write or serve exactly what a category set or a subscriber would receive."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli import main, pass_app

FILE = click.Path(dir_okay=False, writable=True, path_type=Path)


@main.command()
@click.argument("edition", required=False, metavar="[EDITION]")
@click.option("--categories", metavar="A,B", help="Preview what readers of these categories get (names or aliases).")
@click.option("--subscriber", metavar="EMAIL", help="Preview what this subscriber gets, their own links included.")
@click.option("--html", "html_file", type=FILE, metavar="FILE", help="Write the HTML part here.")
@click.option("--text", "text_file", type=FILE, metavar="FILE", help="Write the plain-text part here.")
@click.option("--serve", is_flag=True, help="Open a live preview page on 127.0.0.1 that reloads on changes.")
@click.option("--port", type=click.IntRange(0, 65535), default=None,
              help="Port for --serve (default 8001; 0: any free one).")
@pass_app
def preview(app, edition, categories, subscriber, html_file, text_file, serve, port):
    """Show an edition (default: the newest) as a reader would receive it.

    Without --html/--text, writes the HTML and text parts into preview/ beside the
    database and prints their paths. --serve shows the email at desktop and phone
    widths with its text, size, counts per category and warnings, and reloads when
    the edition or the templates change.

    \b
    Example:
        digest preview
        digest preview --categories tech,travel --html out.html --text out.txt
        digest preview 2026-W48 --subscriber ann@example.com --html ann.html
        digest preview --serve --port 8001
    """
    if categories and subscriber:
        raise click.UsageError("use --categories or --subscriber, not both")
    if serve:
        if html_file or text_file or categories or subscriber:
            raise click.UsageError("--serve has its own picker for categories and subscribers; "
                                   "drop --html/--text/--categories/--subscriber")
        from digest.web.preview import DEFAULT_PORT, serve_preview

        serve_preview(app.config, port=DEFAULT_PORT if port is None else port, edition_key=edition, say=click.echo)
        return
    if port is not None:
        raise click.UsageError("--port goes with --serve")
    from digest.editions import get as get_edition
    from digest.render import Renderer
    from digest.render.preview import default_paths, make_preview, parse_category_list, write_preview

    chosen = parse_category_list(app.config, categories) if categories else None
    renderer = Renderer(app.config)
    result = make_preview(app.store, app.config, renderer, get_edition(app.store, edition, config=app.config),
                          categories=chosen, email=subscriber)
    if not (html_file or text_file):
        html_file, text_file = default_paths(app.config, result)
    written = write_preview(result, html_file, text_file)
    click.echo(f"Edition {result.edition.key} for {result.label}: {result.variant.subject}")
    for path in written:
        size = f" ({result.html_bytes / 1000:.1f} KB)" if path == html_file else ""
        click.echo(f"Wrote {path}{size}")
    for warning in result.warnings:
        click.echo(f"Warning: {warning}", err=True)
