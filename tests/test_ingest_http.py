"""Feeds over HTTP from a real loopback server: conditional GET, errors, timeouts."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import DATA, NOW

from digest.ingest import Fetcher, ingest_source

FEED = (DATA / "ingest" / "rss2.xml").read_bytes()


class FeedServer:
    """Serves `pages` (path → dict(body, type, etag, modified)) and records each request's headers."""

    def __init__(self):
        self.pages: dict[str, dict] = {}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                page = server.pages.get(self.path)
                if page is None:
                    self.send_error(404, "Not Found")
                    return
                etag, modified = page.get("etag"), page.get("modified")
                if (etag and self.headers.get("If-None-Match") == etag) or \
                        (modified and self.headers.get("If-Modified-Since") == modified):
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", page.get("type", "application/rss+xml"))
                self.send_header("Content-Length", str(len(page["body"])))
                if etag:
                    self.send_header("ETag", etag)
                if modified:
                    self.send_header("Last-Modified", modified)
                self.end_headers()
                self.wfile.write(page["body"])

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # a short poll interval so shutdown() returns quickly at teardown
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"


@pytest.fixture
def feed_server():
    server = FeedServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


@pytest.fixture
def silent_port():
    """A port that accepts connections (the kernel's backlog) but never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    yield listener.getsockname()[1]
    listener.close()


MODIFIED = "Tue, 24 Nov 2026 08:00:00 GMT"


def test_a_feed_is_fetched_and_its_etag_and_last_modified_are_kept(feed_server, store, config):
    feed_server.pages["/feed.xml"] = {"body": FEED, "etag": '"v1"', "modified": MODIFIED}
    url = feed_server.url("/feed.xml")
    report = ingest_source(store, config, url, NOW)
    assert (report.new, report.rejected) == (4, 0)
    assert store.articles.feed_state(url) == ('"v1"', MODIFIED)
    assert {a.source for a in store.articles.list()} == {url}


def test_the_second_fetch_is_conditional_and_a_304_counts_as_all_unchanged(feed_server, store, config):
    feed_server.pages["/feed.xml"] = {"body": FEED, "etag": '"v1"', "modified": MODIFIED}
    url = feed_server.url("/feed.xml")
    ingest_source(store, config, url, NOW)
    report = ingest_source(store, config, url, NOW)

    second = feed_server.requests[-1]
    assert second["if-none-match"] == '"v1"'
    assert second["if-modified-since"] == MODIFIED
    assert report.not_modified
    assert (report.new, report.updated, report.unchanged, report.rejected) == (0, 0, 4, 0)
    assert report.line() == f"{url}: 0 new, 0 updated, 4 unchanged, 0 rejected (not modified since last fetch)"


def test_a_changed_feed_is_read_again_when_the_server_has_a_new_version(feed_server, store, config):
    feed_server.pages["/feed.xml"] = {"body": FEED, "etag": '"v1"'}
    url = feed_server.url("/feed.xml")
    ingest_source(store, config, url, NOW)
    changed = FEED.replace(b"Night-time sea swimming club", b"Night-time sea-swimming club")
    feed_server.pages["/feed.xml"] = {"body": changed, "etag": '"v2"'}

    report = ingest_source(store, config, url, NOW)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 3)
    assert store.articles.feed_state(url) == ('"v2"', None)


def test_a_feed_that_fails_to_parse_keeps_no_etag_so_the_next_fetch_is_full(feed_server, store, config):
    feed_server.pages["/feed.xml"] = {"body": b"<rss><channel><title>x</title>", "etag": '"broken"'}
    url = feed_server.url("/feed.xml")
    report = ingest_source(store, config, url, NOW)
    assert report.failed
    assert store.articles.feed_state(url) == (None, None)
    ingest_source(store, config, url, NOW)
    assert "if-none-match" not in feed_server.requests[-1]


def test_an_http_error_rejects_the_feed_and_names_the_status(feed_server, store, config):
    url = feed_server.url("/gone.xml")
    report = ingest_source(store, config, url, NOW)
    assert report.failed
    assert report.problems == [f"{url}: HTTP 404 Not Found"]
    assert store.articles.list() == []


def test_a_server_that_never_answers_times_out(silent_port, store, config):
    url = f"http://127.0.0.1:{silent_port}/feed.xml"
    report = ingest_source(store, config, url, NOW, fetcher=Fetcher(timeout=0.2))
    assert report.failed
    assert report.problems == [f"{url}: no answer within 0.2 s (timed out)"]


def test_a_refused_connection_is_reported_not_raised(store, config):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens here now
    report = ingest_source(store, config, f"http://127.0.0.1:{port}/feed.xml", NOW)
    assert report.failed and "cannot fetch" in report.problems[0]


def test_a_csv_export_served_over_http_is_recognised(feed_server, store, config):
    body = b"title,url,category,published,summary,body\nServed,https://e.com/s,News,2026-11-24,Over HTTP.,\n"
    feed_server.pages["/export"] = {"body": body, "type": "text/csv; charset=utf-8"}
    report = ingest_source(store, config, feed_server.url("/export"), NOW)
    assert report.new == 1
    assert [a.title for a in store.articles.list()] == ["Served"]


def test_ingest_with_no_source_reads_the_configured_feeds(feed_server, cli, write_config, tmp_path):
    feed_server.pages["/feed.xml"] = {"body": FEED, "etag": '"v1"'}
    url = feed_server.url("/feed.xml")
    (tmp_path / "front.txt").write_text("News\nBridge reopens\nIt reopened.\n", encoding="utf-8")
    config = write_config(f'[feeds]\nurls = ["{url}", "front.txt"]\n')

    result = cli("--config", config, "ingest", "--now", "2026-11-25T12:00")
    assert result.exit_code == 0, result.output
    assert f"{url}: 4 new, 0 updated, 0 unchanged, 0 rejected" in result.output
    assert f"{tmp_path / 'front.txt'}: 1 new" in result.output


def test_cli_timeout_option_bounds_a_silent_server(silent_port, cli):
    url = f"http://127.0.0.1:{silent_port}/feed.xml"
    result = cli("ingest", url, "--timeout", "0.2")
    assert result.exit_code == 1
    assert f"{url}: no answer within 0.2 s (timed out)" in result.output
    assert "Traceback" not in result.output
