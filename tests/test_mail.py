"""Mail over SMTP (app/mail.py) against a real SMTP server on loopback."""
from __future__ import annotations

import pytest

from api_support import in_db, users_of
from conftest import _free_port, wait_for


def test_send_mail_delivers_plain_text_and_html(mail_app):
    from keystead.mail import send_mail
    box = mail_app.mailbox
    with mail_app.app_context():
        assert send_mail("ada@example.com", "Hello", "plain body", "<p>html body</p>") is True
    assert wait_for(lambda: box.to("ada@example.com"))
    msg = box.to("ada@example.com")[0]
    assert msg["Subject"] == "Hello" and msg["From"] == "keystead@example.com"
    assert msg["Message-ID"]
    assert msg.get_content_type() == "multipart/alternative"
    assert box.text_of(msg).strip() == "plain body"
    assert box.html_of(msg).strip() == "<p>html body</p>"


def test_link_mail_uses_the_templates_and_public_url(mail_app):
    from keystead.links import make_link
    from keystead.mail import send_link_mail
    user = users_of(mail_app).create("ada", email="ada@example.com", first_name="Ada")[0]
    url = in_db(mail_app, lambda: make_link(user, "reset"))
    with mail_app.app_context():
        assert send_link_mail(user, "reset", url) is True
    msg = mail_app.mailbox.to("ada@example.com")[-1]
    text, html = mail_app.mailbox.text_of(msg), mail_app.mailbox.html_of(msg)
    assert url.startswith("http://keystead.test/reset-password/")
    assert url in text and f'href="{url}"' in html
    assert "Hello Ada" in text and "Hello Ada" in html
    assert "ada" in text and "1 hour" in text


def test_the_sender_defaults_to_an_address_at_the_host(make_app, smtp):
    from keystead.mail import send_mail
    box, settings = smtp
    app = make_app({**settings, "Email.Sender": None})
    with app.app_context():
        assert send_mail("ada@example.com", "s", "t")
    assert box.to("ada@example.com")[0]["From"] == "keystead@127.0.0.1"


def test_without_a_host_nothing_is_sent(make_app, smtp):
    from keystead.mail import mail_configured, send_mail
    box, _ = smtp
    app = make_app()
    with app.app_context():
        assert mail_configured() is False
        assert send_mail("ada@example.com", "s", "t", "<p>h</p>") is False
    assert box.messages == []


def test_a_closed_port_is_logged_and_reported_not_raised(make_app, caplog):
    from keystead.mail import send_mail
    app = make_app({"Email.Host": "127.0.0.1", "Email.Port": _free_port()})
    with app.app_context():
        assert send_mail("ada@example.com", "Subject here", "secret-link-body") is False
    messages = [r.getMessage() for r in caplog.records if r.name == "keystead"]
    assert any("could not send mail" in m and "ada@example.com" in m for m in messages)
    assert not any("secret-link-body" in m for m in messages)


@pytest.mark.parametrize("tls", ["starttls", "tls"])
def test_encryption_asked_for_is_never_dropped(make_app, smtp, tls):
    """Email.TLS = starttls or tls against a server that offers no encryption: the mail is
    not sent in clear text; the failure is reported."""
    from keystead.mail import send_mail
    box, settings = smtp
    app = make_app({**settings, "Email.TLS": tls})
    with app.app_context():
        assert send_mail("ada@example.com", "s", "t") is False
    assert box.messages == []


def test_credentials_are_not_sent_to_a_server_without_auth(make_app, smtp):
    from keystead.mail import send_mail
    box, settings = smtp
    app = make_app({**settings, "Email.Username": "keystead", "Email.Password": "pw"})
    with app.app_context():
        assert send_mail("ada@example.com", "s", "t") is False
    assert box.messages == []
