"""JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""

from __future__ import annotations

from collections.abc import Iterator

from digest.ingest.entries import Entry, Rejected, SourceUnreadable
from digest.ingest.jsondoc import load_json, text_field


def parse_jsonfeed(text: str) -> Iterator[Entry | Rejected]:
    document = load_json(text)
    if not isinstance(document, dict) or not isinstance(document.get("items"), list):
        raise SourceUnreadable("not a JSON Feed: no \"items\" list")
    for number, item in enumerate(document["items"], 1):
        where = f"item {number}"
        if not isinstance(item, dict):
            yield Rejected(where, "not a JSON object")
            continue
        try:
            tags = item.get("tags") or []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise ValueError("tags must be a list of strings")
            guid = item.get("id")
            yield Entry(
                where=where,
                title=text_field(item, "title"),
                url=text_field(item, "url") or text_field(item, "external_url"),
                labels=tuple(tags),
                published=text_field(item, "date_published") or text_field(item, "date_modified"),
                summary=text_field(item, "summary") or "",
                body=text_field(item, "content_html") or text_field(item, "content_text") or "",
                # the spec says a string, but numbers are common in the wild
                guid=str(guid) if isinstance(guid, (str, int)) and not isinstance(guid, bool) else None,
            )
        except ValueError as exc:
            yield Rejected(where, str(exc))
