"""What ingesting one source did, as counts and messages a person can act on."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class SourceReport:
    source: str
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    problems: list[str] = field(default_factory=list)  # each names source + row/item + reason
    warnings: list[str] = field(default_factory=list)
    failed: bool = False  # the whole source was rejected: nothing from it was stored
    not_modified: bool = False  # the server answered 304

    @property
    def ok(self) -> bool:
        return not self.problems

    def reject(self, where: str, reason: str) -> None:
        self.rejected += 1
        self.problems.append(f"{self.source}: {where}: {reason}")

    def fail(self, reason: str) -> None:
        self.failed = True
        self.problems.append(f"{self.source}: {reason}")

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.source}: {message}")

    def line(self) -> str:
        """One summary line, e.g. 'feed.xml: 3 new, 1 updated, 20 unchanged, 1 rejected'."""
        if self.failed:
            return f"{self.source}: rejected whole, nothing stored"
        counts = f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected"
        return f"{self.source}: {counts}" + (" (not modified since last fetch)" if self.not_modified else "")
