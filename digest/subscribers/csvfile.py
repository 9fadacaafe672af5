"""subscribers.csv in and out: header `email,name,categories`, categories ';'-separated.

An import checks every row before it touches the database, then applies them all in one
transaction; one bad row means nothing is applied unless the caller asks to skip bad rows.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from digest.addresses import normalise_email
from digest.config import Config
from digest.errors import InputError
from digest.models import Subscriber
from digest.subscribers.service import (
    clean_name,
    describe_categories,
    iter_subscribers,
    parse_categories,
)

COLUMNS = ("email", "name", "categories")


@dataclass
class Row:
    """One checked row of the file."""

    line: int
    email: str
    name: str
    categories: tuple[str, ...]


@dataclass
class ImportReport:
    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    kept: int = 0  # addresses that unsubscribed or bounced, left as they are
    rejected: int = 0
    problems: list[str] = field(default_factory=list)  # one per rejected row: file, line, reason
    notes: list[str] = field(default_factory=list)  # ignored columns, addresses kept unsubscribed
    dry_run: bool = False
    applied: bool = False

    def line(self) -> str:
        """One summary line."""
        summary = (f"{self.source}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
                   f"{self.kept} kept unsubscribed, {self.rejected} rejected")
        if self.dry_run:
            return summary + " (dry run: nothing written)"
        if not self.applied:
            return summary + " (nothing imported: fix the rejected rows or use --skip-invalid)"
        return summary

    def lines(self) -> list[str]:
        """Every rejection and note, then the summary."""
        return [*self.problems, *self.notes, self.line()]


# ---- reading ------------------------------------------------------------------------

def _undecodable(cells) -> bool:
    # The file is decoded with surrogateescape, so bytes that are not UTF-8 show up here
    # as lone surrogates, and the row that holds them can be named.
    return any("\udc80" <= ch <= "\udcff" for cell in cells for ch in cell)


def _read_text(path: Path, where: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read: {exc.strerror or exc}") from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return data.decode("utf-8", errors="surrogateescape")


def _header(reader, where: str, report: ImportReport) -> tuple[dict[str, int], int, int]:
    """Column positions, the header's width and its line number; InputError if unusable."""
    for cells in reader:
        if any(cell.strip() for cell in cells):
            break
    else:
        raise InputError(f"{where}: the file is empty; the first line must be the header {','.join(COLUMNS)}")
    line = reader.line_num
    if _undecodable(cells):
        raise InputError(f"{where} line {line}: not valid UTF-8 (save the file as UTF-8)")
    names = [cell.strip().casefold() for cell in cells]
    if "email" not in names and any("@" in cell for cell in cells):
        raise InputError(f"{where} line {line}: no header; the first line must be {','.join(COLUMNS)}")
    missing = [c for c in COLUMNS if c not in names]
    if missing:
        raise InputError(
            f"{where} line {line}: missing column(s) {', '.join(missing)}; the header must be {','.join(COLUMNS)}"
        )
    doubled = sorted({c for c in COLUMNS if names.count(c) > 1})
    if doubled:
        raise InputError(f"{where} line {line}: column(s) {', '.join(doubled)} appear more than once")
    extra = [cell.strip() or "(unnamed)" for cell, name in zip(cells, names) if name not in COLUMNS]
    if extra:
        report.notes.append(f"{where}: ignoring extra column(s) {', '.join(extra)}")
    return {c: names.index(c) for c in COLUMNS}, len(names), line


def read_rows(config: Config, path: Path, where: str, report: ImportReport) -> list[Row]:
    """Every good row; each bad one is counted and described in `report`."""
    reader = csv.reader(io.StringIO(_read_text(path, where), newline=""))
    rows: list[Row] = []
    seen: dict[str, int] = {}  # address -> the line it first appeared on
    try:
        positions, width, last_line = _header(reader, where, report)
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num  # a quoted field may span lines
            if not any(cell.strip() for cell in cells):
                continue
            try:
                rows.append(_check_row(config, cells, positions, width, line, seen))
            except InputError as exc:
                report.rejected += 1
                report.problems.append(f"{where} line {line}: {exc}")
    except csv.Error as exc:
        raise InputError(f"{where} line {reader.line_num}: cannot read as CSV: {exc}") from None
    return rows


def _check_row(config: Config, cells: list[str], positions: dict[str, int], width: int, line: int,
               seen: dict[str, int]) -> Row:
    if _undecodable(cells):
        raise InputError("not valid UTF-8 (save the file as UTF-8)")
    if len(cells) > width:
        raise InputError(f"{len(cells)} fields but the header has {width} "
                         "(separate categories with ';' and quote names that contain commas)")
    if len(cells) < width:
        raise InputError(f"{len(cells)} field(s) but the header has {width}")
    email = cells[positions["email"]].strip()
    if not email:
        raise InputError("empty email")
    address = normalise_email(email)
    if address in seen:
        raise InputError(f"{address} is already on line {seen[address]}")
    seen[address] = line
    name = clean_name(cells[positions["name"]])
    categories = parse_categories(config, cells[positions["categories"]])
    return Row(line, address, name, categories)


# ---- applying -----------------------------------------------------------------------

def _plan(existing: Subscriber | None, row: Row, resubscribe: bool) -> tuple[str, str, dict]:
    """(outcome, event detail, column changes) for one row against the stored subscriber."""
    if existing is None:
        return "new", f"categories: {describe_categories(row.categories)}", {}
    if existing.status in ("unsubscribed", "bounced") and not resubscribe:
        return "kept", "", {}
    changes: dict = {}
    parts: list[str] = []
    if existing.status != "active":
        changes["status"] = "active"
        parts.append(f"status: {existing.status} -> active")
    if row.name != existing.name:
        changes["name"] = row.name
        parts.append(f"name: {existing.name!r} -> {row.name!r}")
    if set(row.categories) != set(existing.categories):
        changes["categories"] = row.categories
        parts.append(f"categories: {describe_categories(existing.categories)} -> "
                     f"{describe_categories(row.categories)}")
    if not changes:
        return "unchanged", "", {}
    return "updated", "; ".join(parts), changes


def _event_kind(existing: Subscriber, changes: dict) -> str:
    if "status" not in changes:
        return "updated"
    return "subscribed" if existing.status == "pending" else "resubscribed"


def import_csv(store, config: Config, path, now: datetime, resubscribe: bool = False, dry_run: bool = False,
               skip_invalid: bool = False, origin: str = "import") -> ImportReport:
    """Check every row of subscribers.csv, then apply them all in one transaction.

    Any rejected row means nothing is applied (report.applied False) unless skip_invalid.
    Addresses that unsubscribed or bounced stay so unless resubscribe. Problems with the
    file as a whole (unreadable, no header, missing columns) raise InputError.
    """
    where = str(path)
    report = ImportReport(where, dry_run=dry_run)
    rows = read_rows(config, Path(path), where, report)
    apply = not dry_run and (skip_invalid or not report.rejected)
    with store.transaction():
        for row in rows:
            existing = store.subscribers.by_email(row.email)
            outcome, detail, changes = _plan(existing, row, resubscribe)
            if outcome == "kept":
                report.kept += 1
                report.notes.append(f"{where} line {row.line}: {row.email} kept {existing.status} "
                                    "(use --resubscribe to subscribe it again)")
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
            if not apply or outcome == "unchanged":
                continue
            if outcome == "new":
                added = store.subscribers.add(Subscriber(row.email, row.name, row.categories, "active"), now)
                store.events.record(added.id, "subscribed", now, detail, origin)
            else:
                store.subscribers.update(existing.id, now, **changes)
                if "status" in changes:
                    store.subscribers.clear_request(existing.id)  # an import supersedes a waiting sign-up
                store.events.record(existing.id, _event_kind(existing, changes), now, detail, origin)
    report.applied = apply
    return report


def export_csv(store, out: TextIO, status: str | None = "active") -> int:
    """Write subscribers (of `status`; None = all) in the import format; returns how many."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for subscriber in iter_subscribers(store, status):
        writer.writerow((subscriber.email, subscriber.name, ";".join(subscriber.categories)))
        count += 1
    return count
