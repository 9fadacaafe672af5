"""The SMTP sinks the benchmark sends to, and the reference sender it compares against.

- PostfixSink: Postfix's `smtp-sink`, a C event loop that accepts and discards mail. It counts
  messages itself (-c prints `mesg=N` on every "."); the bytes it read come from
  /proc/PID/io (rchar), so both figures are measured on the receiving side.
- AiosmtpdSink: a Python fallback (aiosmtpd in a thread of this process) for machines
  without Postfix, e.g. CI. Far slower than smtp-sink: its ratios mean little.
- run_reference: Postfix's `smtp-source` pushing the same number of messages of the same
  size with the same concurrency to the same sink. With -d it keeps each session open for the
  next message, as digest's SMTP transport does, so the comparison is like for like.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SBIN = ("/usr/sbin", "/usr/local/sbin")


def find_postfix_tool(name: str) -> str | None:
    """smtp-sink / smtp-source on PATH or in sbin (Debian puts them in /usr/sbin)."""
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"no SMTP sink listening on 127.0.0.1:{port} after {timeout}s") from None
            time.sleep(0.05)


@dataclass(frozen=True)
class Snapshot:
    messages: int  # messages the sink accepted so far
    bytes: int  # bytes it read so far (SMTP dialogue included for smtp-sink)
    cpu_seconds: float | None = None  # the sink's own CPU time so far (smtp-sink only)


class PostfixSink:
    name = "smtp-sink"

    def __init__(self, folder: Path):
        self.executable = find_postfix_tool("smtp-sink")
        if self.executable is None:
            raise RuntimeError("smtp-sink not found: install Debian's postfix (make postfix), or use --sink aiosmtpd")
        self.port = free_port()
        self.counter_file = folder / "smtp-sink.out"
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "PostfixSink":
        command = [self.executable, "-c"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to run as root without it
        command += [f"127.0.0.1:{self.port}", "1024"]
        with open(self.counter_file, "wb") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait_for_port(self.port)
        return self

    def snapshot(self) -> Snapshot:
        # -c rewrites one status line ("sess=S quit=Q mesg=M", CR-separated) after every event.
        with open(self.counter_file, "rb") as out:
            out.seek(max(0, out.seek(0, os.SEEK_END) - 400))
            tail = out.read().decode("ascii", "replace")
        counts = re.findall(r"mesg=(\d+)", tail)
        with open(f"/proc/{self.process.pid}/io") as io:
            rchar = int(re.search(r"rchar: (\d+)", io.read()).group(1))
        with open(f"/proc/{self.process.pid}/stat") as stat:
            utime, stime = stat.read().rsplit(")", 1)[1].split()[11:13]  # fields 14 and 15
        cpu = (int(utime) + int(stime)) / os.sysconf("SC_CLK_TCK")
        return Snapshot(int(counts[-1]) if counts else 0, rchar, cpu)

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)


class AiosmtpdSink:
    name = "aiosmtpd"

    def __init__(self, folder: Path):
        self.port = free_port()
        self.messages = 0
        self.bytes = 0
        self.controller = None

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler hook
        self.messages += 1
        self.bytes += len(envelope.original_content or envelope.content)
        return "250 OK: discarded"

    def __enter__(self) -> "AiosmtpdSink":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def snapshot(self) -> Snapshot:
        return Snapshot(self.messages, self.bytes)

    def __exit__(self, *exc) -> None:
        if self.controller is not None:
            self.controller.stop()


SINKS = {"smtp-sink": PostfixSink, "aiosmtpd": AiosmtpdSink}


@dataclass(frozen=True)
class Reference:
    messages: int
    seconds: float
    message_bytes: int  # bytes per message as the sink read them
    sink_cpu_seconds: float | None = None  # what the sink spent receiving them

    @property
    def msgs_per_s(self) -> float:
        return self.messages / self.seconds


def run_reference(sink, messages: int, size: int, concurrency: int, timeout: float) -> Reference:
    """smtp-source: `messages` messages with `size` bytes of payload over `concurrency` sessions."""
    executable = find_postfix_tool("smtp-source")
    if executable is None:
        raise RuntimeError("smtp-source not found: install Debian's postfix (make postfix), or use --reference none")
    before = sink.snapshot()
    command = [executable, "-d", "-s", str(concurrency), "-m", str(messages), "-l", str(size),
               "-f", "digest@news.example.test", "-t", "reader@example.test", f"127.0.0.1:{sink.port}"]
    started = time.perf_counter()
    subprocess.run(command, check=True, timeout=timeout, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    after = settled_snapshot(sink, before.messages + messages)
    received = after.messages - before.messages
    return Reference(received, seconds, (after.bytes - before.bytes) // max(received, 1),
                     sink_cpu(before, after))


def sink_cpu(before: Snapshot, after: Snapshot) -> float | None:
    if before.cpu_seconds is None or after.cpu_seconds is None:
        return None
    return after.cpu_seconds - before.cpu_seconds


def settled_snapshot(sink, expected: int, patience: float = 2.0) -> Snapshot:
    """The sink's counters once it has caught up with `expected` messages (or `patience` ran out)."""
    deadline = time.monotonic() + patience
    snapshot = sink.snapshot()
    while snapshot.messages < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        snapshot = sink.snapshot()
    return snapshot
