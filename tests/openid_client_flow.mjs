// The whole OpenID Connect flow with panva's openid-client (a certified relying-party
// library) against a live Keystead, driven by tests/test_openid_provider_live.py.
//
// Environment: OPENID_CLIENT_DIR (where `npm install openid-client` put node_modules),
// ISSUER, CLIENT_ID, CLIENT_SECRET, REDIRECT_URI.
// Protocol on stdout/stdin, one JSON object a line:
//   -> {"authorization_url": ...}        the test logs in and follows it
//   <- {"callback_url": ...}             where Keystead sent the browser back
//   -> {"claims":..., "userinfo":..., "refreshed_claims":..., "end_session_url":...}
import { createInterface } from "node:readline";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const env = process.env;
const client = await import(pathToFileURL(join(env.OPENID_CLIENT_DIR, "node_modules/openid-client/build/index.js")).href);

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

const config = await client.discovery(
  new URL(env.ISSUER), env.CLIENT_ID, undefined, client.ClientSecretBasic(env.CLIENT_SECRET),
  // The test server is plain http on loopback; every ID token's signature is checked
  // against the JWKS (not only its claims).
  { execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks] },
);

const verifier = client.randomPKCECodeVerifier();
const challenge = await client.calculatePKCECodeChallenge(verifier);
const nonce = client.randomNonce();
const state = client.randomState();
const url = client.buildAuthorizationUrl(config, {
  redirect_uri: env.REDIRECT_URI, scope: "openid profile email groups offline_access",
  code_challenge: challenge, code_challenge_method: "S256", nonce, state,
});
say({ authorization_url: url.href });

const { value } = await lines.next();
const callback = new URL(JSON.parse(value).callback_url);

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: verifier, expectedNonce: nonce, expectedState: state, idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const refreshedUserinfo = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
const endSession = client.buildEndSessionUrl(config, {
  id_token_hint: refreshed.id_token ?? tokens.id_token, post_logout_redirect_uri: env.REDIRECT_URI, state: "bye",
});
say({
  claims, userinfo, refreshed_claims: refreshed.claims() ?? null,
  refreshed_userinfo: refreshedUserinfo,
  new_refresh_token: refreshed.refresh_token !== tokens.refresh_token,
  end_session_url: endSession.href,
});
process.exit(0);
