"""Quoted-printable pieces that can be joined as bytes.

Why quoted-printable: it decodes to exactly the text we encoded, keeps every line within 76
characters (so long HTML lines need no rewriting), and "=" never appears unencoded, so a MIME
boundary starting with "=_" cannot occur inside a part. A body is encoded once per variant in
pieces; a personal value is encoded per message and always sits on lines of its own, joined
to its neighbours by soft line breaks ("=" CRLF), which decode to nothing.

No encoded line starts with "." (it is written =2E): SMTP would have to double such dots in
every message, a scan and a copy of the whole message each time.
"""

from __future__ import annotations

import binascii
import re

SOFT_BREAK = b"=\r\n"
_WIDTH = 73  # characters of a line before "=2E" and a soft break's "=": at most 76 in all
# Printable ASCII except "=", no whitespace at either end: such a value is its own encoding.
_PLAIN = re.compile(rb"[!-<>-~](?:[ !-<>-~]*[!-<>-~])?")


def encode_text(text: str) -> bytes:
    """A whole text (any line endings) as quoted-printable with CRLF line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True)
    # b2a_qp wraps at 76 and leaves leading dots alone: undo its wrapping and wrap our way.
    return b"\r\n".join(_wrap(line) for line in encoded.replace(b"=\n", b"").split(b"\n"))


def encode_piece(text: str) -> bytes:
    """A piece of a body that a personal value follows: it ends with a line break (a soft one
    when the text does not end with its own), so the value starts on a fresh line."""
    encoded = encode_text(text)
    if not encoded or encoded.endswith(b"\r\n"):
        return encoded
    return encoded + SOFT_BREAK


def encode_value(raw: bytes) -> bytes:
    """A personal value (one line, already escaped for its part) as quoted-printable lines,
    each ending in a soft break."""
    if not raw:
        return b""
    if _PLAIN.fullmatch(raw):  # e.g. every signed link: nothing to escape, just cut into lines
        if len(raw) <= _WIDTH and raw[:1] != b".":
            return raw + SOFT_BREAK
        encoded = raw
    else:
        # quotetabs: spaces become =20, so no line can end in whitespace; istext=False: a CR
        # or LF inside the value is data (=0D, =0A), never a line break of ours.
        encoded = binascii.b2a_qp(raw, quotetabs=True, istext=False).replace(b"=\n", b"")
    return _wrap(encoded) + SOFT_BREAK


def _wrap(line: bytes) -> bytes:
    """One encoded line cut into lines joined by soft breaks, none starting with a dot."""
    chunks = []
    while len(line) > _WIDTH:
        cut = _safe_cut(line, _WIDTH)
        chunks.append(line[:cut])
        line = line[cut:]
    chunks.append(line)
    return SOFT_BREAK.join(b"=2E" + c[1:] if c[:1] == b"." else c for c in chunks)


def _safe_cut(encoded: bytes, limit: int) -> int:
    """The largest position <= limit that does not split an "=XX" escape."""
    for back in (1, 2):
        if encoded[limit - back:limit - back + 1] == b"=":
            return limit - back
    return limit
