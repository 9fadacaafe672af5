"""DKIM signatures (dkimpy), when [dkim] is configured.

The signature covers From, To, Subject, Date, Message-ID, List-Id, both List-Unsubscribe
headers and the MIME headers, so a forwarder cannot swap the unsubscribe link unnoticed.
"""

from __future__ import annotations

import dkim

from digest.config import Config, DkimSettings
from digest.errors import ConfigError

SIGNED_HEADERS = (
    b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Id", b"List-Unsubscribe",
    b"List-Unsubscribe-Post", b"Reply-To", b"Feedback-ID", b"MIME-Version", b"Content-Type",
)


class DkimSigner:
    def __init__(self, settings: DkimSettings):
        try:
            self.key = settings.key_file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"[dkim] key_file {settings.key_file}: cannot read: {exc.strerror}") from None
        self.selector = settings.selector.encode("ascii")
        self.domain = settings.domain.encode("ascii")
        try:  # a bad key should stop the run before the first message, not fail each one
            self.sign(b"From: check@example.invalid\r\n\r\ncheck\r\n")
        except dkim.DKIMException as exc:
            raise ConfigError(f"[dkim] key_file {settings.key_file}: {exc}") from None

    def sign(self, message: bytes) -> bytes:
        """The message with a DKIM-Signature header in front."""
        head = message.split(b"\r\n\r\n", 1)[0].lower()
        present = [h for h in SIGNED_HEADERS if head.startswith(h.lower() + b":") or b"\r\n" + h.lower() + b":" in head]
        signature = dkim.sign(message, self.selector, self.domain, self.key,
                              canonicalize=(b"relaxed", b"relaxed"), include_headers=present)
        return signature + message


_signers: dict[DkimSettings, DkimSigner] = {}


def signer_for(config: Config) -> DkimSigner | None:
    """The signer for config.dkim (key read once per process), or None when DKIM is off."""
    if config.dkim is None:
        return None
    if config.dkim not in _signers:
        _signers[config.dkim] = DkimSigner(config.dkim)
    return _signers[config.dkim]


def sign_if_configured(config: Config, message: bytes) -> bytes:
    signer = signer_for(config)
    return signer.sign(message) if signer else message
