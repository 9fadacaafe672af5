"""Memory of a process tree, polled from /proc while it runs.

os.wait4 gives one process's peak RSS (ru_maxrss), which for a send that forks helper
processes is the largest of them, not what the send costs the machine. So while the command
runs we also sum, ten times a second, over the process and all its descendants:
- RSS (VmRSS): pages counted once per process that maps them, so shared pages count twice;
- PSS (smaps_rollup): each shared page divided among the processes sharing it, which adds up
  to the memory the tree really holds.
Linux only; elsewhere the figures stay None.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

PROC = Path("/proc")


def _children_of() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ")".
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(root: int) -> list[int]:
    tree = _children_of()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, ()))
    return found


def _field_kb(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1])
    except OSError:  # the process ended between listing and reading
        pass
    return 0


class TreeMemory:
    """Polls a process tree's summed RSS and PSS until stop(); peaks in kB."""

    def __init__(self, pid: int, interval: float = 0.1):
        self.pid = pid
        self.interval = interval
        self.peak_rss_kb: int | None = None
        self.peak_pss_kb: int | None = None
        self.peak_processes = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def start(self) -> "TreeMemory":
        if PROC.joinpath(str(os.getpid()), "smaps_rollup").exists():
            self.peak_rss_kb = self.peak_pss_kb = 0
            self._thread.start()
        return self

    def stop(self) -> None:
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def _poll(self) -> None:
        while not self._done.is_set():
            pids = _descendants(self.pid)
            rss = sum(_field_kb(PROC / str(p) / "status", "VmRSS:") for p in pids)
            pss = sum(_field_kb(PROC / str(p) / "smaps_rollup", "Pss:") for p in pids)
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_processes = max(self.peak_processes, len(pids))
            self._done.wait(self.interval)
