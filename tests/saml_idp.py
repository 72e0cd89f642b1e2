"""A SAML 2.0 identity provider for the tests: pysaml2's own IdP (saml2.server.Server),
which builds, signs (and encrypts) the responses, behind a few Flask routes served on
loopback in a thread, with its own key pair.

Routes: /metadata (its metadata), /sso/redirect (the HTTP-Redirect binding: a login form),
/sso/login (the form's POST: checks the password and answers with pysaml2's auto-posting
HTTP-POST form to Keystead's ACS), /slo/redirect (single logout). Keystead's service
provider metadata is handed over with `trust()` once Keystead runs (it needs the IdP's
metadata URL first). `last_response` keeps the XML of the latest response, for the tests
that tamper with a real signed response.
"""
from __future__ import annotations

import html
import os
import re
import tempfile
import threading

from flask import Flask, abort, request
from werkzeug.serving import make_server

from keystead.saml.keys import generate_keypair

PEOPLE = {
    "grace": {"password": "grace-password-1906",
              "attributes": {"uid": ["grace"], "mail": ["grace@example.com"], "givenName": ["Grace"],
                             "sn": ["Hopper"], "groups": ["Engineers", "Navy"]}},
}


class SAMLIdentityProvider:
    def __init__(self, host: str = "127.0.0.1"):
        self.folder = tempfile.mkdtemp(prefix="saml-idp-")
        self.cert_file = os.path.join(self.folder, "idp.crt")
        self.key_file = os.path.join(self.folder, "idp.key")
        generate_keypair(self.cert_file, self.key_file, "test-idp")
        self.people = {name: {"password": p["password"], "attributes": {k: list(v) for k, v in p["attributes"].items()}}
                       for name, p in PEOPLE.items()}
        self.sign_response = False
        self.sign_assertion = True
        self.encrypt_assertion = False
        self.last_response: str | None = None
        self.logout_requests: list = []
        self.server = make_server(host, 0, self._make_app(), threaded=True)
        self.base = f"http://{host}:{self.server.server_port}"
        self.entity_id = f"{self.base}/metadata"
        self.idp = None  # saml2.server.Server, once trust() gives it Keystead's metadata
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    # ---------------------------------------------------------------- life

    def start(self) -> "SAMLIdentityProvider":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()

    def settings(self, **extra) -> dict:
        return {"Authentication.Provider": ["password", "saml"], "SAML.IdPMetadataURL": self.entity_id, **extra}

    def config(self, sp_metadata: str | None = None):
        from saml2 import BINDING_HTTP_REDIRECT
        from saml2.config import IdPConfig
        from saml2.saml import NAME_FORMAT_URI, NAMEID_FORMAT_PERSISTENT
        conf = IdPConfig()
        conf.load({
            "entityid": self.entity_id,
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "key_file": self.key_file, "cert_file": self.cert_file,
            "metadata": {"inline": [sp_metadata]} if sp_metadata else {},
            "service": {"idp": {
                "endpoints": {
                    "single_sign_on_service": [(f"{self.base}/sso/redirect", BINDING_HTTP_REDIRECT)],
                    "single_logout_service": [(f"{self.base}/slo/redirect", BINDING_HTTP_REDIRECT)],
                },
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "policy": {"default": {"lifetime": {"minutes": 15}, "attribute_restrictions": None,
                                       "name_form": NAME_FORMAT_URI}},
            }},
        })
        return conf

    def trust(self, sp_metadata: str) -> None:
        """Know Keystead (its ACS, its certificate) from its metadata."""
        from saml2.server import Server
        self.idp = Server(config=self.config(sp_metadata))

    def metadata(self) -> str:
        from saml2.metadata import create_metadata_string
        return create_metadata_string(None, config=self.config(), valid=24).decode()

    # ---------------------------------------------------------------- the app

    def _make_app(self) -> Flask:
        app = Flask("saml_idp")

        @app.get("/metadata")
        def metadata():
            return self.metadata(), 200, {"Content-Type": "application/samlmetadata+xml"}

        @app.get("/sso/redirect")
        def sso():
            if "SAMLRequest" not in request.args:
                abort(400)
            fields = "".join(f'<input type="hidden" name="{n}" value="{html.escape(request.args.get(n, ""))}">'
                             for n in ("SAMLRequest", "RelayState"))
            return (f'<!doctype html><title>Test IdP</title><h1>Test identity provider</h1>'
                    f'<form method="post" action="/sso/login">{fields}'
                    f'<label>User <input name="username" id="idp-username"></label>'
                    f'<label>Password <input name="password" type="password" id="idp-password"></label>'
                    f'<button type="submit">Sign in at the IdP</button></form>')

        @app.post("/sso/login")
        def sso_login():
            person = self.people.get(request.form.get("username", ""))
            if person is None or person["password"] != request.form.get("password"):
                return "wrong user name or password", 401
            page, _ = self.respond(request.form["SAMLRequest"], request.form.get("RelayState", ""),
                                   request.form["username"])
            return page

        @app.get("/slo/redirect")
        def slo():
            from saml2 import BINDING_HTTP_REDIRECT
            if "SAMLRequest" in request.args:
                req = self.idp.parse_logout_request(request.args["SAMLRequest"], BINDING_HTTP_REDIRECT)
                self.logout_requests.append(req.message)
                answer = self.idp.create_logout_response(req.message, [BINDING_HTTP_REDIRECT])
                http_args = self.idp.apply_binding(BINDING_HTTP_REDIRECT, str(answer),
                                                   _slo_of(self.idp, req.message.issuer.text),
                                                   request.args.get("RelayState", ""), response=True)
                return "", 302, dict(http_args["headers"])
            abort(400)

        return app

    # ---------------------------------------------------------------- responses

    def respond(self, saml_request: str, relay_state: str, username: str, **overrides) -> tuple[str, str]:
        """pysaml2's answer to an AuthnRequest (HTTP-Redirect encoded) for `username`: the
        auto-posting HTML page and the response XML."""
        from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
        from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
        from saml2.saml import AUTHN_PASSWORD_PROTECTED
        req = self.idp.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT)
        args = self.idp.response_args(req.message)
        args.pop("binding", None)
        args.update(overrides)
        person = self.people[username]
        encrypt = {}
        if self.encrypt_assertion:
            encrypt = {"encrypt_assertion": True, "encrypt_cert_assertion": _sp_cert(self.idp, args["sp_entity_id"])}
        response = self.idp.create_authn_response(
            person["attributes"], userid=username,
            name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text=f"id-{username}-7f3a"),
            authn={"class_ref": AUTHN_PASSWORD_PROTECTED, "authn_auth": self.entity_id},
            sign_assertion=self.sign_assertion, sign_response=self.sign_response, **encrypt, **args)
        self.last_response = str(response)
        http_args = self.idp.apply_binding(BINDING_HTTP_POST, self.last_response, args["destination"],
                                           relay_state, response=True)
        return http_args["data"], self.last_response


def _sp_cert(idp, sp_entity_id: str) -> str:
    """The PEM of the service provider's encryption certificate, from its metadata."""
    certs = idp.metadata.certs(sp_entity_id, "spsso", use="encryption")
    body = certs[0][1]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(re.findall(".{1,64}", body)) + "\n-----END CERTIFICATE-----\n"


def _slo_of(idp, sp_entity_id: str) -> str:
    from saml2 import BINDING_HTTP_REDIRECT
    return idp.metadata.single_logout_service(sp_entity_id, BINDING_HTTP_REDIRECT, "spsso")[0]["location"]
