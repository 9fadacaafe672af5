"""digest CLI: `ingest` (sources → stored articles) and `articles` (list what is stored)."""

from __future__ import annotations

import json

import click

from digest.cli import main, pass_app
from digest.errors import InputError
from digest.timeutil import iso, parse_when

FORMAT_CHOICES = ("auto", "rss", "jsonfeed", "csv", "json", "text")


@main.command()
@click.argument("sources", nargs=-1, metavar="[SOURCE]...")
@click.option("--format", "fmt", type=click.Choice(FORMAT_CHOICES), default="auto", show_default=True,
              help="Source format; auto looks at the content (and the file extension).")
@click.option("--category", metavar="NAME",
              help="Category for items that carry none (in text: the articles before the first label).")
@click.option("--now", "when", metavar="WHEN", help="The moment undated and '2 days ago' items are dated against.")
@click.option("--timeout", type=click.FloatRange(min=0.01), default=None, metavar="SECONDS",
              help="Give up on a URL that does not answer within this long (default 20).")
@pass_app
def ingest(app, sources, fmt, category, when, timeout):
    """Read articles from files or URLs (RSS, Atom, JSON Feed, CMS CSV/JSON, front-page text).

    With no SOURCE, reads the feeds listed in digest.toml. Prints one line per source (new,
    updated, unchanged, rejected). Bad rows are reported with their row or item number and
    skipped; exits non-zero if anything was rejected.

    \b
    Example:
        digest ingest https://news.example.com/feed.xml export.csv
        digest ingest frontpage.txt --category News --now 2026-11-25T08:00
    """
    from digest.ingest import DEFAULT_TIMEOUT, Fetcher, ingest_sources

    fetcher = Fetcher(timeout=timeout or DEFAULT_TIMEOUT)
    reports = ingest_sources(app.store, app.config, sources, app.now(when), fmt, category, fetcher)
    for report in reports:
        for warning in report.warnings:
            click.echo(f"Warning: {warning}", err=True)
        for problem in report.problems:
            click.echo(f"Rejected: {problem}", err=True)
        click.echo(report.line())
    failed = [r for r in reports if not r.ok]
    if failed:
        raise InputError(f"{len(failed)} of {len(reports)} source(s) had rejected items or could not be read")


@main.command()
@click.option("--since", metavar="WHEN", help="Only articles published at or after this moment.")
@click.option("--category", metavar="NAME", help="Only this category (a name or alias).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
@pass_app
def articles(app, since, category, as_json):
    """List stored articles, newest first, with their ledes.

    \b
    Example:
        digest articles --since 2026-11-18 --category Tech --json
    """
    from digest.ingest import checked_category

    since_moment = parse_when(since, app.config.tz) if since else None
    name = checked_category(app.config, category)
    found = app.store.articles.list(since=since_moment, category=name)
    from digest.editions import fill_ledes  # here, so this module imports without editions

    fill_ledes(app.store, app.config, found)
    if as_json:
        click.echo(json.dumps([article_json(a) for a in found], ensure_ascii=False, indent=2))
        return
    for article in found:
        click.echo(f"{iso(article.published)}  #{article.id}  [{article.category}]  {article.title}")
        if article.lede:
            click.echo(f"    {article.lede}")
    if not found:
        click.echo("No articles.", err=True)


def article_json(article) -> dict:
    return {
        "id": article.id, "title": article.title, "url": article.url, "category": article.category,
        "published": iso(article.published), "dated": article.dated, "teaser": article.teaser,
        "lede": article.lede, "lede_overridden": article.lede_overridden, "source": article.source,
        "guid": article.guid,
    }

