"""Header values that can never inject a header: one line, encoded, folded with CRLF.

Everything that goes into a header passes through `one_line` first, so a CR or LF in a
subscriber's name or a subject cannot start a new header line (e.g. "Eve\\r\\nBcc: ...").
"""

from __future__ import annotations

import base64
import re
from email.header import Header

# CR, LF and every other control character, plus the Unicode line/paragraph separators.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_SPECIALS = set('()<>[]:;@\\,."')
MAX_NAME = 200  # a display name longer than this is cut: no real name needs more


def one_line(text: str | None) -> str:
    """`text` with control characters replaced by spaces and whitespace collapsed."""
    if text and text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text  # the usual case, e.g. a signed link: nothing to clean (and cheap to tell)
    return " ".join(_CONTROLS.sub(" ", text or "").split())


def encoded_words(text: str) -> str:
    """RFC 2047 encoded words (UTF-8, base64) of at most 75 characters, folded with CRLF.

    Words are cut after a space, never inside a word where it can be helped: some readers
    (Python's own address parser among them) keep the folding space between encoded words
    of a display name, so a cut inside "Zoë" would show as "Zo ë"."""
    room = (75 - len("=?utf-8?b??=")) // 4 * 3  # bytes of text per encoded word
    chunks: list[str] = []
    current = ""
    for piece in re.findall(r"\S+\s*|\s+", text):
        if len((current + piece).encode("utf-8")) <= room:
            current += piece
            continue
        if current:
            chunks.append(current)
        while len(piece.encode("utf-8")) > room:  # one very long word: cut between characters
            cut = len(piece)
            while len(piece[:cut].encode("utf-8")) > room:
                cut -= 1
            chunks.append(piece[:cut])
            piece = piece[cut:]
        current = piece
    if current:
        chunks.append(current)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(c.encode('utf-8')).decode('ascii')}?=" for c in chunks)


def encode_text(text: str, header_name: str) -> str:
    """An unstructured header value (Subject): RFC 2047 when not ASCII, folded under 78 columns."""
    value = one_line(text)
    if not value.isascii():
        return encoded_words(value)
    return Header(value, "us-ascii", header_name=header_name).encode(linesep="\r\n")


def encode_phrase(name: str, header_name: str) -> str:
    """A display name: RFC 2047 when not ASCII, a quoted string when it has specials."""
    name = one_line(name)[:MAX_NAME]
    if not name.isascii():
        return encoded_words(name)
    if _SPECIALS.intersection(name) or name != name.strip():
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return name


def ascii_address(address: str) -> str:
    """The address with an internationalised domain in its IDNA (xn--) form when possible."""
    address = one_line(address)
    local, _, domain = address.rpartition("@")
    if domain and not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return address
    return f"{local}@{domain}" if local else address


def format_address(name: str | None, address: str, header_name: str = "To") -> str:
    """`Name <addr>` safely encoded, or the bare address when there is no name."""
    address = ascii_address(address)
    if any(c in address for c in "<>\r\n\"") or " " in address:
        raise ValueError(f"not a usable address: {address!r}")
    phrase = encode_phrase(name or "", header_name)
    if not phrase:
        return address
    # Leave room on the first line for the address when the phrase is folded.
    return f"{phrase} <{address}>" if len(phrase) + len(address) < 70 else f"{phrase}\r\n <{address}>"
