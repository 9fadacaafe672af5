"""A small SMTP client for many messages over one connection.

Why not smtplib: per message it re-scans the whole body twice with regular expressions
(line endings, dot-stuffing) and waits for every reply in turn. Our messages are already
CRLF, so dot-stuffing is one bytes.replace; and when the server offers PIPELINING, RSET,
MAIL, RCPT and DATA go out in one write (RFC 2920), so a message costs two round trips.
"""

from __future__ import annotations

import base64
import re
import socket
import ssl

from digest.config import SmtpSettings
from digest.errors import ConfigError
from digest.deliver.failures import ConnectFailure, PermanentFailure, TemporaryFailure, describe_os_error


# A line starting with a dot (the regex scans faster than bytes.find for this pattern).
_LINE_DOT = re.compile(rb"\n\.")


class SmtpSetupError(ConfigError):
    """The server cannot be used as configured (no STARTTLS, login refused, bad certificate)."""


_hostname: str | None = None


def local_hostname() -> str:
    """Our name for EHLO, looked up once per process (getfqdn can be slow)."""
    global _hostname
    if _hostname is None:
        name = socket.getfqdn()
        _hostname = name if name and "." in name and name.isascii() else "localhost.localdomain"
    return _hostname


class SmtpConnection:
    """One open SMTP session. Not thread-safe."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.sock: socket.socket | None = None
        self.reader = None
        self.extensions: dict[str, str] = {}
        self.used = False  # a message transaction happened: RSET before the next one

    # -- connecting -------------------------------------------------------------------

    def connect(self) -> "SmtpConnection":
        s = self.settings
        where = f"{s.host}:{s.port}"
        try:
            sock = socket.create_connection((s.host, s.port), timeout=s.timeout)
        except OSError as exc:
            raise ConnectFailure(f"cannot connect to SMTP server {where}: {describe_os_error(exc)}") from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            if s.tls == "ssl":
                sock = self._tls(sock)
            self._attach(sock)
            self._expect(self._reply(), "greeting", connect=True)
            self._ehlo()
            if s.tls == "starttls":
                if "starttls" not in self.extensions:
                    raise SmtpSetupError(f"SMTP server {where} does not offer STARTTLS (tls = starttls)")
                self._expect(self._command("STARTTLS"), "STARTTLS", connect=True)
                self._attach(self._tls(self.sock))
                self._ehlo()
            if s.username:
                self._login()
        except (TemporaryFailure, PermanentFailure, SmtpSetupError):
            self.abort()
            raise
        return self

    def _tls(self, sock: socket.socket) -> socket.socket:
        context = ssl.create_default_context()
        try:
            return context.wrap_socket(sock, server_hostname=self.settings.host)
        except ssl.SSLCertVerificationError as exc:
            sock.close()
            raise SmtpSetupError(f"SMTP server {self.settings.host}: certificate not trusted: {exc.verify_message}") from None
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise ConnectFailure(f"TLS with {self.settings.host} failed: {describe_os_error(exc)}") from None

    def _attach(self, sock: socket.socket) -> None:
        self.sock = sock
        self.reader = sock.makefile("rb")

    def _ehlo(self) -> None:
        code, text = self._command(f"EHLO {local_hostname()}")
        if code != 250:
            self._expect(self._command(f"HELO {local_hostname()}"), "HELO", connect=True)
            self.extensions = {}
            return
        extensions = {}
        for line in text.split("\n")[1:]:
            keyword, _, params = line.strip().partition(" ")
            extensions[keyword.lower()] = params
        self.extensions = extensions

    def _login(self) -> None:
        s = self.settings
        methods = self.extensions.get("auth", "").upper().split()
        user, password = s.username or "", s.password or ""
        if "PLAIN" in methods:
            token = base64.b64encode(f"\0{user}\0{password}".encode("utf-8")).decode("ascii")
            reply = self._command(f"AUTH PLAIN {token}")
        elif "LOGIN" in methods:
            reply = self._command("AUTH LOGIN")
            if reply[0] == 334:
                reply = self._command(base64.b64encode(user.encode("utf-8")).decode("ascii"))
            if reply[0] == 334:
                reply = self._command(base64.b64encode(password.encode("utf-8")).decode("ascii"))
        else:
            raise SmtpSetupError(f"SMTP server {s.host} offers no login we know (AUTH {' '.join(methods) or 'none'})")
        if reply[0] != 235:
            if 400 <= reply[0] < 500:
                raise ConnectFailure(f"SMTP login to {s.host} failed for now: {reply[0]} {reply[1]}")
            raise SmtpSetupError(f"SMTP login to {s.host} as {user!r} refused: {reply[0]} {reply[1]}")

    # -- sending ----------------------------------------------------------------------
    #
    # One message's dialogue is written once, as a generator (`dialogue`) that yields bytes
    # to write and None when it needs the next reply, and is sent each reply in turn. Two
    # drivers run it: `send` here with blocking socket calls, and the send loop's SmtpLane
    # (lanes.py) with non-blocking ones, many connections from one thread.

    def send(self, sender: str, recipients: list[str], data: bytes) -> str:
        """Deliver one message; returns the server's final reply. Raises TemporaryFailure
        (connection_lost=True when this connection is no longer usable) or PermanentFailure."""
        dialogue = self.dialogue(sender, recipients, data)
        try:
            step = next(dialogue)
            while True:
                try:
                    if step is None:
                        answer = self._reply()
                    else:
                        self._write(step)
                        answer = None
                except TemporaryFailure as failure:
                    step = dialogue.throw(failure)
                else:
                    step = dialogue.send(answer)
        except StopIteration as finished:
            return finished.value

    def dialogue(self, sender: str, recipients: list[str], data: bytes):
        """The SMTP exchange for one message (see above). Returns the final reply, or raises
        TemporaryFailure / PermanentFailure; a driver throws its I/O failures in here."""
        if not recipients:
            raise ValueError("a message needs at least one recipient")
        utf8 = not (sender.isascii() and all(r.isascii() for r in recipients))
        if utf8 and "smtputf8" not in self.extensions:
            raise PermanentFailure("the address needs SMTPUTF8, which the server does not offer", stage="mail")
        try:
            rset, mail, rcpts, data_reply = yield from self._envelope(sender, recipients, utf8)
        except TemporaryFailure as failure:
            failure.stage = "envelope"  # lost before any body went out: safe to send again
            raise
        # A server that says 354 although the envelope failed expects a body we must not
        # send: the connection is unusable then.
        stray_354 = data_reply is not None and data_reply[0] == 354
        if rset is not None and rset[0] != 250:
            raise self._failure(*rset, "rset", lost=True)
        if mail[0] != 250:
            raise self._failure(*mail, "mail", lost=stray_354)
        if not any(code in (250, 251) for code, _ in rcpts):
            raise self._failure(*rcpts[0], "rcpt", lost=stray_354)
        if not stray_354:
            raise self._failure(*data_reply, "data")
        # Dot-stuffing (RFC 5321 4.5.2). Our own messages have no line starting with a dot
        # (see qp.py), so the search usually finds nothing and nothing is copied.
        body = data.replace(b"\r\n.", b"\r\n..") if _LINE_DOT.search(data) else data
        if body.startswith(b"."):
            body = b"." + body
        yield body  # written as it is, never copied to add the terminator
        yield b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"
        code, text = yield None
        if code != 250:
            raise self._failure(code, text, "data")
        return f"{code} {text}"

    def _envelope(self, sender: str, recipients: list[str], utf8: bool):
        """RSET (after an earlier message), MAIL, RCPT..., DATA: in one write when the server
        pipelines, else one by one, stopping where the server said no. Returns their replies
        (None for a command not sent)."""
        mail_command = f"MAIL FROM:<{sender}>" + (" SMTPUTF8" if utf8 else "")
        rcpt_commands = [f"RCPT TO:<{r}>" for r in recipients]
        reset, self.used = self.used, True
        if "pipelining" in self.extensions:
            commands = (["RSET"] if reset else []) + [mail_command, *rcpt_commands, "DATA"]
            yield "".join(c + "\r\n" for c in commands).encode("utf-8")
            replies = []
            for _ in commands:
                replies.append((yield None))
            rset = replies.pop(0) if reset else None
            return rset, replies[0], replies[1:-1], replies[-1]
        rset = (yield from _one("RSET")) if reset else None
        if rset is not None and rset[0] != 250:
            return rset, None, [], None
        mail = yield from _one(mail_command)
        if mail[0] != 250:
            return rset, mail, [], None
        rcpts = []
        for command in rcpt_commands:
            rcpts.append((yield from _one(command)))
        if not any(code in (250, 251) for code, _ in rcpts):
            return rset, mail, rcpts, None
        return rset, mail, rcpts, (yield from _one("DATA"))

    def _failure(self, code: int, text: str, stage: str, lost: bool = False):
        reply = f"{code} {text}"
        if code == 421:
            lost = True  # the server is closing this connection
        if lost:
            self.abort()
        if 400 <= code < 500 or code == 0:
            return TemporaryFailure(reply, code=code, stage=stage, connection_lost=lost)
        return PermanentFailure(reply, code=code, stage=stage, connection_lost=lost)

    def quit(self) -> None:
        if self.sock is not None:
            try:
                self._command("QUIT")
            except TemporaryFailure:
                pass
        self.abort()

    def abort(self) -> None:
        """Drop the connection without a word (it is broken or in an unknown state)."""
        for closable in (self.reader, self.sock):
            try:
                if closable is not None:
                    closable.close()
            except OSError:
                pass
        self.sock = self.reader = None

    # -- the wire ---------------------------------------------------------------------

    def _command(self, line: str) -> tuple[int, str]:
        self._write(line.encode("utf-8") + b"\r\n")
        return self._reply()

    def _write(self, data: bytes) -> None:
        if self.sock is None:
            raise TemporaryFailure("connection already closed", stage="send", connection_lost=True)
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.abort()
            raise TemporaryFailure(f"connection lost while sending: {describe_os_error(exc)}", stage="send",
                                   connection_lost=True) from None

    def _reply(self) -> tuple[int, str]:
        lines = []
        try:
            while True:
                line = self.reader.readline(8192)
                if not line:
                    raise ConnectionResetError("the server closed the connection")
                if len(line) < 4 or not line[:3].isdigit():
                    raise ConnectionResetError(f"not an SMTP reply: {line[:60]!r}")
                lines.append(line[4:].decode("utf-8", "replace").strip())
                if line[3:4] != b"-":
                    return int(line[:3]), "\n".join(lines)
        except (OSError, ValueError, AttributeError) as exc:
            self.abort()
            failure = TemporaryFailure(f"connection lost waiting for the server: {describe_os_error(exc)}", stage="reply",
                                       connection_lost=True)
            failure.timed_out = isinstance(exc, (socket.timeout, TimeoutError))
            raise failure from None

    def _expect(self, reply: tuple[int, str], what: str, connect: bool = False) -> None:
        code, text = reply
        if 200 <= code < 400:
            return
        cls = ConnectFailure if connect and code < 500 else TemporaryFailure if code < 500 else SmtpSetupError
        if cls is SmtpSetupError:
            raise SmtpSetupError(f"SMTP server {self.settings.host} refused {what}: {code} {text}")
        raise cls(f"{code} {text}", code=code, stage=what.lower())


def _one(command: str):
    """One command and its reply, inside a dialogue."""
    yield command.encode("utf-8") + b"\r\n"
    return (yield None)


def parse_reply(lines: list[bytes]) -> tuple[int, str]:
    """The (code, text) of a complete reply's lines (without line endings); ValueError if
    they are not SMTP."""
    for line in lines:
        if len(line) < 3 or not line[:3].isdigit():
            raise ValueError(f"not an SMTP reply: {line[:60]!r}")
    if len(lines) == 1:
        return int(lines[0][:3]), lines[0][4:].decode("utf-8", "replace").strip()
    return int(lines[-1][:3]), "\n".join(line[4:].decode("utf-8", "replace").strip() for line in lines)

