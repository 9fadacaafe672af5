"""CMS exports: CSV with a header row, or JSON, with the fields title, url, category,
published, summary and body (any order, any case; only title is required)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from digest.ingest.entries import Entry, Rejected, SourceUnreadable
from digest.ingest.jsondoc import load_json, text_field

FIELDS = ("title", "url", "category", "published", "summary", "body")


def parse_csv(text: str, warnings: list[str]) -> Iterator[Entry | Rejected]:
    """Rows are numbered as a spreadsheet shows them: the header is row 1."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise SourceUnreadable("empty CSV file")
        columns = [name.strip().lower() for name in header]
        if "title" not in columns:
            raise SourceUnreadable(f"no 'title' column in the header (found: {', '.join(header)})")
        ignored = [name for name in header if name.strip().lower() not in FIELDS and name.strip()]
        if ignored:
            warnings.append(f"ignored column(s): {', '.join(ignored)}")
        for number, cells in enumerate(reader, 2):
            if not any(cell.strip() for cell in cells):
                continue  # blank lines between rows are harmless
            row = {}
            for name, cell in zip(columns, cells):
                row.setdefault(name, cell)
            yield _entry(row, f"row {number}")
    except csv.Error as exc:
        raise SourceUnreadable(f"broken CSV near line {reader.line_num}: {exc}") from None


def parse_cms_json(text: str, warnings: list[str]) -> Iterator[Entry | Rejected]:
    """A list of article objects, or an object holding one under "articles" or "items"."""
    document = load_json(text)
    if isinstance(document, dict):
        document = document.get("articles", document.get("items"))
    if not isinstance(document, list):
        raise SourceUnreadable('expected a list of articles (or an object with an "articles" list)')
    ignored = sorted({key for item in document if isinstance(item, dict) for key in item
                      if key.strip().lower() not in FIELDS})
    if ignored:
        warnings.append(f"ignored key(s): {', '.join(ignored)}")
    for number, item in enumerate(document, 1):
        where = f"item {number}"
        if not isinstance(item, dict):
            yield Rejected(where, "not a JSON object")
            continue
        try:
            row = {key.strip().lower(): text_field(item, key) for key in item if key.strip().lower() in FIELDS}
        except ValueError as exc:
            yield Rejected(where, str(exc))
            continue
        yield _entry(row, where)


def _entry(row: dict, where: str) -> Entry:
    category = (row.get("category") or "").strip()
    return Entry(
        where=where,
        title=row.get("title"),
        url=row.get("url"),
        labels=(category,) if category else (),
        published=row.get("published"),
        summary=row.get("summary") or "",
        body=row.get("body") or "",
    )
