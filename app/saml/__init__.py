"""The SAML 2.0 service provider behind the `saml` provider plugin (providers/saml.py):
the service provider's keys (keys.py), the identity provider's metadata and pysaml2's
client (service.py), the checks on every response (checks.py) and the assertion ids
already used (models.py, shared by every host through the database)."""
