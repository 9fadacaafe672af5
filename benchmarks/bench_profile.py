"""Summarise a py-spy folded-stack profile: where the samples went, by function.

    python benchmarks/bench_profile.py benchmarks/profiles/send-100000.folded [--top 25]

py-spy's raw format is one line per distinct stack, "frame;frame;...;frame COUNT", with
frames like "function (path/to/module.py:123)". We print each function's share of all
samples twice: self (it was the innermost frame) and inclusive (it was anywhere on the stack).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>[^():]+)(?::\d+)?\)$")


def frame_key(frame: str) -> str:
    """'send (digest/deliver/engine.py:42)' -> 'digest/deliver/engine.py:send' (line numbers merged)."""
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["path"]
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    path = path.split("/work/main/", 1)[-1]
    return f"{path}:{match['function']}"


def summarise(lines) -> tuple[int, Counter, Counter]:
    total, self_samples, inclusive = 0, Counter(), Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [frame_key(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += samples
        self_samples[frames[-1]] += samples
        for key in set(frames):
            inclusive[key] += samples
    return total, self_samples, inclusive


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folded", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with open(args.folded, encoding="utf-8", errors="replace") as lines:
        total, self_samples, inclusive = summarise(lines)
    print(f"{total} samples")
    for title, counter in (("self", self_samples), ("inclusive", inclusive)):
        print(f"\n-- {title} --")
        for key, samples in counter.most_common(args.top):
            print(f"{100 * samples / total:5.1f}%  {key}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
