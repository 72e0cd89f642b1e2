"""Checks on a SAML response that Keystead makes itself, besides pysaml2's (signature,
conditions, audience, subject confirmation): the shape of the document before anything
else reads it, the request it answers, and assertion ids used once only."""
from __future__ import annotations

import base64
import binascii
import datetime
import hashlib

from peewee import IntegrityError

from ..identities import SignInRefused
from ..models import database, utcnow
from .models import SamlSeenAssertion

PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
MAX_RESPONSE_BYTES = 256 * 1024  # a response with a few hundred attributes is far smaller


def decode_response(value) -> tuple[str, object]:
    """The XML of a base64 SAMLResponse and its parsed root, parsed without DTDs or
    entities (defusedxml); SignInRefused for anything else."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring
    if not isinstance(value, str) or not value.strip():
        raise SignInRefused("the POST has no SAMLResponse")
    if len(value) > MAX_RESPONSE_BYTES * 4 // 3 + 4:
        raise SignInRefused("the SAMLResponse is too large")
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
        xml = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        raise SignInRefused("the SAMLResponse is not base64 of UTF-8 XML") from None
    try:
        root = fromstring(xml, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as e:
        raise SignInRefused(f"the SAMLResponse is not acceptable XML: {type(e).__name__}") from None
    return xml, root


def check_shape(root, acs_url: str, want_encrypted: bool) -> None:
    """One Response, addressed to this ACS, holding exactly one assertion as its own child.

    A second assertion anywhere in the document (beside the signed one, inside Extensions,
    Advice or a Signature's Object) is how XML signature wrapping smuggles an unsigned
    assertion past a check of the signed one: refused whatever pysaml2 would make of it."""
    if root.tag != f"{{{PROTOCOL}}}Response":
        raise SignInRefused(f"the SAMLResponse is a {root.tag.rsplit('}', 1)[-1]}, not a Response")
    plain = list(root.iter(f"{{{ASSERTION}}}Assertion"))
    encrypted = list(root.iter(f"{{{ASSERTION}}}EncryptedAssertion"))
    if len(plain) + len(encrypted) != 1:
        raise SignInRefused(f"the response holds {len(plain) + len(encrypted)} assertions; exactly one "
                            f"is accepted (a second one is how XML signature wrapping hides a forged assertion)")
    if (plain or encrypted)[0] not in list(root):
        raise SignInRefused("the assertion is not a child of the Response (XML signature wrapping)")
    if want_encrypted and plain:
        raise SignInRefused("the assertion is not encrypted, and SAML.WantAssertionsEncrypted is true")
    destination = root.get("Destination")
    if destination != acs_url:
        raise SignInRefused(f"wrong destination: the response is addressed to {destination!r}, "
                            f"not this service provider's ACS {acs_url!r}")


def check_recipient(response, acs_url: str) -> None:
    """Every bearer confirmation of the assertion names this ACS as its Recipient (the Web
    SSO profile requires one; pysaml2 checks it only in conversations it keeps itself)."""
    for confirmation in response.assertion.subject.subject_confirmation:
        data = confirmation.subject_confirmation_data
        recipient = data.recipient if data is not None else None
        if recipient != acs_url:
            raise SignInRefused(f"the assertion is for the recipient {recipient!r}, not this service provider's "
                                f"ACS {acs_url!r}")


def check_answers(response, request_id: str) -> None:
    """The response, and the bearer confirmation of its assertion, answer `request_id`: the
    AuthnRequest this browser was sent with (no unsolicited responses, none meant for
    another sign-in)."""
    answered = response.response.in_response_to
    if answered != request_id:
        raise SignInRefused(f"the response answers the request {answered!r}, not the one this browser "
                            f"sent (an unsolicited or misdirected response)")
    for confirmation in response.assertion.subject.subject_confirmation:
        data = confirmation.subject_confirmation_data
        if data is None or data.in_response_to != request_id:
            raise SignInRefused("the assertion's subject confirmation answers another request")


def remember_assertion(issuer: str, assertion_id: str, expires_at: datetime.datetime) -> None:
    """Record that this assertion signed someone in; SignInRefused when it already has (a
    replay), on this host or any other one. Expired records are dropped on the way."""
    key = hashlib.sha256(f"{issuer}\n{assertion_id}".encode()).hexdigest()
    now = utcnow()
    try:
        with database.atomic():
            SamlSeenAssertion.delete().where(SamlSeenAssertion.expires_at < now).execute()
            SamlSeenAssertion.create(key=key, expires_at=expires_at)
    except IntegrityError:
        raise SignInRefused(f"the assertion {assertion_id!r} was already used (a replayed response)") from None
