"""Mail over SMTP from the Email settings: plain-text and HTML bodies, STARTTLS or TLS.

Without Email.Host nothing is sent (administrators copy links instead). A failure to send
is logged and reported to the caller; it never undoes the account change that asked for it.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app, render_template

log = logging.getLogger("keystead")
SMTP_TIMEOUT = 15


def mail_configured() -> bool:
    return bool(current_app.extensions["keystead.settings"]["Email.Host"])


def smtp_port(s) -> int:
    """Email.Port, else the usual port of the Email.TLS mode."""
    return s["Email.Port"] or {"tls": 465, "starttls": 587}.get(s["Email.TLS"], 25)


def connect_smtp(s) -> smtplib.SMTP:
    """A connection to the SMTP server of the Email settings `s`, after STARTTLS or over
    TLS and logged in when Email.Username is set; raises OSError or SMTPException."""
    host, port, tls = s["Email.Host"], smtp_port(s), s["Email.TLS"]
    if tls == "tls":
        smtp = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
    try:
        if tls == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if s["Email.Username"]:
            smtp.login(s["Email.Username"], s["Email.Password"] or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


class MailNotSent(Exception):
    """Mail could not be sent: not configured, or the SMTP server's answer (one line)."""


def deliver(to: str, subject: str, text: str, html: str | None = None) -> None:
    """Send one message, raising MailNotSent with the reason when it does not go out."""
    s = current_app.extensions["keystead.settings"]
    host = s["Email.Host"]
    if not host:
        raise MailNotSent("mail is not configured (set Email.Host)")
    sender = s["Email.Sender"] or f"keystead@{host}"
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = to
    msg["Message-ID"] = make_msgid(domain="keystead")
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    port = smtp_port(s)
    try:
        with connect_smtp(s) as smtp:
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as e:
        # The address is personal data but needed to act on the failure; the body (with
        # its link) is never logged.
        log.error("could not send mail %r to %s via %s:%s: %s", subject, to, host, port, e)
        reason = " ".join(str(e).split()) or type(e).__name__
        raise MailNotSent(f"{host}:{port}: {reason}") from None


def send_mail(to: str, subject: str, text: str, html: str | None = None) -> bool:
    """Send one message; True when the server accepted it. Never raises for SMTP trouble."""
    try:
        deliver(to, subject, text, html)
    except MailNotSent:
        return False
    return True


def send_test_mail(to: str) -> None:
    """A short message to `to` proving the Email settings work; MailNotSent otherwise."""
    public_url = current_app.extensions["keystead.settings"]["Server.PublicURL"]
    deliver(to, "Keystead: test message",
            f"This is a test message from Keystead at {public_url}.\n"
            "Mail from Keystead reaches this address.\n")


def send_link_mail(user, purpose: str, url: str) -> bool:
    """Mail a verification, confirmation or reset link (or the notice of a sign-up attempt
    with the person's address, whose `url` is the reset page) to `user` from templates/email/."""
    if not user.email:
        return False
    subjects = {"verify": "Verify your email address", "confirm": "Set your password",
                "reset": "Reset your password",
                "signup_attempt": "Someone tried to sign up with your address"}
    context = {"user": user, "url": url, "purpose": purpose,
               "public_url": current_app.extensions["keystead.settings"]["Server.PublicURL"]}
    text = render_template(f"email/{purpose}.txt", **context)
    html = render_template(f"email/{purpose}.html", **context)
    return send_mail(user.email, f"Keystead: {subjects[purpose]}", text, html)
