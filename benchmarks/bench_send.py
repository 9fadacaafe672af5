"""Benchmark `digest`: send a digest to N subscribers end to end, render many variants, build.

    python benchmarks/bench_send.py                      # N = 1,000, 10,000, 100,000 + render + build
    python benchmarks/bench_send.py --subscribers 10000  # one size
    python benchmarks/bench_send.py --json               # one JSON object per case on stdout
    python benchmarks/bench_send.py --sink aiosmtpd --reference none --subscribers 20   # no Postfix

Cases (see BENCHMARKS.md for the figures and how to read them):
- send:   a fresh temporary folder, 200 articles over 7 categories, N subscribers with random
          category sets (fixed seed), `digest build`, then `digest send` as a real subprocess
          to an SMTP sink on loopback. The reference, Postfix's smtp-source, then sends as many
          messages of the same size with the same concurrency to the same sink; the ratio of the
          two throughputs is the figure that survives a noisy shared machine.
- render: 1,000 distinct category sets drawn from 20 categories through digest.render.Renderer.
- build:  `digest build` of an edition holding all 200 articles, ledes computed the first time.

Peak RSS is that of the `digest send` process: the larger of its ru_maxrss (os.wait4 when it
exits, so the build and reference processes never mix in) and the peak of VmRSS summed over it
and any processes it starts (polled from /proc, see bench_memory.py).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_data import distinct_category_sets, fill_store, wide_config, wide_edition, write_config  # noqa: E402
from bench_memory import TreeMemory  # noqa: E402
from bench_sinks import (  # noqa: E402
    SINKS, Reference, find_postfix_tool, run_reference, settled_snapshot, sink_cpu,
)

DEFAULT_SIZES = (1_000, 10_000, 100_000)
ARTICLES = 200
CONCURRENCY = 4
# py-spy-gil samples only the thread holding the GIL: where the one core Python can use goes.
PROFILERS = ("pyinstrument", "py-spy", "py-spy-gil")


# -- running digest as a real subprocess ------------------------------------------------------

class Measured:
    """How one subprocess went: exit code, wall seconds, peak RSS, its output."""

    def __init__(self, returncode: int, seconds: float, cpu_seconds: float, peak_rss_kb: int,
                 tree: TreeMemory, stdout: str, stderr: str):
        self.returncode = returncode
        self.seconds = seconds
        self.cpu_seconds = cpu_seconds  # user + system, children included: steadier than wall time
        self.peak_rss_kb = peak_rss_kb  # ru_maxrss: the largest single process of the tree
        self.tree = tree  # summed over the process and its descendants, polled
        self.stdout = stdout
        self.stderr = stderr

    def check(self, what: str) -> "Measured":
        if self.returncode != 0:
            raise SystemExit(f"{what} failed with exit code {self.returncode}:\n{self.stderr[-3000:]}")
        return self


def clean_environment() -> dict[str, str]:
    """Our environment minus DIGEST_* settings, so only the benchmark's digest.toml counts."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}


def run_measured(command: list[str], cwd: Path, timeout: float) -> Measured:
    """Run `command`, wait for it with os.wait4 and return its wall time and ru_maxrss."""
    import subprocess

    out_path, err_path = cwd / "last.stdout", cwd / "last.stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=clean_environment(), stdout=out, stderr=err)
        tree = TreeMemory(process.pid).start()
        killer = threading.Timer(timeout, process.kill)
        killer.start()
        try:
            # wait4 rather than Popen.wait: it returns this child's own resource usage
            # (its waited-for children included: their CPU summed, the largest peak RSS).
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
            tree.stop()
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # tell Popen the child is reaped
    return Measured(process.returncode, seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, tree,
                    out_path.read_text(errors="replace"), err_path.read_text(errors="replace"))


def digest_command(config_path: Path, *args: str, profile: str | None = None, profile_out: Path | None = None) -> list[str]:
    command = [sys.executable, "-m", "digest", "--config", str(config_path), *args]
    if profile == "pyinstrument":
        return [sys.executable, "-m", "pyinstrument", "--renderer", "text", "--outfile", str(profile_out),
                "-m", "digest", "--config", str(config_path), *args]
    if profile in ("py-spy", "py-spy-gil"):
        return [py_spy(), "record", "--rate", "200", "--subprocesses", "--threads", "--format", "raw",
                *(["--gil"] if profile == "py-spy-gil" else []), "--output", str(profile_out), "--", *command]
    return command


def py_spy() -> str:
    """py-spy from this venv (`pip install py-spy`), else from PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else "py-spy"


def command_help(config_path: Path, cwd: Path, *args: str) -> str:
    return run_measured(digest_command(config_path, *args, "--help"), cwd, 60).stdout


# -- the send case ----------------------------------------------------------------------------

def read_send_stats(stats_path: Path) -> dict:
    """The figures `digest send --stats-json FILE` wrote; {} when it did not."""
    try:
        return json.loads(stats_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def send_case(subscribers: int, args, workdir: Path) -> dict:
    folder = workdir / f"send-{subscribers}"
    folder.mkdir()
    with SINKS[args.sink](folder) as sink:
        config_path = write_config(folder, sink.port, args.concurrency)
        log(f"[send {subscribers}] generating {ARTICLES} articles and {subscribers} subscribers")
        started = time.perf_counter()
        from digest.store import Store
        from digest.timeutil import utcnow

        store = Store(folder / "digest.db")
        try:
            _, category_sets = fill_store(store, load_config(config_path), utcnow(), ARTICLES, subscribers, args.seed)
        finally:
            store.close()
        setup_seconds = time.perf_counter() - started

        build = run_measured(digest_command(config_path, "build"), folder, args.timeout).check("digest build")
        if "approve" in command_help(config_path, folder):
            run_measured(digest_command(config_path, "approve"), folder, args.timeout).check("digest approve")

        send_args = ["send"]
        stats_path = folder / "send-stats.json"
        send_help = command_help(config_path, folder, "send")
        if "--stats-json" in send_help:
            send_args += ["--stats-json", str(stats_path)]
        profile_out = profile_path(args, f"send-{subscribers}")
        log(f"[send {subscribers}] digest send (concurrency {args.concurrency}) to {sink.name} on port {sink.port}"
            + (f", profiled by {args.profile} into {profile_out}" if profile_out else ""))
        before = sink.snapshot()
        loadavg = os.getloadavg()[0]
        send = run_measured(digest_command(config_path, *send_args, profile=args.profile, profile_out=profile_out),
                            folder, args.timeout).check("digest send")
        after = settled_snapshot(sink, before.messages + subscribers)
        stats = read_send_stats(stats_path)

        messages = after.messages - before.messages
        sink_bytes_per_message = (after.bytes - before.bytes) // messages if messages else None
        if stats.get("bytes") and stats.get("sent"):
            avg_message_bytes = round(stats["bytes"] / stats["sent"])
        else:
            avg_message_bytes = sink_bytes_per_message  # the SMTP dialogue included: a slight overestimate
        if stats.get("sent") is not None and stats["sent"] != messages:
            log(f"[send {subscribers}] WARNING: digest reports {stats['sent']} sent, the sink counted {messages}")

        references = []
        if args.reference == "smtp-source" and messages:
            log(f"[send {subscribers}] reference: smtp-source, {messages} x {avg_message_bytes} bytes, "
                f"{args.concurrency} sessions, {args.reference_runs} run(s)")
            references = [run_reference(sink, messages, avg_message_bytes, args.concurrency, args.timeout)
                          for _ in range(args.reference_runs)]
        # Several runs of the reference, averaged (total messages over total seconds): the
        # reference is as noisy as we are on a shared machine, and it is the cheaper one to repeat.
        reference = Reference(sum(r.messages for r in references), sum(r.seconds for r in references),
                              references[0].message_bytes,
                              _sum_or_none(r.sink_cpu_seconds for r in references)) if references else None

    msgs_per_s = messages / send.seconds if messages else 0.0
    return {
        "case": "send",
        "subscribers": subscribers,
        "messages": messages,
        "seconds": round(send.seconds, 3),
        "msgs_per_s": round(msgs_per_s, 1),
        "reference_msgs_per_s": round(reference.msgs_per_s, 1) if reference else None,
        "ratio": round(msgs_per_s / reference.msgs_per_s, 3) if reference else None,
        "peak_rss_mb": mb(max(send.peak_rss_kb, send.tree.peak_rss_kb or 0)),
        "variants": stats.get("variants"),
        "render_seconds": stats.get("render_seconds"),
        "avg_message_bytes": avg_message_bytes,
        # context for reading the figures above
        "concurrency": args.concurrency,
        "sink": sink.name,
        "reference": "smtp-source -d" if reference else None,
        "reference_seconds": round(reference.seconds, 3) if reference else None,
        "reference_runs_msgs_per_s": [round(r.msgs_per_s, 1) for r in references] or None,
        "sink_bytes_per_message": sink_bytes_per_message,
        # How busy the sink was: CPU seconds per wall second while we sent, and for the reference.
        "sink_load": _per(sink_cpu(before, after), send.seconds),
        "reference_sink_load": _per(reference.sink_cpu_seconds, reference.seconds) if reference else None,
        "reference_sink_bytes_per_message": reference.message_bytes if reference else None,
        "reported_sent": stats.get("sent"),
        "failed": stats.get("failed"),
        "distinct_category_sets": category_sets,
        "cpu_seconds": round(send.cpu_seconds, 3),
        "cpu_us_per_message": round(1e6 * send.cpu_seconds / messages) if messages else None,
        "setup_seconds": round(setup_seconds, 3),
        "build_seconds": round(build.seconds, 3),
        "rss_method": RSS_METHOD,
        "largest_process_rss_mb": mb(send.peak_rss_kb),
        "tree_pss_mb": mb(send.tree.peak_pss_kb),
        "processes": send.tree.peak_processes or None,
        "profiled": args.profile,
        "loadavg_1min_before": round(loadavg, 2),
    }


# -- the render and build cases ---------------------------------------------------------------

def render_case(args, workdir: Path) -> dict:
    """Render `args.variants` distinct category sets of a 20-category edition, in this process."""
    from digest.render import Renderer
    from digest.timeutil import utcnow

    config = wide_config(20, workdir)
    edition = wide_edition(config, utcnow(), args.seed)
    sets = distinct_category_sets(config.category_names, args.variants, args.seed)
    log(f"[render] {len(sets)} distinct category sets of {len(config.categories)} categories")
    started = time.perf_counter()
    renderer = Renderer(config)
    setup_seconds = time.perf_counter() - started
    started = time.perf_counter()
    sizes = 0
    for categories in sets:
        variant = renderer.render(edition, categories)
        sizes += len(variant.html) + len(variant.text)
    render_seconds = time.perf_counter() - started
    return {
        "case": "render",
        "categories": len(config.categories),
        "variants": len(sets),
        "render_seconds": round(render_seconds, 3),
        "ms_per_variant": round(1000 * render_seconds / len(sets), 2),
        "renderer_setup_seconds": round(setup_seconds, 3),
        "avg_variant_bytes": sizes // len(sets),
    }


def build_case(args, workdir: Path) -> dict:
    """`digest build` (a subprocess) of an edition holding all 200 articles, ledes computed first time."""
    from digest.editions import get as get_edition
    from digest.store import Store
    from digest.timeutil import utcnow

    folder = workdir / "build"
    folder.mkdir()
    # per_category above the article count: every article in the window lands in the edition.
    config_path = write_config(folder, smtp_port=25, concurrency=args.concurrency, per_category=ARTICLES)
    store = Store(folder / "digest.db")
    try:
        fill_store(store, load_config(config_path), utcnow(), ARTICLES, 0, args.seed)
    finally:
        store.close()
    startup = run_measured([sys.executable, "-m", "digest", "--version"], folder, 60).check("digest --version")
    log(f"[build] digest build of {ARTICLES} articles")
    profile_out = profile_path(args, "build")
    build = run_measured(digest_command(config_path, "build", profile=args.profile, profile_out=profile_out),
                         folder, args.timeout).check("digest build")
    store = Store(folder / "digest.db")
    try:
        edition = get_edition(store, None)
    finally:
        store.close()
    return {
        "case": "build",
        "articles": sum(len(section.articles) for section in edition.sections),
        "build_seconds": round(build.seconds, 3),
        "interpreter_startup_seconds": round(startup.seconds, 3),
        "peak_rss_mb": round(build.peak_rss_kb / 1024, 1),
        "profiled": args.profile,
    }


# -- plumbing ---------------------------------------------------------------------------------

def load_config(path: Path):
    from digest.config import load_config as load

    return load(str(path), environ={})


def profile_path(args, name: str) -> Path | None:
    if not args.profile:
        return None
    folder = Path(args.profile_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.{'txt' if args.profile == 'pyinstrument' else 'folded'}"


def machine() -> dict:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "loadavg_1min": round(os.getloadavg()[0], 2)}


RSS_METHOD = ("the larger of os.wait4's ru_maxrss (largest single process) and the peak of VmRSS summed "
              "over the digest send process and its descendants (polled from /proc every 0.1 s)")


def _sum_or_none(values) -> float | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def _per(part: float | None, whole: float) -> float | None:
    return None if part is None or not whole else round(part / whole, 2)


def mb(kb: int | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def fmt(value, spec: str = "") -> str:
    return "-" if value is None else format(value, spec)


def print_row(result: dict) -> None:
    if result["case"] == "send":
        print(f"send   N={result['subscribers']:>7}  messages={result['messages']:>7}  {fmt(result['seconds'], '.2f')} s  "
              f"{fmt(result['msgs_per_s'], '.0f')} msg/s  reference {fmt(result['reference_msgs_per_s'], '.0f')} msg/s  "
              f"ratio {fmt(result['ratio'], '.2f')}  peak RSS {fmt(result['peak_rss_mb'], '.1f')} MB  "
              f"variants {fmt(result['variants'])} in {fmt(result['render_seconds'], '.2f')} s  "
              f"avg {fmt(result['avg_message_bytes'])} B  (build {result['build_seconds']:.2f} s)", flush=True)
    elif result["case"] == "render":
        print(f"render {result['variants']} distinct sets of {result['categories']} categories: "
              f"{result['render_seconds']:.2f} s ({result['ms_per_variant']:.1f} ms each; "
              f"renderer setup {result['renderer_setup_seconds']:.2f} s)", flush=True)
    else:
        print(f"build  {result['articles']} articles, ledes first time: {result['build_seconds']:.2f} s "
              f"(interpreter + import alone {result['interpreter_startup_seconds']:.2f} s)", flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, action="append", metavar="N",
                        help="subscriber count for the send case (repeatable; default 1000, 10000, 100000)")
    parser.add_argument("--case", choices=("all", "send", "render", "build"), default="all")
    parser.add_argument("--json", action="store_true", help="print one JSON object per case instead of a table")
    parser.add_argument("--sink", choices=tuple(SINKS), default="smtp-sink",
                        help="the SMTP server to send to (aiosmtpd: pure Python, for machines without Postfix)")
    parser.add_argument("--reference", choices=("auto", "smtp-source", "none"), default="auto",
                        help="run smtp-source as the reference (auto: when it is installed)")
    parser.add_argument("--reference-runs", type=int, default=2, metavar="K",
                        help="run the reference K times and average them (default 2)")
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--variants", type=int, default=1000, help="distinct category sets in the render case")
    parser.add_argument("--seed", type=int, default=20261125)
    parser.add_argument("--timeout", type=float, default=1200, help="seconds allowed for each digest command")
    parser.add_argument("--profile", choices=PROFILERS, help="profile `digest send` and `digest build`")
    parser.add_argument("--profile-dir", default=str(Path(__file__).resolve().parent / "profiles"))
    parser.add_argument("--keep", metavar="DIR", help="work in DIR (kept afterwards) instead of a temporary folder")
    args = parser.parse_args(argv)
    if args.reference == "auto":
        args.reference = "smtp-source" if find_postfix_tool("smtp-source") else "none"
    args.subscribers = args.subscribers or list(DEFAULT_SIZES)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    log(f"machine: {machine()}")
    with ExitStack() as stack:
        if args.keep:
            workdir = Path(args.keep)
            workdir.mkdir(parents=True, exist_ok=False)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="digest-bench-")))
        cases = []
        if args.case in ("all", "send"):
            cases += [lambda n=n: send_case(n, args, workdir) for n in args.subscribers]
        if args.case in ("all", "render"):
            cases.append(lambda: render_case(args, workdir))
        if args.case in ("all", "build"):
            cases.append(lambda: build_case(args, workdir))
        for case in cases:
            result = case()
            if args.json:
                print(json.dumps(result), flush=True)
            else:
                print_row(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
