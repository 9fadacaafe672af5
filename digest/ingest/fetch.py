"""Getting a source's bytes: files from disk, URLs over HTTP with a timeout and conditional GET.

The only module in digest that opens network connections.
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from digest import __version__
from digest.ingest.entries import SourceUnreadable

DEFAULT_TIMEOUT = 20.0  # seconds to connect, and between bytes of the answer
MAX_BYTES = 20 * 1024 * 1024  # a feed bigger than this is a mistake, not news
ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, application/json, "
          "application/xml;q=0.9, text/xml;q=0.9, text/csv;q=0.8, text/plain;q=0.7, */*;q=0.5")


def is_url(source: str) -> bool:
    return source.lower().startswith(("http://", "https://"))


@dataclass
class Fetched:
    """A fetch's answer: the bytes, or None when the server said 304 Not Modified."""

    content: bytes | None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.content is None


class Fetcher:
    """Fetches URLs with urllib. `timeout` (seconds) bounds connecting and each read."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT):
        self.timeout = timeout

    def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        headers = {"User-Agent": f"digest/{__version__}", "Accept": ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        request = urllib.request.Request(url, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                content = response.read(MAX_BYTES + 1)
                if len(content) > MAX_BYTES:
                    raise SourceUnreadable(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
                return Fetched(content, response.headers.get("ETag"), response.headers.get("Last-Modified"),
                               response.headers.get("Content-Type"))
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return Fetched(None, exc.headers.get("ETag") or etag,
                               exc.headers.get("Last-Modified") or last_modified)
            raise SourceUnreadable(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, (TimeoutError, socket.timeout)):
                raise SourceUnreadable(self._timed_out()) from None
            raise SourceUnreadable(f"cannot fetch: {exc.reason}") from None
        except (TimeoutError, socket.timeout):
            raise SourceUnreadable(self._timed_out()) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise SourceUnreadable(f"cannot fetch: {exc}") from None

    def _timed_out(self) -> str:
        return f"no answer within {self.timeout:g} s (timed out)"


def read_file(path: str) -> bytes:
    try:
        with open(Path(path), "rb") as handle:
            content = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise SourceUnreadable(f"cannot read file: {exc.strerror or exc}") from None
    if len(content) > MAX_BYTES:
        raise SourceUnreadable(f"larger than {MAX_BYTES // (1024 * 1024)} MB")
    return content


def decode_text(content: bytes, charset: str | None = None) -> str:
    """Bytes → text: the declared charset, else UTF-8 (a byte-order mark is dropped)."""
    encoding = charset or "utf-8-sig"
    try:
        return content.decode(encoding)
    except LookupError:
        raise SourceUnreadable(f"unknown character set {charset!r}") from None
    except UnicodeDecodeError as exc:
        raise SourceUnreadable(f"not {encoding.replace('-sig', '').upper()} text (bad byte at offset {exc.start})") from None


def charset_of(content_type: str | None) -> str | None:
    if not content_type:
        return None
    message = http.client.HTTPMessage()
    message["Content-Type"] = content_type
    return message.get_content_charset()
