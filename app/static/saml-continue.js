// Posts the SAML response again from Keystead's own page (templates/auth/saml_continue.html),
// so the browser sends the session cookie with it. A file rather than an inline script: the
// Content-Security-Policy allows scripts from this origin only.
document.getElementById("saml-continue").submit();
