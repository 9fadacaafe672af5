"""Reading JSON sources: one clear message for broken JSON, text fields checked for type."""

from __future__ import annotations

import json

from digest.ingest.entries import SourceUnreadable


def load_json(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceUnreadable(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None


def text_field(item: dict, key: str) -> str | None:
    """item[key] as text; None when missing or null. Raises ValueError for a list, object, ..."""
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{key} must be text, not {type(value).__name__}")
    return str(value)
