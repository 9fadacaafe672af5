"""Signed personal links: preferences, unsubscribe, per-category opt-out, sign-up confirmation.

A token carries the subscriber id and their token_version; bumping the version
(`digest subscribers rotate`) makes every older link fail. Each purpose has its own salt,
so a preferences token cannot be replayed as an unsubscribe one.

URL shapes (fixed; the web app answers them):
    {base}/p/{token}                  preferences
    {base}/u/{token}                  unsubscribe (GET confirm page, POST unsubscribes; RFC 8058)
    {base}/c/{token}                  stop one category (the category is inside the token)
    {base}/confirm/{token}            double opt-in confirmation (expires)
"""

from __future__ import annotations

import hashlib
import hmac
import json
from base64 import urlsafe_b64encode
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeSerializer, URLSafeTimedSerializer

from digest.errors import ConfigError, DigestError
from digest.models import Subscriber

PURPOSES = ("preferences", "unsubscribe", "category", "confirm")


class BadLink(DigestError):
    """A token that is tampered, truncated, signed with another key, or out of date."""


class ExpiredLink(BadLink):
    """A confirmation link older than its lifetime."""


@dataclass(frozen=True)
class TokenData:
    subscriber_id: int
    version: int
    category: str | None = None


class _TokenWriter:
    """Writes tokens that URLSafeSerializer(secret_key, salt).loads accepts, about 5x faster
    than its own dumps.

    Why: a send signs several links per subscriber (preferences, unsubscribe, one per
    category), and at 100,000 subscribers itsdangerous's dumps was a third of the send loop
    (see BENCHMARKS.md): it zlib-compresses every payload (a 256 KB zlib state each time)
    and calls HMAC one-shot, which releases the GIL and so waits behind the send threads.
    The format is itsdangerous's: compact JSON, URL-safe base64 without padding, ".", and the
    HMAC-SHA1 of that under sha1(salt + "signer" + key). We never compress: the payloads are
    a few bytes, and itsdangerous reads uncompressed tokens too.
    """

    _json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def __init__(self, secret_key: str, salt: str):
        key = hashlib.sha1(salt.encode("utf-8") + b"signer" + secret_key.encode("utf-8")).digest()
        self._mac = hmac.new(key, digestmod=hashlib.sha1)  # keyed once; copied per token

    def dumps(self, payload) -> str:
        value = _b64(self._json(payload).encode("utf-8"))
        mac = self._mac.copy()
        mac.update(value)
        return (value + b"." + _b64(mac.digest())).decode("ascii")


def _b64(data: bytes) -> bytes:
    return urlsafe_b64encode(data).rstrip(b"=")


class Links:
    def __init__(self, secret_key: str | None, base_url: str, confirm_max_age_seconds: int = 7 * 86400):
        if not secret_key:
            raise ConfigError(
                "no secret key: set DIGEST_SECRET_KEY (or secret_key in [web] of digest.toml) to sign links"
            )
        self.base_url = base_url.rstrip("/")
        self.confirm_max_age = confirm_max_age_seconds
        self._signers = {p: URLSafeSerializer(secret_key, salt=f"digest.{p}") for p in PURPOSES if p != "confirm"}
        self._confirm = URLSafeTimedSerializer(secret_key, salt="digest.confirm")
        self._writers = {p: _TokenWriter(secret_key, f"digest.{p}") for p in PURPOSES if p != "confirm"}

    @classmethod
    def from_config(cls, config) -> "Links":
        return cls(config.secret_key, config.base_url, config.confirm_days * 86400)

    def token(self, purpose: str, subscriber: Subscriber, category: str | None = None) -> str:
        payload = [subscriber.id, subscriber.token_version]
        if category is not None:
            payload.append(category)
        if purpose == "confirm":
            return self._confirm.dumps(payload)
        return self._writers[purpose].dumps(payload)

    def load(self, purpose: str, token: str) -> TokenData:
        """Decode a token of `purpose`; raises BadLink (or ExpiredLink)."""
        try:
            if purpose == "confirm":
                payload = self._confirm.loads(token, max_age=self.confirm_max_age)
            else:
                payload = self._signers[purpose].loads(token)
        except SignatureExpired:
            raise ExpiredLink("this confirmation link has expired") from None
        except BadSignature:
            raise BadLink("this link is not valid") from None
        if not (isinstance(payload, list) and len(payload) in (2, 3)
                and isinstance(payload[0], int) and isinstance(payload[1], int)):
            raise BadLink("this link is not valid")
        return TokenData(payload[0], payload[1], payload[2] if len(payload) == 3 else None)

    def preferences_url(self, subscriber: Subscriber) -> str:
        return f"{self.base_url}/p/{self.token('preferences', subscriber)}"

    def unsubscribe_url(self, subscriber: Subscriber) -> str:
        return f"{self.base_url}/u/{self.token('unsubscribe', subscriber)}"

    def category_unsubscribe_url(self, subscriber: Subscriber, category: str) -> str:
        return f"{self.base_url}/c/{self.token('category', subscriber, category)}"

    def confirm_url(self, subscriber: Subscriber) -> str:
        return f"{self.base_url}/confirm/{self.token('confirm', subscriber)}"
