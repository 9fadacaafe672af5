"""digest send / run / approve / status, through the CLI, against a real SMTP server."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from deliver_world import add_subscribers, make_edition
from digest.cli import main
from digest.config import load_config
from digest.deliver.engine import SendReport
from digest.deliver.progress import LogProgress, TerminalProgress
from digest.store import Store
from smtp_server import SmtpServer

FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test desk</title><link>https://news.example.com/</link>
<description>Made up for the cron tests</description>
<item><title>Harbour ferry gets a second boat</title><link>https://news.example.com/n/ferry</link>
<guid>t-1</guid><category>News</category><pubDate>Tue, 24 Nov 2026 09:00:00 +0000</pubDate>
<description>The harbour ferry will run every fifteen minutes from March.</description></item>
<item><title>Library lends out laptops</title><link>https://news.example.com/t/laptops</link>
<guid>t-2</guid><category>Technology</category><pubDate>Mon, 23 Nov 2026 15:00:00 +0000</pubDate>
<description>Forty laptops can now be borrowed for two weeks at a time.</description></item>
</channel></rss>
"""


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


@pytest.fixture
def site(tmp_path, write_config):
    """A digest.toml in tmp_path and a database beside it with an approved edition and readers."""

    def make(extra: str = "", approve: bool = True, readers: int = 12, edition: bool = True):
        path = write_config(extra)
        config = load_config(str(path), environ={})
        store = Store(config.db_path)
        if edition:
            make_edition(store, config, approve=approve)
        add_subscribers(store, readers)
        return config, store

    return make


def ledger_rows(store) -> int:
    return store.execute("SELECT count(*) FROM deliveries").fetchone()[0]


def smtp_toml(server, timeout: float = 5) -> str:
    return f'[delivery]\ntransport = "smtp"\n[smtp]\nhost = "{server.host}"\nport = {server.port}\ntimeout = {timeout}\n'


def test_send_refuses_an_edition_that_still_needs_approval(cli, site):
    config, store = site(approve=False)
    result = cli("send")
    assert result.exit_code == 1
    assert "needs approval" in result.output and "digest approve 2026-W48" in result.output
    assert "Traceback" not in result.output
    assert cli("send", "2026-W48").exit_code == 1
    assert ledger_rows(store) == 0 and store.editions.get("2026-W48").status == "draft"


def test_send_delivers_to_the_file_outbox_beside_the_config_and_status_counts_it(cli, site, tmp_path):
    config, store = site(readers=12)
    result = cli("send")
    assert result.exit_code == 0, result.output
    files = list((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 10  # 12 readers, two of whom read only a category with no articles
    assert "Edition 2026-W48: sent 10, skipped 2, failed 0 (bounced 0), retried later 0" in result.stderr
    assert "Sending edition 2026-W48 to 12 subscriber(s)" in result.stderr
    rows = json.loads(cli("status", "--json").output)
    assert rows == [{**rows[0], "edition": "2026-W48", "status": "sent", "queued": 0, "sent": 10,
                     "failed": 0, "skipped": 2}]
    table = cli("status").output.splitlines()
    assert table[1].split() == ["2026-W48", "sent", "0", "10", "0", "2"]
    again = cli("send")
    assert again.exit_code == 0 and "Nothing to send" in again.output
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 10


def test_send_through_an_smtp_url_delivers_once_to_each_reader(cli, site, server):
    site(readers=12)
    result = cli("send", "--smtp", server.url, "--concurrency", "2", "--rate", "1000")
    assert result.exit_code == 0, result.output
    assert server.count == 10 and set(server.recipients().values()) == {1}
    assert server.sessions <= 2


def test_stats_json_holds_the_sends_figures_and_is_written_when_nothing_is_left(cli, site, server, tmp_path):
    site(readers=12)
    stats_file = tmp_path / "stats.json"
    result = cli("send", "--smtp", server.url, "--stats-json", str(stats_file))
    assert result.exit_code == 0, result.output
    stats = json.loads(stats_file.read_text())
    assert set(stats) == {"edition", "sent", "failed", "skipped", "deferred", "variants", "render_seconds",
                          "bytes", "seconds"}
    assert (stats["edition"], stats["sent"], stats["failed"], stats["skipped"], stats["deferred"]) == \
        ("2026-W48", 10, 0, 2, 0)
    assert stats["variants"] == 5  # the distinct category sets of the ten readers with something new
    assert stats["bytes"] == sum(len(m.data) for m in server.messages)
    assert stats["render_seconds"] > 0 and stats["seconds"] >= stats["render_seconds"]
    again = cli("send", "--smtp", server.url, "--stats-json", str(stats_file))
    assert again.exit_code == 0
    assert json.loads(stats_file.read_text())["sent"] == 0


def test_dry_run_prints_counts_per_variant_and_touches_no_ledger(cli, site, tmp_path):
    config, store = site(readers=12)
    result = cli("send", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Edition 2026-W48: 10 message(s) would be sent in 5 variant(s)"
    assert any(line.split()[0] == "2" and "Technology, Health" in line for line in lines[1:])
    assert "skipped (nothing new): 2" in result.output
    assert ledger_rows(store) == 0 and store.editions.get("2026-W48").status == "approved"
    assert not (tmp_path / "outbox").exists()


def test_a_test_copy_goes_to_one_address_with_a_test_subject_and_touches_no_ledger(cli, site, server):
    config, store = site(approve=False, readers=6)  # a draft: the point of a test copy
    result = cli("send", "--test", "editor@example.com", "--smtp", server.url)
    assert result.exit_code == 0, result.output
    assert "every category" in result.output
    [copy] = server.messages
    assert copy.rcpt_tos == ["editor@example.com"]
    assert copy.message["Subject"].startswith("[TEST] ")
    text = copy.message.get_body(("plain",)).get_content()
    assert "TECHNOLOGY" in text and "TRAVEL" in text

    result = cli("send", "--test", "editor@example.com", "--as", "reader0002@example.com", "--smtp", server.url)
    assert result.exit_code == 0, result.output
    text = server.messages[1].message.get_body(("plain",)).get_content()
    assert "TECHNOLOGY" in text and "HEALTH" in text and "TRAVEL" not in text
    assert "Hello Zoë Brontë" in text  # as that reader gets it
    assert server.messages[0].message["Message-ID"] != server.messages[1].message["Message-ID"]
    assert ledger_rows(store) == 0 and store.editions.get("2026-W48").status == "draft"


def test_as_without_test_and_an_unknown_subscriber_are_clear_errors(cli, site, server):
    site(readers=2)
    result = cli("send", "--as", "reader0001@example.com")
    assert result.exit_code == 2 and "--as needs --test" in result.output
    result = cli("send", "--test", "e@example.com", "--as", "nobody@example.com", "--smtp", server.url)
    assert result.exit_code == 1 and "no subscriber nobody@example.com" in result.output


def test_temporary_failures_left_for_later_exit_75(cli, site, server):
    site(smtp_toml(server), readers=6)
    server.add_fault(stage="rcpt", recipient="reader0003@example.com", reply="451 4.7.1 Greylisted", times=None)
    result = cli("send", "--max-wait", "0")
    assert result.exit_code == 75, result.output
    assert "retried later 1" in result.stderr
    assert json.loads(cli("status", "--json").output)[0]["queued"] == 1


def test_a_configuration_without_a_secret_key_cannot_send(cli, tmp_path):
    (tmp_path / "digest.toml").write_text("[edition]\nrequire_approval = false\n", encoding="utf-8")
    config = load_config(str(tmp_path / "digest.toml"), environ={})
    make_edition(Store(config.db_path), config, approve=False)
    result = cli("send")
    assert result.exit_code == 1 and "secret key" in result.output


def test_a_second_send_while_one_is_running_exits_73_at_once(cli, site, server, tmp_path):
    config, store = site(smtp_toml(server), readers=60)
    server.latency = 0.05  # the first send takes a few seconds
    first = subprocess.Popen([sys.executable, "-m", "digest", "--config", str(tmp_path / "digest.toml"), "send",
                              "--concurrency", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).parent.parent)})
    try:
        assert server.wait_for(3, timeout=60)
        second = cli("send")
        assert second.exit_code == 73
        assert "already running" in second.output
        assert first.wait(timeout=120) == 0
    finally:
        first.kill()
        first.wait()
    assert set(server.recipients().values()) == {1} and server.count == 50


def test_a_stale_lock_left_by_a_killed_send_is_taken_over_with_a_warning(cli, site):
    config, store = site(readers=3)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with store.transaction():
        store.execute("INSERT INTO locks VALUES ('send', ?, '2026-11-25T11:00:00Z', '2026-11-25T11:00:00Z')",
                      (f"{socket.gethostname()}:{dead.pid}",))
    result = cli("send")
    assert result.exit_code == 0, result.output
    assert "took over a stale send lock" in result.stderr
    assert store.locks.get("send") is None


def test_run_ingests_builds_when_due_and_sends_when_approval_is_off_and_twice_sends_nothing_twice(
        cli, site, server, tmp_path):
    feed = tmp_path / "desk.rss"
    feed.write_text(FEED, encoding="utf-8")
    config, store = site(smtp_toml(server) + f'[edition]\nrequire_approval = false\n[feeds]\nurls = ["{feed}"]\n',
                         edition=False, readers=6)
    result = cli("run", "--now", "2026-11-25T12:00")
    assert result.exit_code == 0, result.output
    assert "desk.rss: 2 new" in result.stderr
    assert "Built edition 2026-W48 with 2 article(s)" in result.stderr
    delivered = server.count
    assert delivered == 3  # readers of everything, of News, and of Technology+Health
    assert store.editions.get("2026-W48").status == "sent"
    again = cli("run", "--now", "2026-11-25T12:05")
    assert again.exit_code == 0, again.output
    assert "Built" not in again.stderr and server.count == delivered


def test_run_waits_for_approval_then_sends_once(cli, site, server, tmp_path):
    feed = tmp_path / "desk.rss"
    feed.write_text(FEED, encoding="utf-8")
    config, store = site(smtp_toml(server) + f'[feeds]\nurls = ["{feed}"]\n', edition=False, readers=6)
    result = cli("run", "--now", "2026-11-25T12:00")
    assert result.exit_code == 0, result.output
    assert "awaiting approval" in result.stderr and "digest approve 2026-W48" in result.stderr
    assert server.count == 0
    approved = cli("approve", "--now", "2026-11-25T13:00")
    assert approved.exit_code == 0 and "Approved edition 2026-W48: 2 articles" in approved.output
    assert cli("run", "--now", "2026-11-25T13:05").exit_code == 0
    assert cli("run", "--now", "2026-11-25T13:10").exit_code == 0
    assert server.count == 3 and set(server.recipients().values()) == {1}


def test_run_is_not_due_before_the_scheduled_moment(cli, site, server, tmp_path):
    feed = tmp_path / "desk.rss"
    feed.write_text(FEED, encoding="utf-8")
    # Mondays at 08:00, starting Monday 23 Nov: at 07:00 that day nothing is due yet.
    site(smtp_toml(server) + '[edition]\nschedule = "DTSTART:20261123T080000\\nRRULE:FREQ=WEEKLY;BYDAY=MO"\n'
         f'[feeds]\nurls = ["{feed}"]\n', edition=False, readers=2)
    early = cli("run", "--now", "2026-11-23T07:00")
    assert early.exit_code == 0, early.output
    assert "Built" not in early.stderr
    on_time = cli("run", "--now", "2026-11-30T08:30")
    assert "Built edition 2026-W49 with 2 article(s)" in on_time.stderr


def test_run_forgets_sign_ups_never_confirmed_in_time_and_keeps_recent_ones(cli, site):
    from datetime import datetime, timedelta, timezone

    from digest.subscribers import sign_up

    config, store = site(edition=False, readers=0)
    moment = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
    stale, _ = sign_up(store, config, "stale@example.com", "", "", moment - timedelta(days=config.confirm_days + 1))
    fresh, _ = sign_up(store, config, "fresh@example.com", "", "", moment - timedelta(days=1))
    result = cli("run", "--now", "2026-11-25T12:00")
    assert result.exit_code == 0, result.output
    assert "Removed 1 sign-up(s) never confirmed" in result.stderr
    assert store.subscribers.get(stale.id) is None
    assert store.subscribers.get(fresh.id).status == "pending"


def test_send_and_run_help_document_the_exit_codes_and_end_with_an_example():
    for name in ("send", "run", "approve", "status"):
        help_text = main.commands[name].help
        assert "Example:" in help_text
        assert help_text.rstrip().splitlines()[-1].startswith("    ")
    for name in ("send", "run"):
        assert all(code in main.commands[name].help for code in ("0 ", "1 ", "73 ", "75 "))


def test_progress_is_a_bar_on_a_terminal_and_log_lines_for_cron():
    stream = io.StringIO()
    bar = TerminalProgress(stream)
    bar.start("2026-W48", 200)
    report = SendReport("2026-W48", sent=100)
    bar.advance(report)
    bar.finish(report)
    assert "100/200" in stream.getvalue() and "/s" in stream.getvalue() and "ETA" in stream.getvalue()
    lines = []
    log = LogProgress(lines.append, every=50)
    log.start("2026-W48", 200)
    for sent in range(1, 121):
        log.advance(SendReport("2026-W48", sent=sent))
    assert lines[0].startswith("Sending edition 2026-W48 to 200 subscriber(s)")
    assert [line.split(":")[1].split()[0] for line in lines[1:]] == ["50", "100"]
