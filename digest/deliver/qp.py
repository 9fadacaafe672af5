"""Quoted-printable pieces that can be joined as bytes.

Why quoted-printable: it decodes to exactly the text we encoded, keeps every line within 76
characters (so long HTML lines need no rewriting), and "=" never appears unencoded, so a MIME
boundary starting with "=_" cannot occur inside a part. A body is encoded once per variant in
pieces; a personal value is encoded per message and always sits on lines of its own, joined
to its neighbours by soft line breaks ("=" CRLF), which decode to nothing.
"""

from __future__ import annotations

import binascii
import re

SOFT_BREAK = b"=\r\n"
_MAX = 75  # characters before a soft break's "=" (76 in all, as RFC 2045 asks)
# Printable ASCII except "=", no whitespace at either end: such a value is its own encoding.
_PLAIN = re.compile(rb"[!-<>-~](?:[ !-<>-~]*[!-<>-~])?")


def encode_text(text: str) -> bytes:
    """A whole text (any line endings) as quoted-printable with CRLF line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def encode_piece(text: str) -> bytes:
    """A piece of a body that a personal value follows: it ends with a line break (a soft one
    when the text does not end with its own), so the value starts on a fresh line."""
    encoded = encode_text(text)
    if not encoded or encoded.endswith(b"\r\n"):
        return encoded
    last_line = encoded.rfind(b"\r\n") + 2 if b"\r\n" in encoded else 0
    if len(encoded) - last_line > _MAX:
        cut = _safe_cut(encoded, last_line + _MAX)
        encoded = encoded[:cut] + SOFT_BREAK + encoded[cut:]
    return encoded + SOFT_BREAK


def encode_value(raw: bytes) -> bytes:
    """A personal value (one line, already escaped for its part) as quoted-printable lines,
    each ending in a soft break."""
    if not raw:
        return b""
    if _PLAIN.fullmatch(raw):  # e.g. every signed link: cut into lines, nothing to escape
        if len(raw) <= _MAX:
            return raw + SOFT_BREAK
        return SOFT_BREAK.join([raw[i:i + _MAX] for i in range(0, len(raw), _MAX)]) + SOFT_BREAK
    # quotetabs: spaces become =20, so no line can end in whitespace; istext=False: a CR or
    # LF inside the value is data (=0D, =0A), never a line break of ours.
    encoded = binascii.b2a_qp(raw, quotetabs=True, istext=False).replace(b"=\n", b"")
    lines = []
    while len(encoded) > _MAX:
        cut = _safe_cut(encoded, _MAX)
        lines.append(encoded[:cut])
        encoded = encoded[cut:]
    lines.append(encoded)
    return SOFT_BREAK.join(lines) + SOFT_BREAK


def _safe_cut(encoded: bytes, limit: int) -> int:
    """The largest position <= limit that does not split an "=XX" escape."""
    for back in (1, 2):
        if encoded[limit - back:limit - back + 1] == b"=":
            return limit - back
    return limit
