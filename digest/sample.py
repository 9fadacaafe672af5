"""The bundled sample: articles dated around `now` and the sample subscribers.csv."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from digest.config import PACKAGE_DIR, Config

SAMPLE_SUBSCRIBERS = PACKAGE_DIR.parent / "subscribers.csv"


def load_sample(store, config: Config, now: datetime, subscribers: Path = SAMPLE_SUBSCRIBERS) -> list[str]:
    """Load the sample articles (dated in the days before `now`) and subscribers; returns report lines."""
    from digest.ingest import ingest_sample
    from digest.subscribers import import_csv

    lines = [ingest_sample(store, config, now).line()]
    if subscribers.is_file():
        lines.append(import_csv(store, config, subscribers, now).line())
    return lines
