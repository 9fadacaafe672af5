"""The email itself: one variant's MIME built once, personalised per subscriber as bytes.

Building an EmailMessage per subscriber costs milliseconds; at 100,000 subscribers that
would be the whole budget. So a `MessageTemplate` renders the variant's headers and both
parts once, as quoted-printable pieces with numbered slots, and `fill` joins the pieces
with each subscriber's values (To, Message-ID, List-Unsubscribe, name, personal links),
escaped for where they go: RFC 2047/quoting for headers, HTML escaping in the HTML part.

Where the slots go is learnt from the variant itself: `Variant.personalise` is called once
with marker values, and once with probe values to check that plain substitution (our
escaping included) gives exactly what `personalise` gives. If it does not (a template that
transforms a value), every message falls back to calling `personalise` itself.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import re
import secrets
from datetime import datetime, timezone
from email.utils import format_datetime, make_msgid

from markupsafe import escape as markup_escape

from digest.config import Config
from digest.deliver import qp
from digest.render.personal import clean_name
from digest.deliver.headers import ascii_address, encode_phrase, encode_text, format_address, one_line

CRLF = b"\r\n"
_MARK = "\ue000{}\ue001"  # private-use characters: never in real content, never escaped
_MARK_RE = re.compile("\ue000(\\d+)\ue001")
# Whitespace and a control character included: a template may tidy a name before inserting it.
_PROBE_NAME = " Zoë\t<Ann>  &\x0b\"Bo\" O'Neil "


# How a name or link may be treated on insertion; the first pair that reproduces
# `personalise` on the probe is used for every message of the variant.
_NAME_FORMS = (clean_name, str)
_HTML_ESCAPES = (lambda s: html.escape(s, quote=True), lambda s: str(markup_escape(s)),
                 lambda s: html.escape(s, quote=False))


def sender_domain(config: Config) -> str:
    return ascii_address(config.from_address).rpartition("@")[2] or "localhost"


class MessageIds:
    """Message-IDs for one edition, stable per subscriber: a re-send after a crash carries the
    same one. The HMAC is keyed once and copied per message (keying costs as much as hashing)."""

    def __init__(self, config: Config, edition_key: str):
        self._keyed = hmac.new((config.secret_key or "").encode("utf-8"), digestmod=hashlib.sha256)
        self._edition = edition_key
        self._prefix = re.sub(r"[^A-Za-z0-9-]", "-", edition_key)
        self._domain = sender_domain(config)

    def __call__(self, subscriber_id: int) -> str:
        mac = self._keyed.copy()
        mac.update(f"{self._edition}/{subscriber_id}".encode("utf-8"))
        return f"<{self._prefix}.{subscriber_id}.{mac.hexdigest()[:16]}@{self._domain}>"


def message_id(config: Config, edition_key: str, subscriber_id: int) -> str:
    """The Message-ID of `edition_key` for one subscriber (see MessageIds)."""
    return MessageIds(config, edition_key)(subscriber_id)


def list_unsubscribe(config: Config, url: str) -> str:
    return f"<{one_line(url)}>{_mailto_suffix(config)}"


def _mailto_suffix(config: Config) -> str:
    if not config.unsubscribe_mailto:
        return ""
    return f",\r\n <mailto:{one_line(config.unsubscribe_mailto)}?subject=unsubscribe>"


def _header(name: str, value: str) -> bytes:
    return f"{name}: {value}".encode("utf-8") + CRLF


def _common_headers(config: Config) -> list[bytes]:
    lines = []
    if config.reply_to:
        lines.append(_header("Reply-To", format_address("", config.reply_to, "Reply-To")))
    if config.feedback_id:
        lines.append(_header("Feedback-ID", one_line(config.feedback_id)))
    return lines


def _from_header(config: Config) -> bytes:
    return _header("From", format_address(config.from_name, config.from_address, "From"))


# Slots every message fills, before the ones the parts declare.
TO, MESSAGE_ID, LIST_UNSUBSCRIBE, TEXT_BODY, HTML_BODY = range(5)
_FIRST_PART_SLOT = 5


class MessageTemplate:
    """One variant's message with slots; `fill` makes a subscriber's message in microseconds."""

    def __init__(self, config: Config, variant, date: datetime, subject: str | None = None):
        from digest.render import Personal

        self.config = config
        self._mailto_suffix = _mailto_suffix(config).encode("utf-8")  # the same for every reader
        self.variant = variant
        self.categories = tuple(variant.categories)
        self._personal_cls = Personal
        self._names = ("name", "preferences_url", "unsubscribe_url", *self.categories)
        boundary = "=_digest_" + secrets.token_hex(12)
        subject = variant.subject if subject is None else subject
        head = [
            _header("Date", format_datetime(date.astimezone(timezone.utc))),
            _from_header(self.config),
            b"To: ", TO, CRLF,
            _header("Subject", encode_text(subject, "Subject")),
            b"Message-ID: ", MESSAGE_ID, CRLF,
            _header("List-Id", f"{encode_phrase(config.site_name, 'List-Id')} <{one_line(config.list_id)}>"),
            b"List-Unsubscribe: ", LIST_UNSUBSCRIBE, CRLF,
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            *_common_headers(config),
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'.encode("ascii"),
        ]
        self._frame = (head, boundary)
        rules = self._find_rules()
        self.fast = rules is not None
        self._name_form, self._html_escape = rules or (str, None)
        # Readers with and without a name may read differently ("Hello Ann," / "Hello,"):
        # one set of pieces each, the second made only when someone needs it.
        self._pieces = {True: self._build(True)}
        self._slot_count = _FIRST_PART_SLOT + 2 * len(self._names)

    # -- built once -------------------------------------------------------------------

    def _build(self, named: bool) -> list:
        head, boundary = self._frame
        part_head = 'Content-Type: text/{}; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n'
        text, html_ = self._bodies(named) if self.fast else ([TEXT_BODY], [HTML_BODY])
        return self._flatten([
            *head,
            f"--{boundary}\r\n{part_head.format('plain')}".encode("ascii"), *text, CRLF,
            f"--{boundary}\r\n{part_head.format('html')}".encode("ascii"), *html_, CRLF,
            f"--{boundary}--\r\n".encode("ascii"),
        ])

    def _pieces_for(self, named: bool) -> list:
        pieces = self._pieces.get(named)
        if pieces is None:
            pieces = self._pieces[named] = self._build(named)
        return pieces

    def _personal(self, name: str, values: list[str]):
        return self._personal_cls(
            name=name, preferences_url=values[1], unsubscribe_url=values[2],
            category_unsubscribe_urls=dict(zip(self.categories, values[3:])),
        )

    def _marked(self, named: bool) -> tuple[str, str]:
        marks = [_MARK.format(i) for i in range(len(self._names))]
        return self.variant.personalise(self._personal(marks[0] if named else "", marks))

    def _find_rules(self):
        """(name form, HTML escape) with which plain substitution equals `personalise`, or None."""
        probe = [_PROBE_NAME, "https://probe.invalid/p/Ab.c-9_z", "https://probe.invalid/u/Ab.c-9_z",
                 *(f"https://probe.invalid/c/{i}.x_Y-z" for i in range(len(self.categories)))]
        expected = {named: self.variant.personalise(self._personal(probe[0] if named else "", probe))
                    for named in (True, False)}
        marked = {named: self._marked(named) for named in (True, False)}
        for name_form in _NAME_FORMS:
            values = [name_form(probe[0]), *probe[1:]]
            for escape in _HTML_ESCAPES:
                if all(_substitute(marked[named][0], values, escape) == expected[named][0]
                       and _substitute(marked[named][1], values, str) == expected[named][1]
                       for named in (True, False)):
                    return name_form, escape
        return None

    def _bodies(self, named: bool) -> tuple[list, list]:
        html_, text = self._marked(named)
        part_slots = len(self._names)
        return (_pieces(text, _FIRST_PART_SLOT), _pieces(html_, _FIRST_PART_SLOT + part_slots))

    @staticmethod
    def _flatten(items: list) -> list:
        """Adjacent bytes merged, so `fill` joins as few pieces as possible."""
        flat: list = []
        for item in items:
            if isinstance(item, bytes) and flat and isinstance(flat[-1], bytes):
                flat[-1] += item
            elif item != b"":
                flat.append(item)
        return flat

    # -- per message ------------------------------------------------------------------

    def fill(self, to_name: str, to_email: str, personal, message_id: str) -> bytes:
        """The subscriber's whole message, as bytes ready for SMTP (CRLF, 7-bit unless the
        address itself needs SMTPUTF8)."""
        values: list = [None] * self._slot_count
        values[TO] = format_address(to_name, to_email).encode("utf-8")
        values[MESSAGE_ID] = message_id.encode("ascii")
        values[LIST_UNSUBSCRIBE] = (b"<" + one_line(personal.unsubscribe_url).encode("utf-8") + b">"
                                    + self._mailto_suffix)
        if self.fast:
            urls = personal.category_unsubscribe_urls
            raw = [self._name_form(personal.name), personal.preferences_url, personal.unsubscribe_url,
                   *(urls.get(c, personal.preferences_url) for c in self.categories)]
            escape = self._html_escape
            html_base = _FIRST_PART_SLOT + len(raw)
            for i, value in enumerate(raw):
                text_value = qp.encode_value(value.encode("utf-8"))
                values[_FIRST_PART_SLOT + i] = text_value
                escaped = escape(value)
                # Signed links have nothing to escape: reuse their encoding.
                values[html_base + i] = text_value if escaped == value else qp.encode_value(escaped.encode("utf-8"))
            pieces = self._pieces_for(bool(raw[0]))
        else:
            html_, text = self.variant.personalise(personal)
            values[TEXT_BODY] = qp.encode_text(text)
            values[HTML_BODY] = qp.encode_text(html_)
            pieces = self._pieces[True]
        return b"".join([p if p.__class__ is bytes else values[p] for p in pieces])


def _substitute(marked: str, values: list[str], escape) -> str:
    return _MARK_RE.sub(lambda m: escape(values[int(m.group(1))]), marked)


def _pieces(marked: str, first_slot: int) -> list:
    """A marked body as QP bytes pieces and slot numbers (marker i -> slot first_slot + i)."""
    parts = _MARK_RE.split(marked)
    pieces: list = []
    for index, part in enumerate(parts):
        if index % 2:
            pieces.append(first_slot + int(part))
        else:
            last = index == len(parts) - 1
            pieces.append(qp.encode_text(part) if last else qp.encode_piece(part))
    return pieces


def notice(config: Config, to_email: str, to_name: str, subject: str, text: str) -> bytes:
    """A plain-text transactional email (sign-up confirmation, lost link), header-injection safe."""
    from digest.deliver.signing import sign_if_configured

    data = b"".join([
        _header("Date", format_datetime(datetime.now(timezone.utc))),
        _from_header(config),
        _header("To", format_address(to_name, to_email)),
        _header("Subject", encode_text(subject, "Subject")),
        _header("Message-ID", make_msgid(domain=sender_domain(config))),
        *_common_headers(config),
        b"Auto-Submitted: auto-generated\r\n",
        b"MIME-Version: 1.0\r\n",
        b'Content-Type: text/plain; charset="utf-8"\r\n',
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n",
        qp.encode_text(text if text.endswith("\n") else text + "\n"),
    ])
    return sign_if_configured(config, data)
