"""The benchmark script still runs end to end (tiny sizes, no timing assertions).

Benchmarks are not tests; this only makes sure `benchmarks/bench_send.py` keeps working as
digest changes. The main test uses the script's aiosmtpd sink, so it needs no Postfix and
runs in CI; a second one drives Postfix's smtp-sink and smtp-source when they are installed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "bench_send.py"
sys.path.insert(0, str(SCRIPT.parent))

from bench_data import distinct_category_sets  # noqa: E402
from bench_sinks import find_postfix_tool  # noqa: E402

SEND_FIELDS = {"subscribers", "messages", "seconds", "msgs_per_s", "reference_msgs_per_s", "ratio",
               "peak_rss_mb", "variants", "render_seconds", "avg_message_bytes"}


def run_bench(tmp_path: Path, *args: str) -> dict[str, dict]:
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--json", "--keep", str(tmp_path / "work"), *args],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    results = [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]
    return {result["case"]: result for result in results}


def test_bench_script_sends_to_every_subscriber_and_reports_every_field(tmp_path):
    results = run_bench(tmp_path, "--subscribers", "20", "--sink", "aiosmtpd", "--reference", "none",
                        "--variants", "5")

    send = results["send"]
    assert SEND_FIELDS <= set(send)
    assert send["subscribers"] == 20
    assert send["messages"] == 20  # counted by the sink, not by digest
    assert send["reported_sent"] == 20  # digest send --stats-json agrees with the sink
    assert send["peak_rss_mb"] > 0
    assert send["avg_message_bytes"] > 1000  # a whole digest, not an empty message
    assert 1 <= send["variants"] <= send["distinct_category_sets"]
    assert send["render_seconds"] >= 0
    assert send["reference_msgs_per_s"] is None and send["ratio"] is None

    render = results["render"]
    assert render["variants"] == 5 and render["categories"] == 20
    assert render["avg_variant_bytes"] > 0

    build = results["build"]
    assert build["articles"] == 200


@pytest.mark.skipif(find_postfix_tool("smtp-sink") is None or find_postfix_tool("smtp-source") is None,
                    reason="Postfix's smtp-sink/smtp-source are not installed (make postfix installs them)")
def test_bench_script_measures_the_smtp_source_reference_on_the_same_sink(tmp_path):
    send = run_bench(tmp_path, "--case", "send", "--subscribers", "20")["send"]

    assert send["sink"] == "smtp-sink"
    assert send["messages"] == 20
    assert send["reference_msgs_per_s"] > 0
    # both figures are rounded in the JSON (ratio to 3 decimals)
    assert send["ratio"] == pytest.approx(send["msgs_per_s"] / send["reference_msgs_per_s"], rel=0.01, abs=0.001)
    # the reference sent messages of about our size (the sink's count of bytes read, per message)
    assert send["reference_sink_bytes_per_message"] == pytest.approx(send["sink_bytes_per_message"], rel=0.2)


def test_render_case_category_sets_are_distinct_and_in_configured_order():
    categories = tuple(f"Topic {n:02d}" for n in range(1, 21))

    sets = distinct_category_sets(categories, 300, seed=7)

    assert len(set(sets)) == 300
    assert all(s and list(s) == sorted(s, key=categories.index) for s in sets)
    assert sets == distinct_category_sets(categories, 300, seed=7)  # the seed fixes them
