"""Golden files: each fixture in tests/data/ingest/ beside the normalised articles expected from it.

Regenerate after an intended change with DIGEST_REGOLD=1, then read the diff before committing.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import DATA, NOW

from digest.config import Config
from digest.ingest import read_articles
from digest.ingest.sniff import sniff_format
from digest.timeutil import iso

FIXTURES = DATA / "ingest"
GOLDEN_SUFFIX = ".expected.json"
# Paris, so that dates without an offset show they are read in the configured timezone.
CONFIG = Config(timezone="Europe/Paris")
FORMAT_OF = {
    "rss2.xml": "rss", "atom.xml": "rss", "rss1.rdf": "rss", "feed.json": "jsonfeed",
    "cms.csv": "csv", "cms.json": "json", "frontpage.txt": "text",
}


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.iterdir() if p.is_file() and not p.name.endswith(GOLDEN_SUFFIX))


def normalised(path: Path) -> dict:
    batch = read_articles(path.read_bytes(), str(path), CONFIG, NOW)
    here = str(path.resolve().parent)
    return {
        "articles": [
            {
                "where": p.where,
                "key": p.key.replace(here, "<fixtures>"),
                "title": p.article.title,
                "url": p.article.url,
                "category": p.article.category,
                "published": iso(p.article.published),
                "dated": p.article.dated,
                "teaser": p.article.teaser,
                "guid": p.article.guid,
                "summary": p.article.summary,
                "body": p.article.body,
                "body_html": p.article.body_html,
            }
            for p in batch.articles
        ],
        "rejected": [f"{where}: {reason}" for where, reason in batch.rejected],
        "warnings": batch.warnings,
    }


def test_every_format_has_a_fixture_with_a_golden_file():
    names = {p.name for p in fixture_files()}
    assert set(FORMAT_OF) <= names
    for path in fixture_files():
        assert path.with_name(path.name + GOLDEN_SUFFIX).exists() or os.environ.get("DIGEST_REGOLD"), path.name


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: p.name)
def test_fixture_normalises_to_its_golden_file(path):
    actual = normalised(path)
    golden = path.with_name(path.name + GOLDEN_SUFFIX)
    if os.environ.get("DIGEST_REGOLD"):
        golden.write_text(json.dumps(actual, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert actual == expected


@pytest.mark.parametrize("name", sorted(FORMAT_OF))
def test_auto_detects_each_fixture_format_from_its_content(name, tmp_path):
    content = (FIXTURES / name).read_bytes()
    assert sniff_format(content, name) == FORMAT_OF[name]
    # the content decides even when the file name gives no hint
    assert sniff_format(content, str(tmp_path / "export")) == FORMAT_OF[name]


def test_a_text_file_named_csv_is_read_as_csv_only_when_it_could_be():
    assert sniff_format(b"Just some words, with a comma\n", "notes.csv") == "csv"
    assert sniff_format(b"Just some words, with a comma\n", "notes") == "text"
    assert sniff_format(b"title,url\nA,https://e.com/a\n", "export") == "csv"
