"""kill -9 in the middle of a send, then send again: every reader gets the edition exactly
once, except messages in flight at the moment of the kill (at most --concurrency)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from deliver_world import add_subscribers, make_edition
from digest.config import load_config
from digest.store import Store
from smtp_server import SmtpServer

READERS = 300
CONCURRENCY = 4
ROOT = Path(__file__).resolve().parent.parent


def digest_send(config_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config_path), "send", "--concurrency", str(CONCURRENCY)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=config_path.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def test_a_send_killed_mid_run_and_started_again_delivers_every_message_once(tmp_path, write_config):
    # Every reader reads every category, so each one is owed exactly one message.
    with SmtpServer(latency=0.01) as server:
        path = write_config(f'[delivery]\ntransport = "smtp"\n[smtp]\nhost = "{server.host}"\n'
                            f'port = {server.port}\ntimeout = 10\n')
        config = load_config(str(path), environ={})
        store = Store(config.db_path)
        edition = make_edition(store, config)
        readers = add_subscribers(store, READERS, sets=[()])
        store.close()

        first = digest_send(path)
        try:
            assert server.wait_for(40, timeout=120), "the first send never got going"
            first.send_signal(signal.SIGKILL)
        finally:
            first.wait(timeout=60)
        assert first.returncode == -signal.SIGKILL
        assert server.count < READERS, "the send finished before it could be killed"

        second = digest_send(path)
        _, err = second.communicate(timeout=300)
        assert second.returncode == 0, err.decode()
        assert b"took over a stale send lock" in err

        received = server.recipients()
        assert set(received) == {r.email for r in readers}
        repeats = sum(count - 1 for count in received.values())
        assert repeats <= CONCURRENCY
        # A repeated message is the same message: same Message-ID both times.
        ids = Counter((m.rcpt_tos[0], m.message["Message-ID"]) for m in server.messages)
        assert len(ids) == READERS

    store = Store(config.db_path)
    counts = store.deliveries.counts(edition.key)[edition.key]
    assert counts == {"queued": 0, "sent": READERS, "failed": 0, "skipped": 0}
    assert store.editions.get(edition.key).status == "sent"
    assert store.locks.get("send") is None
    store.close()
