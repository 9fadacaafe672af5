"""digest CLI: build the edition, drop and undrop articles, set ledes."""

from __future__ import annotations

import json

import click

from digest.cli import main, pass_app

NOW_HELP = "Act as if it were WHEN (e.g. 2026-11-30T08:00, read in the configured timezone)."


@main.command()
@click.option("--now", "when", metavar="WHEN", help=NOW_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print the edition (window, articles per category) as JSON.")
@pass_app
def build(app, when, as_json):
    """Build the edition for this week, or refresh it while it is still a draft.

    The window runs from the end of the previous edition's window (or window_days back for
    the first edition) to now. Approved and sent editions are never changed. When no new
    article was published in the window, nothing is built and the exit status is 1.

    \b
    Example:
        digest build
        digest build --now 2026-11-30T08:00 --json
    """
    from digest.editions import build_edition, describe_window, edition_as_dict

    built = build_edition(app.store, app.config, app.now(when))
    edition = built.edition
    if as_json:
        click.echo(json.dumps({**edition_as_dict(edition), "refreshed": built.refreshed},
                              indent=2, ensure_ascii=False))
        return
    count = sum(len(section.articles) for section in edition.sections)
    verb = "Refreshed draft" if built.refreshed else "Built"
    click.echo(f"{verb} edition {edition.key} ({edition.status}): {count} article{'s' * (count != 1)}")
    click.echo(f"Window: {describe_window(edition.window_start, edition.window_end, app.config.tz)}")
    width = max(len(section.category) for section in edition.sections)
    for section in edition.sections:
        click.echo(f"  {section.category:<{width}}  {len(section.articles)}")


@main.command()
@click.argument("article_id", type=int)
@click.option("--edition", "key", metavar="KEY", help="The draft edition to drop it from (default: the one carrying it).")
@click.option("--now", "when", metavar="WHEN", help=NOW_HELP)
@pass_app
def drop(app, article_id, key, when):
    """Drop an article from a draft edition; it stays out when the edition is refreshed.

    The next article in line for its category may take its place.

    \b
    Example:
        digest drop 42
        digest drop 42 --edition 2026-W48
    """
    from digest.editions import drop as drop_article

    dropped = drop_article(app.store, app.config, article_id, app.now(when), key)
    count = sum(len(section.articles) for section in dropped.edition.sections)
    click.echo(f"Dropped article {article_id} ({dropped.article.title}) from {dropped.edition.key}; "
               f"it stays out when the edition is refreshed (undo: digest undrop {article_id}).")
    click.echo(f"{dropped.edition.key} now carries {count} article{'s' * (count != 1)}.")


@main.command()
@click.argument("article_id", type=int)
@click.option("--edition", "key", metavar="KEY", help="The draft edition it was dropped from (default: the newest).")
@pass_app
def undrop(app, article_id, key):
    """Bring a dropped article back into its draft edition.

    \b
    Example:
        digest undrop 42
    """
    from digest.editions import undrop as undrop_article

    result = undrop_article(app.store, app.config, article_id, key)
    article, key = result.article, result.edition.key
    if result.shown:
        click.echo(f"Article {article_id} ({article.title}) is back in {key} under {article.category}.")
    else:
        click.echo(f"Article {article_id} ({article.title}) is no longer dropped from {key}, but "
                   f"{app.config.per_category} newer {article.category} articles fill that category, "
                   f"so it is not shown.")


@main.command()
@click.argument("article_id", type=int)
@click.argument("text", required=False)
@click.option("--reset", is_flag=True, help="Forget the editor's lede and use the computed one again.")
@pass_app
def lede(app, article_id, text, reset):
    """Show an article's lede, or set your own; yours wins from then on.

    Without TEXT it prints the current lede. Ledes of articles in an approved or sent
    edition cannot change.

    \b
    Example:
        digest lede 42 "Three branch libraries close in spring after a narrow vote."
        digest lede 42 --reset
    """
    from digest.editions import lede_of, set_lede

    if text is not None and reset:
        raise click.UsageError("give either TEXT or --reset, not both")
    if text is None and not reset:
        article = lede_of(app.store, app.config, article_id)
        origin = "editor's" if article.lede_overridden else "computed"
        click.echo(f"Lede of article {article_id} ({origin}): {article.lede or '(none: titles only)'}")
        return
    article = set_lede(app.store, app.config, article_id, None if reset else text)
    if reset:
        click.echo(f"Lede of article {article_id} is the computed one again: {article.lede or '(none: titles only)'}")
    else:
        click.echo(f"Lede of article {article_id} set: {article.lede}")
