"""Which format a source is in: decided by its content, with the file extension as a hint."""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePosixPath
from urllib.parse import urlsplit

FORMATS = ("rss", "jsonfeed", "csv", "json", "text")
_EXTENSION_HINTS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "text", ".text": "text",
    ".rss": "rss", ".xml": "rss", ".atom": "rss", ".rdf": "rss",
}


def extension_hint(source: str) -> str | None:
    path = urlsplit(source).path if "://" in source else source
    return _EXTENSION_HINTS.get(PurePosixPath(path).suffix.lower())


def sniff_format(content: bytes, source: str, content_type: str | None = None) -> str:
    """rss (any feed feedparser reads: RSS 0.9x/1.0/2.0, Atom), jsonfeed, csv, json or text."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<"):
        return "rss"
    if head.startswith((b"{", b"[")):
        return _json_kind(content)
    hint = extension_hint(source) or _content_type_hint(content_type)
    if hint in ("csv", "text"):
        return hint
    return "csv" if _has_csv_header(head) else "text"


def _json_kind(content: bytes) -> str:
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (ValueError, UnicodeDecodeError):
        return "json"  # the CMS reader will say what is wrong with it
    if isinstance(data, dict) and "jsonfeed.org/version" in str(data.get("version", "")):
        return "jsonfeed"
    return "json"


def _content_type_hint(content_type: str | None) -> str | None:
    kind = (content_type or "").split(";")[0].strip().lower()
    return {"text/csv": "csv", "text/plain": "text"}.get(kind)


def _has_csv_header(head: bytes) -> bool:
    """A first line that is a CSV header naming a title column."""
    first_line = head.decode("utf-8", "replace").splitlines()[0] if head else ""
    try:
        cells = next(csv.reader(io.StringIO(first_line)))
    except (csv.Error, StopIteration):
        return False
    return len(cells) > 1 and "title" in (cell.strip().lower() for cell in cells)
