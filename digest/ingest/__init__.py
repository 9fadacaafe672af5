"""Ingest: read articles from feeds, CMS exports and front-page text into the store.

One module per source format (feed, jsonfeed, cms, frontpage) yields raw entries;
normalise, identity and pipeline turn them into stored articles; fetch is the only module
that touches the network.
"""

from digest.ingest.fetch import DEFAULT_TIMEOUT, Fetcher
from digest.ingest.pipeline import checked_category, configured_feeds, ingest_source, ingest_sources, read_articles
from digest.ingest.report import SourceReport
from digest.ingest.sample import ingest_sample
from digest.ingest.sniff import FORMATS

__all__ = [
    "DEFAULT_TIMEOUT", "FORMATS", "Fetcher", "SourceReport", "checked_category", "configured_feeds", "ingest_sample",
    "ingest_source", "ingest_sources", "read_articles",
]
