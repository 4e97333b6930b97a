// Sign-in at an OpenID Connect provider for a page with no server session and no client secret:
// the authorization code flow with PKCE (RFC 7636, S256), as a hand-written ES module.
//
//   import { signIn, completeSignIn } from "/static/oidc.js";
//   const { oidc } = await (await fetch("/auth/config")).json();   // null: no provider set up
//   const token = await completeSignIn(oidc);  // back from the provider: its token; else null
//   if (token === null) button.onclick = () => signIn(oidc);       // off to its sign-in page
//
// `config` is GET /auth/config's `oidc`: authorize_url, token_url, client_id, scope, token
// ("access_token" or "id_token": which one to return), audience (sent when set) and, optionally,
// redirect_uri (default: this page's address without its query and fragment; register exactly
// that at the provider).
//
// signIn(config) makes a code verifier (32 random bytes), a state and a nonce, keeps them in
// sessionStorage under "lw.oidc" (this tab only: they never leave the browser except as the
// provider's protocol says) and sends the browser to the provider with
// code_challenge = BASE64URL(SHA-256(verifier)).
//
// completeSignIn(config) does nothing (null) unless the address carries ?code= or ?error=. Then it
// checks `state` against the kept one (a mismatch is a forged or stale answer), exchanges the
// code with the verifier at the token endpoint (which must allow this origin by CORS), checks
// the ID token's nonce when there is one, removes the query from the address (history, not a
// reload) and the kept values, and resolves to the chosen token. A refusal rejects with an
// OidcError whose message can be shown. The caller keeps the token (the creator page keeps its
// tokens in localStorage under "lw.token") and sends it as `Authorization: Bearer`.

const KEPT = "lw.oidc";

export class OidcError extends Error {
  constructor(message) {
    super(message);
    this.name = "OidcError";
  }
}

function base64url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

async function challengeFor(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(digest);
}

function redirectUri(config) {
  return config.redirect_uri || window.location.origin + window.location.pathname;
}

function clearQuery() {
  const { pathname, hash } = window.location;
  window.history.replaceState(window.history.state, "", pathname + hash);
}

function claimsOf(jwt) {
  const part = jwt.split(".")[1] || "";
  const padded = part.replace(/-/g, "+").replace(/_/g, "/");
  const text = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export async function signIn(config) {
  const kept = { verifier: randomText(), state: randomText(), nonce: randomText() };
  kept.redirect_uri = redirectUri(config);
  sessionStorage.setItem(KEPT, JSON.stringify(kept));
  const url = new URL(config.authorize_url);
  const params = {
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: kept.redirect_uri,
    scope: config.scope || "openid",
    state: kept.state,
    nonce: kept.nonce,
    code_challenge: await challengeFor(kept.verifier),
    code_challenge_method: "S256",
  };
  if (config.audience) params.audience = config.audience;
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  window.location.assign(url.toString());
}

export async function completeSignIn(config) {
  if (!config) return null; // no provider set up: tokens come from login links
  const query = new URLSearchParams(window.location.search);
  if (!query.has("code") && !query.has("error")) return null;
  const kept = JSON.parse(sessionStorage.getItem(KEPT) || "null");
  sessionStorage.removeItem(KEPT); // one answer per sign-in, whatever happens next
  clearQuery();
  if (kept === null || query.get("state") !== kept.state) {
    throw new OidcError("This sign-in answer is not the one this page asked for. Please sign in again.");
  }
  if (query.has("error")) {
    const reason = query.get("error_description") || query.get("error");
    throw new OidcError(`The sign-in was refused: ${reason}`);
  }
  const response = await fetch(config.token_url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: query.get("code"),
      redirect_uri: kept.redirect_uri,
      client_id: config.client_id,
      code_verifier: kept.verifier,
    }),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new OidcError(`The sign-in could not be completed: ${answer.error || response.status}`);
  }
  if (answer.id_token && claimsOf(answer.id_token).nonce !== kept.nonce) {
    throw new OidcError("The sign-in answer was meant for another request. Please sign in again.");
  }
  const token = answer[config.token || "access_token"];
  if (typeof token !== "string" || token === "") {
    throw new OidcError(`The provider sent no ${config.token || "access_token"}.`);
  }
  return token;
}
