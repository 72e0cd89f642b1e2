"""Directory providers' shared pieces (LDAP, PAM, SAML): the providers themselves are
plugins in providers/, registered through the `keystead.providers` entry points."""
