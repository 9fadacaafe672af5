"""Transports against a real SMTP server (aiosmtpd on loopback), and the file and memory ones."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from digest.config import Config, SmtpSettings
from digest.deliver.failures import ConnectFailure, PermanentFailure, TemporaryFailure
from digest.deliver.smtp_client import SmtpSetupError
from digest.deliver.transports import FileTransport, MemoryTransport, SmtpTransport, make_transport
from digest.errors import ConfigError
from smtp_server import SmtpServer

SENDER = "digest@example.com"
# A leading dot, a lone dot line and a dot after CRLF: dot-stuffing must keep them all.
BODY = b"Subject: test\r\nTo: a@example.com\r\n\r\n.starts with a dot\r\n.\r\nend\r\n"


def message(number: int) -> bytes:
    return BODY.replace(b"end", f"message {number}".encode())


@pytest.fixture
def server():
    with SmtpServer() as running:
        yield running


def settings(server, **changes) -> SmtpSettings:
    return SmtpSettings(host=server.host, port=server.port, **{"timeout": 5.0, **changes})


@pytest.mark.parametrize("pipelining", [True, False])
def test_one_connection_carries_many_messages_with_rset_between(pipelining):
    with SmtpServer(pipelining=pipelining) as server:
        connection = SmtpTransport(settings(server)).open()
        replies = [connection.send(SENDER, [f"r{n}@example.com"], message(n)) for n in range(5)]
        connection.close()
        assert all(reply.startswith("250") for reply in replies)
        assert server.sessions == 1
        assert server.commands("RSET") == 4
        assert [m.data for m in server.messages] == [message(n) for n in range(5)]
        assert [m.rcpt_tos for m in server.messages] == [[f"r{n}@example.com"] for n in range(5)]
        assert {m.mail_from for m in server.messages} == {SENDER}


def test_send_on_the_transport_keeps_its_connection_between_calls(server):
    transport = SmtpTransport(settings(server))
    for number in range(3):
        transport.send(SENDER, ["a@example.com"], message(number))
    transport.close()
    assert server.count == 3 and server.sessions == 1


def test_a_4xx_reply_is_a_temporary_failure_and_the_connection_stays_usable(server):
    server.add_fault(stage="data", nth=1, reply="451 4.3.0 Try again later")
    connection = SmtpTransport(settings(server)).open()
    with pytest.raises(TemporaryFailure) as caught:
        connection.send(SENDER, ["a@example.com"], message(1))
    assert caught.value.code == 451 and caught.value.throttled and not caught.value.connection_lost
    assert caught.value.reply == "451 4.3.0 Try again later"
    connection.send(SENDER, ["a@example.com"], message(2))
    connection.close()
    assert server.count == 1 and server.sessions == 1


def test_550_to_a_recipient_is_a_permanent_bounce_and_552_is_permanent_without_bounce(server):
    server.add_fault(stage="rcpt", recipient="gone@example.com", reply="550 5.1.1 No such mailbox", times=None)
    server.add_fault(stage="data", nth=1, reply="552 5.3.4 Message too big")
    connection = SmtpTransport(settings(server)).open()
    with pytest.raises(PermanentFailure) as caught:
        connection.send(SENDER, ["gone@example.com"], message(1))
    assert caught.value.bounced and caught.value.code == 550 and caught.value.stage == "rcpt"
    with pytest.raises(PermanentFailure) as caught:
        connection.send(SENDER, ["big@example.com"], message(2))
    assert not caught.value.bounced and caught.value.code == 552
    connection.send(SENDER, ["fine@example.com"], message(3))
    connection.close()
    assert [m.rcpt_tos for m in server.messages] == [["fine@example.com"]]


def test_421_closes_the_connection_and_the_next_message_opens_a_new_one(server):
    server.add_fault(stage="mail", nth=2, reply="421 4.7.0 Too many messages, slow down")
    connection = SmtpTransport(settings(server)).open()
    connection.send(SENDER, ["a@example.com"], message(1))
    with pytest.raises(TemporaryFailure) as caught:
        connection.send(SENDER, ["b@example.com"], message(2))
    assert caught.value.code == 421 and caught.value.throttled and caught.value.connection_lost
    connection.send(SENDER, ["b@example.com"], message(2))
    connection.close()
    assert server.count == 2 and server.sessions == 2


def test_a_connection_dropped_mid_data_is_a_temporary_failure_and_nothing_was_accepted(server):
    server.add_fault(stage="data", nth=1, action="drop")
    connection = SmtpTransport(settings(server)).open()
    with pytest.raises(TemporaryFailure) as caught:
        connection.send(SENDER, ["a@example.com"], message(1))
    assert caught.value.connection_lost and caught.value.code is None
    connection.send(SENDER, ["a@example.com"], message(1))
    connection.close()
    assert server.count == 1 and server.sessions == 2


def test_a_reply_slower_than_the_timeout_is_a_temporary_failure(server):
    server.add_fault(stage="rcpt", nth=1, action="slow", delay=3)
    connection = SmtpTransport(settings(server, timeout=0.3)).open()
    with pytest.raises(TemporaryFailure) as caught:
        connection.send(SENDER, ["a@example.com"], message(1))
    assert caught.value.timed_out and caught.value.connection_lost
    connection.send(SENDER, ["a@example.com"], message(1))
    connection.close()
    assert server.count == 1


def test_a_reused_connection_the_server_closed_is_reopened_without_failing_the_message(server):
    server.add_fault(stage="mail", nth=2, action="drop")  # as if it had closed the idle connection
    connection = SmtpTransport(settings(server)).open()
    connection.send(SENDER, ["a@example.com"], message(1))
    connection.send(SENDER, ["b@example.com"], message(2))
    connection.close()
    assert [m.rcpt_tos for m in server.messages] == [["a@example.com"], ["b@example.com"]]
    assert server.sessions == 2


def test_no_server_listening_is_a_connect_failure():
    with SmtpServer() as server:
        port = server.port
    connection = SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, timeout=2)).open()
    with pytest.raises(ConnectFailure, match=f"127.0.0.1:{port}"):
        connection.send(SENDER, ["a@example.com"], message(1))


def test_starttls_required_but_not_offered_is_a_configuration_error(server):
    connection = SmtpTransport(settings(server, tls="starttls")).open()
    with pytest.raises(SmtpSetupError, match="does not offer STARTTLS"):
        connection.send(SENDER, ["a@example.com"], message(1))
    assert server.count == 0


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_login_with_the_right_password_sends_and_a_wrong_one_is_a_configuration_error():
    with SmtpServer(logins={"digest": "s3cret"}) as server:
        good = SmtpTransport(settings(server, username="digest", password="s3cret"))
        good.send(SENDER, ["a@example.com"], message(1))
        good.close()
        bad = SmtpTransport(settings(server, username="digest", password="wrong"))
        with pytest.raises(SmtpSetupError, match="refused"):
            bad.send(SENDER, ["a@example.com"], message(2))
        assert server.count == 1


def test_an_internationalised_address_goes_out_with_smtputf8(server):
    data = "Subject: hi\r\nTo: zoë@example.com\r\n\r\nhello\r\n".encode()
    transport = SmtpTransport(settings(server))
    transport.send(SENDER, ["zoë@example.com"], data)
    transport.close()
    assert server.messages[0].rcpt_tos == ["zoë@example.com"]
    assert server.messages[0].data == data


def test_file_transport_writes_one_complete_eml_per_message(tmp_path):
    transport = FileTransport(tmp_path / "outbox")
    for number in range(3):
        reply = transport.send(SENDER, [f"r{number}@example.com"], message(number))
        assert reply.startswith("250")
    files = sorted((tmp_path / "outbox").iterdir())
    assert len(files) == 3 and all(f.suffix == ".eml" for f in files)
    assert sorted(f.read_bytes() for f in files) == sorted(message(n) for n in range(3))


def test_a_relative_outbox_is_read_from_the_config_files_folder_else_the_databases(tmp_path):
    with_file = Config(config_path=tmp_path / "site" / "digest.toml", db_path=tmp_path / "data" / "digest.db")
    assert make_transport(with_file).directory == tmp_path / "site" / "outbox"
    without_file = Config(db_path=tmp_path / "data" / "digest.db")
    assert make_transport(without_file, "file:mail/out").directory == tmp_path / "data" / "mail" / "out"
    assert make_transport(without_file, f"file:{tmp_path}/abs").directory == tmp_path / "abs"


def test_make_transport_knows_smtp_memory_and_refuses_anything_else(tmp_path):
    config = Config(db_path=tmp_path / "digest.db", smtp=SmtpSettings(host="mail.example.com", port=2525))
    smtp = make_transport(replace(config, transport="smtp"))
    assert isinstance(smtp, SmtpTransport) and smtp.settings.host == "mail.example.com"
    assert isinstance(make_transport(config, "memory"), MemoryTransport)
    with pytest.raises(ConfigError, match="unknown transport 'pigeon'"):
        make_transport(config, "pigeon")


def test_memory_transport_keeps_what_it_was_given():
    transport = MemoryTransport()
    transport.send(SENDER, ["a@example.com"], b"data")
    assert transport.messages == [(SENDER, ["a@example.com"], b"data")]


def test_an_outbox_that_cannot_be_created_is_a_configuration_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot create outbox"):
        FileTransport(Path(blocker) / "outbox").send(SENDER, ["a@example.com"], b"x")


@pytest.fixture
def certificate(tmp_path, monkeypatch):
    """A self-signed certificate for 127.0.0.1 that this test's TLS clients trust."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_tls_connections_send_when_the_certificate_is_trusted(tls, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", certificate[0])  # trust our test certificate, as a CA bundle
    with SmtpServer(tls=tls, certificate=certificate) as server:
        transport = SmtpTransport(settings(server, tls=tls))
        transport.send(SENDER, ["a@example.com"], message(1))
        transport.send(SENDER, ["b@example.com"], message(2))
        transport.close()
        assert server.count == 2 and server.sessions == (1 if tls == "ssl" else 2)  # EHLO again after STARTTLS


def test_an_untrusted_certificate_is_a_configuration_error_and_nothing_is_sent(certificate):
    with SmtpServer(tls="ssl", certificate=certificate) as server:
        with pytest.raises(SmtpSetupError, match="certificate not trusted"):
            SmtpTransport(settings(server, tls="ssl")).send(SENDER, ["a@example.com"], message(1))
        assert server.count == 0
