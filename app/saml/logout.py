"""Single logout on the HTTP-Redirect binding, when the identity provider's metadata offers
a SingleLogoutService there: Keystead's logout also ends the identity provider's session
(logout_request_url), and the identity provider can end Keystead's (answer_logout_request)."""
from __future__ import annotations

from flask import request

from ..identities import SignInRefused


def _idp_logout_location(sp) -> str | None:
    from saml2 import BINDING_HTTP_REDIRECT
    client = sp.client()
    services = client.metadata.single_logout_service(sp.idp_entity_id, BINDING_HTTP_REDIRECT, "idpsso")
    return services[0]["location"] if services else None


def logout_request_url(sp, info: dict) -> tuple[str, str] | None:
    """(request id, URL) of a signed LogoutRequest for the person and session `info` names,
    or None when the identity provider offers no single logout."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.saml import name_id_from_string
    from saml2.xmldsig import SIG_RSA_SHA256
    try:
        location = _idp_logout_location(sp)
    except SignInRefused:
        return None
    if location is None or not info or not info.get("name_id"):
        return None
    client = sp.client()
    request_id, message = client.create_logout_request(
        location, sp.idp_entity_id, name_id=name_id_from_string(info["name_id"]),
        session_indexes=[info["session_index"]] if info.get("session_index") else None, sign=False)
    http_args = client.apply_binding(BINDING_HTTP_REDIRECT, str(message), location, relay_state="",
                                     sign=True, sigalg=SIG_RSA_SHA256)
    return request_id, dict(http_args["headers"])["Location"]


def answer_logout_request(sp, info: dict | None, end_session) -> str:
    """Check the identity provider's LogoutRequest (its issuer, and that it names the person
    signed in here, if any); end the session; return the URL of the signed answer."""
    from saml2 import BINDING_HTTP_REDIRECT
    from saml2.saml import name_id_from_string
    from saml2.xmldsig import SIG_RSA_SHA256
    client = sp.client()
    try:
        parsed = client.parse_logout_request(request.args["SAMLRequest"], BINDING_HTTP_REDIRECT,
                                             relay_state=request.args.get("RelayState"),
                                             sigalg=request.args.get("SigAlg"),
                                             signature=request.args.get("Signature"))
    except Exception as e:  # pysaml2 reports bad messages through several exception classes
        raise SignInRefused(f"the LogoutRequest was refused: {type(e).__name__}: {str(e)[:200]}") from None
    if parsed is None:
        raise SignInRefused("the LogoutRequest could not be read")
    message = parsed.message
    if message.issuer is None or message.issuer.text != sp.idp_entity_id:
        raise SignInRefused("the LogoutRequest comes from another issuer")
    if info and info.get("name_id"):
        ours = name_id_from_string(info["name_id"])
        if message.name_id is None or message.name_id.text != ours.text:
            raise SignInRefused("the LogoutRequest names another person than the one signed in here")
        end_session()
    location = _idp_logout_location(sp)
    if location is None:
        raise SignInRefused("the identity provider offers no single logout service to answer")
    answer = client.create_logout_response(message, [BINDING_HTTP_REDIRECT], status=None)
    http_args = client.apply_binding(BINDING_HTTP_REDIRECT, str(answer), location,
                                     relay_state=request.args.get("RelayState", ""), response=True,
                                     sign=True, sigalg=SIG_RSA_SHA256)
    return dict(http_args["headers"])["Location"]


def check_logout_response(sp, request_id: str | None) -> None:
    """The identity provider's answer to the LogoutRequest this browser was sent with."""
    from saml2 import BINDING_HTTP_REDIRECT
    client = sp.client()
    try:
        parsed = client.parse_logout_request_response(request.args["SAMLResponse"], BINDING_HTTP_REDIRECT)
    except Exception as e:
        raise SignInRefused(f"the LogoutResponse was refused: {type(e).__name__}: {str(e)[:200]}") from None
    if parsed is None or request_id is None or parsed.response.in_response_to != request_id:
        raise SignInRefused("the LogoutResponse answers no logout this browser asked for")
