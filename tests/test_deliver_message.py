"""The email itself: byte-personalised MIME that parses into exactly what Variant.personalise
gives, headers that cannot be injected, stable Message-IDs, List-Unsubscribe, DKIM, notices."""

from __future__ import annotations

import base64
import email
import re
import shutil
import subprocess
from dataclasses import replace
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import dkim
import pytest

from deliver_world import NOW, add_subscribers, bodies, check_message, make_edition, wanted
from digest.config import DkimSettings
from digest.deliver import qp
from digest.deliver.compose import Composer
from digest.deliver.headers import format_address
from digest.deliver.message import MessageTemplate, message_id, notice
from digest.links import Links
from digest.render import Renderer, personal_for

TRICKY_NAMES = ["Ann Lee", "", "Zoë Brontë", 'Bob "the builder" <b@x>', "O'Neil & Sons <script>",
                "Émile\tZola", "  spaced   out  ", "李小龍", "x" * 300, "Eve\r\nBcc: x@evil.example"]


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


@pytest.fixture
def world(config, store):
    edition = make_edition(store, config)
    return config, store, edition


def reference_message(config, variant, subscriber, personal, mid) -> EmailMessage:
    """The slow, obvious way: an EmailMessage per subscriber (what the fast path replaces)."""
    html, text = variant.personalise(personal)
    message = EmailMessage()
    message["Date"] = format_datetime(NOW)
    message["From"] = f"{config.from_name} <{config.from_address}>"
    message["To"] = Address(display_name=subscriber.name, addr_spec=subscriber.email)
    message["Subject"] = variant.subject
    message["Message-ID"] = mid
    message["List-Id"] = f"{config.site_name} <{config.list_id}>"
    message["List-Unsubscribe"] = f"<{personal.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return parse(message.as_bytes())


def test_every_personalised_message_parses_into_exactly_the_variants_text_and_html(world):
    config, store, edition = world
    renderer = Renderer(config)
    composer = Composer(config, edition, NOW, renderer)
    links = Links.from_config(config)
    subscribers = add_subscribers(store, 24)
    for number, subscriber in enumerate(subscribers):
        subscriber.name = TRICKY_NAMES[number % len(TRICKY_NAMES)]
        composed = composer.compose(subscriber)
        if not wanted(edition, subscriber):
            assert composed is None
            continue
        message = parse(composed.data)
        variant = renderer.render(edition, wanted(edition, subscriber))
        expected_html, expected_text = variant.personalise(personal_for(subscriber, links, variant.categories))
        text, html = bodies(message)
        assert text == expected_text.replace("\r\n", "\n")
        assert html == expected_html.replace("\r\n", "\n")
        check_message(message, subscriber, edition, config)
    assert all(template.fast for template in composer.variants.values())
    assert len(composer.variants) == 5  # one per category set with articles


def test_fast_message_has_the_same_headers_and_parts_as_an_emailmessage_built_the_slow_way(world):
    config, store, edition = world
    renderer = Renderer(config)
    composer = Composer(config, edition, NOW, renderer)
    links = Links.from_config(config)
    for subscriber in add_subscribers(store, 5):
        subscriber.name = "Zoë O'Neil & <Co>"
        fast = parse(composer.compose(subscriber).data)
        variant = renderer.render(edition, wanted(edition, subscriber))
        mid = message_id(config, edition.key, subscriber.id)
        slow = reference_message(config, variant, subscriber,
                                 personal_for(subscriber, links, variant.categories), mid)
        for header in ("Date", "From", "To", "Subject", "Message-ID", "List-Id", "List-Unsubscribe",
                       "List-Unsubscribe-Post"):
            assert " ".join(str(fast[header]).split()) == " ".join(str(slow[header]).split()), header
        # The email package ends a part without a final newline with one; nothing else differs.
        assert [b.rstrip("\n") for b in bodies(fast)] == [b.rstrip("\n") for b in bodies(slow)]


def test_a_name_with_a_line_break_cannot_inject_a_header(world):
    config, store, edition = world
    subscriber = add_subscribers(store, 1)[0]
    subscriber.name = "Eve\r\nBcc: x@evil.example"
    data = Composer(config, edition, NOW).compose(subscriber).data
    head = data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"^Bcc:", head, re.MULTILINE | re.IGNORECASE)
    message = parse(data)
    assert message["Bcc"] is None
    assert message["To"].addresses[0].display_name == "Eve Bcc: x@evil.example"
    assert message["To"].addresses[0].addr_spec == subscriber.email
    text, _ = bodies(message)
    assert "Bcc: x@evil.example" not in text.splitlines()


def test_a_subject_with_a_line_break_cannot_inject_a_header(world):
    config, store, edition = world
    variant = Renderer(config).render(edition, None)
    template = MessageTemplate(config, variant, NOW, subject="Hello\r\nBcc: y@evil.example\nX-Evil: 1")
    subscriber = add_subscribers(store, 1)[0]
    personal = personal_for(subscriber, Links.from_config(config), variant.categories)
    message = parse(template.fill("Ann", subscriber.email, personal, "<a@b>"))
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "Hello Bcc: y@evil.example X-Evil: 1"


def test_non_ascii_names_are_encoded_words_and_specials_are_quoted():
    assert format_address("Zoë", "zoe@example.com").startswith("=?utf-8?")
    assert format_address('Bob "B" <b@x>', "bob@example.com") == '"Bob \\"B\\" <b@x>" <bob@example.com>'
    assert format_address("Plain Name", "p@example.com") == "Plain Name <p@example.com>"
    assert format_address("", "p@example.com") == "p@example.com"
    assert format_address("Ann", "ann@bücher.example") == "Ann <ann@xn--bcher-kva.example>"
    long = parse(f"To: {format_address('Zoë ' * 40, 'z@example.com')}\r\n\r\n".encode())
    # Python keeps the folding space between encoded words of a name (RFC 2047 readers drop
    # it); cut only after spaces, the name reads the same either way: never "Zo ë".
    assert " ".join(long["To"].addresses[0].display_name.split()) == ("Zoë " * 40).strip()
    with pytest.raises(ValueError):
        format_address("x", "a@b>\r\nBcc: c@d")


def test_message_id_is_stable_for_edition_and_subscriber_and_unique_between_them(world):
    config, store, edition = world
    subscribers = add_subscribers(store, 10, sets=[()])
    first = [Composer(config, edition, NOW).compose(s).message_id for s in subscribers]
    again = [Composer(config, edition, NOW).compose(s).message_id for s in subscribers]
    assert first == again
    assert len(set(first)) == len(first)
    assert first[0].startswith(f"<{edition.key}.{subscribers[0].id}.") and first[0].endswith("@example.com>")
    assert message_id(config, "2026-W49", subscribers[0].id) != first[0]


def test_list_unsubscribe_carries_the_signed_link_a_mailto_and_one_click(world):
    config, store, edition = world
    config = replace(config, unsubscribe_mailto="leave@example.com", reply_to="desk@example.com",
                     feedback_id="weekly:digest:example")
    subscriber = add_subscribers(store, 1, sets=[()])[0]
    message = parse(Composer(config, edition, NOW).compose(subscriber).data)
    url = Links.from_config(config).unsubscribe_url(subscriber)
    assert message["List-Unsubscribe"] == f"<{url}>, <mailto:leave@example.com?subject=unsubscribe>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] == "The Weekly Digest <weekly-digest.example.com>"
    assert message["Reply-To"] == "desk@example.com"
    assert message["Feedback-ID"] == "weekly:digest:example"
    assert message["From"] == "The Weekly Digest <digest@example.com>"


def test_optional_headers_are_absent_unless_configured(world):
    config, store, edition = world
    message = parse(Composer(config, edition, NOW).compose(add_subscribers(store, 1, sets=[()])[0]).data)
    assert message["Reply-To"] is None and message["Feedback-ID"] is None
    assert "mailto:" not in message["List-Unsubscribe"]


def test_message_is_seven_bit_with_short_lines_and_a_boundary_that_cannot_occur_inside(world):
    config, store, edition = world
    subscriber = add_subscribers(store, 1, sets=[()])[0]
    subscriber.name = "Zoë " + "ü" * 120
    data = Composer(config, edition, NOW).compose(subscriber).data
    assert data.isascii()
    head, body = data.split(b"\r\n\r\n", 1)
    assert max(len(line) for line in head.split(b"\r\n")) <= 100
    boundary = re.search(rb'boundary="([^"]+)"', head).group(1)
    assert boundary.startswith(b"=_")
    assert body.count(b"--" + boundary) == 3
    part_lines = [line for line in body.split(b"\r\n") if not line.startswith(b"--" + boundary)]
    assert max(len(line) for line in part_lines) <= 76
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"\r\n." not in data  # nothing for SMTP to dot-stuff


def test_a_subscriber_whose_categories_have_nothing_new_gets_no_message(world):
    config, store, edition = world
    subscriber = add_subscribers(store, 1, sets=[("Nonexistent",)])[0]
    assert Composer(config, edition, NOW).compose(subscriber) is None


class _ShoutingVariant:
    """A template that transforms the name on insertion (upper case): plain substitution
    cannot reproduce that, so the message must fall back to personalise itself."""

    def __init__(self, real):
        self.real, self.categories, self.subject = real, real.categories, real.subject

    def personalise(self, personal):
        html, text = self.real.personalise(replace(personal, name=personal.name.upper()))
        return html, text


def test_a_template_that_transforms_values_falls_back_to_personalise_and_stays_exact(world):
    config, store, edition = world
    real = Renderer(config).render(edition, None)
    template = MessageTemplate(config, _ShoutingVariant(real), NOW)
    assert not template.fast
    subscriber = add_subscribers(store, 1, sets=[()])[0]
    personal = personal_for(subscriber, Links.from_config(config), real.categories)
    html, text = _ShoutingVariant(real).personalise(personal)
    message = parse(template.fill(subscriber.name, subscriber.email, personal, "<x@y>"))
    assert bodies(message) == (text.replace("\r\n", "\n"), html.replace("\r\n", "\n"))
    assert subscriber.name.upper() in bodies(message)[0]


@pytest.mark.parametrize("value", [b"", b"https://news.example.com/u/Ab.cd-ef_9", b"https://x.example/c/" + b"Ab.c-_9" * 30, b".starts.with.a.dot" * 9,
                                   b" leading and trailing ",
                                   "Zoë & <Ann>".encode(), b"a=b" * 60, "ü".encode() * 80, b"tab\there\rx\n"])
def test_quoted_printable_values_decode_to_themselves_in_short_lines(value):
    encoded = b"x=\r\n" + qp.encode_value(value) + b"y"
    assert all(len(line) <= 76 for line in encoded.split(b"\r\n"))
    assert b"\r\n." not in encoded
    decoded = email.quoprimime.body_decode(encoded.decode("ascii").replace("\r\n", "\n")).encode("latin-1")
    assert decoded == b"x" + value + b"y"


def test_quoted_printable_pieces_keep_lines_short_before_a_value():
    piece = qp.encode_piece("a" * 300 + " é " + "b" * 75 + "\n.dot\n" + "c" * 72 + ".d" + ".e" * 50)
    assert b"\r\n." not in piece and not piece.startswith(b".")
    assert piece.endswith(qp.SOFT_BREAK)
    assert all(len(line) <= 76 for line in piece.split(b"\r\n"))
    decoded = email.quoprimime.body_decode(piece.decode("ascii").replace("\r\n", "\n"))
    assert decoded.encode("latin-1").decode("utf-8") == "a" * 300 + " é " + "b" * 75 + "\n.dot\n" + "c" * 72 \
        + ".d" + ".e" * 50


@pytest.fixture
def dkim_key(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test key")
    key = tmp_path / "dkim.key"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    public = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                            check=True, capture_output=True).stdout
    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    return key, record


def test_dkim_signature_verifies_and_covers_the_unsubscribe_headers(world, dkim_key):
    config, store, edition = world
    key, record = dkim_key
    config = replace(config, dkim=DkimSettings("digest", "example.com", key), unsubscribe_mailto="leave@example.com")
    subscriber = add_subscribers(store, 1, sets=[()])[0]
    data = Composer(config, edition, NOW).compose(subscriber).data

    def dns(name, timeout=5):
        assert name == b"digest._domainkey.example.com."
        return record

    assert dkim.verify(data, dnsfunc=dns)
    signature = parse(data)["DKIM-Signature"]
    signed = {h.strip().lower() for h in re.search(r"h=([^;]+)", signature).group(1).split(":")}
    assert {"from", "to", "subject", "date", "message-id", "list-unsubscribe",
            "list-unsubscribe-post"} <= signed
    forged = data.replace(b"List-Unsubscribe: <https://", b"List-Unsubscribe: <http://")
    assert forged != data and not dkim.verify(forged, dnsfunc=dns)


def test_a_missing_dkim_key_is_a_clear_configuration_error(world, tmp_path):
    from digest.errors import ConfigError

    config, _, edition = world
    config = replace(config, dkim=DkimSettings("digest", "example.com", tmp_path / "nope.key"))
    with pytest.raises(ConfigError, match="nope.key"):
        Composer(config, edition, NOW)


def test_notice_is_plain_utf8_text_and_header_injection_safe(config):
    text = "Hello Zoë,\n.\nConfirm here: https://news.example.com/confirm/abc\n" + "long " * 40 + "\n"
    data = notice(config, "zoe@example.com", "Zoë\r\nBcc: x@evil.example", "Confirm\r\nBcc: y@evil.example", text)
    message = parse(data)
    assert message["Bcc"] is None
    assert message["Subject"] == "Confirm Bcc: y@evil.example"
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    assert message["From"] == "The Weekly Digest <digest@example.com>"
    assert message["Message-ID"].endswith("@example.com>")
    assert message.get_content_type() == "text/plain"
    assert message.get_content().replace("\r\n", "\n") == text
    assert data.isascii()


def test_variant_templates_are_kept_in_a_bounded_cache_and_rebuilt_when_needed(world, monkeypatch):
    from digest.deliver import compose

    config, store, edition = world
    monkeypatch.setattr(compose, "TEMPLATES_KEPT", 2)
    composer = Composer(config, edition, NOW)
    readers = add_subscribers(store, 10, sets=[(), ("News",), ("Travel",), ("Technology", "Health")])
    for reader in readers + readers:
        check_message(parse(composer.compose(reader).data), reader, edition, config)
        assert len(composer.variants) <= 2
    assert sum(composer.counts.values()) == 20 and len(composer.subjects) == 4
