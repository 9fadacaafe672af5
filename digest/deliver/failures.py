"""What can go wrong handing a message to a transport, as values the send loop can act on."""

from __future__ import annotations

from digest.errors import DigestError

# Replies that mean "you are sending too fast": the whole run slows down (RFC 3463 / common use).
THROTTLE_CODES = frozenset({421, 451, 452, 454})
# Replies to RCPT that mean the mailbox does not exist or will never accept: a bounce.
BOUNCE_CODES = frozenset({550, 551, 553})


class DeliveryFailure(DigestError):
    """The server (or the connection to it) did not take the message."""

    def __init__(self, reply: str, code: int | None = None, stage: str = "", connection_lost: bool = False):
        super().__init__(reply)
        self.reply = reply
        self.code = code
        self.stage = stage  # greeting, mail, rcpt, data, reply, send, ...
        self.connection_lost = connection_lost
        self.timed_out = False  # the server did not answer within the timeout

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES


def describe_os_error(exc: BaseException) -> str:
    """A socket error in a few words, for a ledger reply."""
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return "timed out"
    return str(exc) or type(exc).__name__


def resend_on_fresh_connection(failure: "DeliveryFailure", fresh: bool) -> bool:
    """A reused connection the server closed while idle fails before any body went out: not the
    message's fault, so it is tried once more on a fresh connection. A slow server is."""
    return not (fresh or failure.timed_out or failure.stage not in ("rset", "envelope"))


class TemporaryFailure(DeliveryFailure):
    """Try again later: a 4xx reply, a timeout, a dropped connection."""


class ConnectFailure(TemporaryFailure):
    """The server could not be reached or would not start a session."""

    def __init__(self, reply: str, code: int | None = None, stage: str = "connect"):
        super().__init__(reply, code=code, stage=stage, connection_lost=True)


class PermanentFailure(DeliveryFailure):
    """Never retry: a 5xx reply."""

    @property
    def bounced(self) -> bool:
        """The server says the recipient's mailbox is gone (550/551/553 to RCPT)."""
        return self.stage == "rcpt" and self.code in BOUNCE_CODES
