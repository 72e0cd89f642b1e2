// The proof-of-work check on sign-up and link requests (Password.SignupChallenge): the
// vendored ALTCHA widget (altcha.min.js, the build without inline styles or blob: workers)
// and its SHA-256 worker, both from this server, so the pages keep their
// Content-Security-Policy of "script-src 'self'; style-src 'self'".
import "./altcha.min.js";

globalThis.$altcha.algorithms.set(
  "SHA-256", () => new Worker(new URL("./altcha-sha-worker.js", import.meta.url)));
