"""Email channels (docs/alerts.md#email) through a real server to a real
in-process SMTP server (aiosmtpd on 127.0.0.1): plain SMTP, STARTTLS with a
self-signed certificate made here by the openssl CLI, sign-in, and the
words for a refused password and an untrusted certificate."""

import email
import email.policy
import shutil
import subprocess

import pytest

from helpers import ServerProcess, free_port, sign_in

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd is in requirements-test.txt")
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

SMTP_USER, SMTP_PASSWORD = "ops", "smtp-password-5hd8"


class Mailbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                              "message": email.message_from_bytes(envelope.content, policy=email.policy.default)})
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
        (SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory):
    proc = ServerProcess(tmp_path_factory.mktemp("alert-mail") / "data", env={"TRUST_PROXY": "1"}).start()
    yield proc
    proc.stop()


@pytest.fixture
def admin(mail_server):
    return sign_in(mail_server)


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = aiosmtpd_controller.Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, mailbox
    controller.stop()


@pytest.fixture
def starttls_smtp(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("no openssl CLI to make a self-signed certificate")
    import ssl
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()
    controller = aiosmtpd_controller.Controller(
        mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context, require_starttls=True,
        authenticator=authenticator, auth_required=True)
    controller.start()
    yield controller, mailbox
    controller.stop()


def channel(admin, name, config):
    res = admin.post("/api/alerts/channels", json={"name": name, "type": "email", "config": config})
    assert res.status == 201, res
    return res.json["channel"]


def send_test(admin, ch):
    res = admin.post(f"/api/alerts/channels/{ch['id']}/test", json={})
    assert res.status == 200, res
    return res.json


def parts(message):
    return {part.get_content_type(): part.get_content() for part in message.walk()
            if not part.is_multipart()}


def test_plain_smtp_carries_text_and_html(admin, smtp):
    controller, mailbox = smtp
    ch = channel(admin, "plain-mail", {"host": "127.0.0.1", "port": controller.port, "security": "none",
                                       "from": "Toru <toru@example.com>", "to": ["ops@example.com", "dev@example.com"]})
    answer = send_test(admin, ch)
    assert answer["ok"] is True, answer
    assert answer["result"] == (f"Delivered: 127.0.0.1:{controller.port} accepted the message for "
                                "ops@example.com, dev@example.com")
    [got] = mailbox.messages
    assert got["from"] == "toru@example.com" and got["to"] == ["ops@example.com", "dev@example.com"]
    message = got["message"]
    assert message["Subject"].startswith("[Toru] Firing: Toru test notification (info) on ")
    assert message.get_content_type() == "multipart/alternative"
    bodies = parts(message)
    assert set(bodies) == {"text/plain", "text/html"}
    assert "plain-mail" in bodies["text/plain"] and "Severity: info" in bodies["text/plain"]
    assert "<h2" in bodies["text/html"] and "&#x27;plain-mail&#x27;" in bodies["text/html"]


def test_starttls_with_sign_in(admin, starttls_smtp):
    controller, mailbox = starttls_smtp
    config = {"host": "127.0.0.1", "port": controller.port, "security": "starttls", "username": SMTP_USER,
              "password": SMTP_PASSWORD, "from": "toru@example.com", "to": ["ops@example.com"], "tls_verify": False}
    ch = channel(admin, "tls-mail", config)
    answer = send_test(admin, ch)
    assert answer["ok"] is True, answer
    assert len(mailbox.messages) == 1

    wrong = channel(admin, "tls-mail-wrong-password", dict(config, password="not-it-at-all"))
    answer = send_test(admin, wrong)
    assert answer["ok"] is False and "refused the user name or password (535" in answer["result"], answer

    strict = channel(admin, "tls-mail-verified", dict(config, tls_verify=True))
    answer = send_test(admin, strict)
    assert answer["ok"] is False and "TLS certificate" in answer["result"] and "not accepted" in answer["result"]
    assert len(mailbox.messages) == 1


def test_a_server_without_starttls_is_named(admin, smtp):
    controller, _ = smtp
    ch = channel(admin, "no-starttls", {"host": "127.0.0.1", "port": controller.port, "security": "starttls",
                                        "from": "toru@example.com", "to": ["ops@example.com"]})
    answer = send_test(admin, ch)
    assert answer["ok"] is False and "does not offer STARTTLS" in answer["result"], answer
