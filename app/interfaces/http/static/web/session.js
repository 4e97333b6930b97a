// The signed-in user's bearer token, kept in this origin's localStorage ("lw.token"), never in
// a cookie. A login link (`littlewriter login-link NAME`) carries it in the URL fragment,
// `#token=...`, which is never sent to a server: it is taken from there once and removed from
// the address bar. A link for someone else than the user signed in asks first (any site can
// send the browser to /#token=...: a child's next pages must not go to a stranger's account).
// The claims are decoded for display only; the server verifies the token, and GET /auth/config
// says where its roles are (LW_JWT_ROLES_CLAIM, LW_JWT_ADMIN_ROLE), so the page tells an admin
// as the server does.
import { confirmWith } from "./dialog.js";
import { t } from "./text.js";

const KEY = "lw.token";
const listeners = new Set();
let roleRules = { roles_claim: "roles", admin_role: "admin" }; // the server's defaults, until asked

/** GET /auth/config's answer (the identity provider, the roles claim), asked once; null if the
 * server did not answer. */
export const authConfig = fetch("/auth/config", { cache: "no-store" })
  .then((answer) => (answer.ok ? answer.json() : null))
  .catch(() => null);

function decodePart(part) {
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes));
}

export function decodeClaims(token) {
  try {
    const claims = decodePart(token.split(".")[1] ?? "");
    return claims && typeof claims === "object" ? claims : null;
  } catch {
    return null;
  }
}

/** A claim by its whole name (`cognito:groups`), else by a dotted path (`realm_access.roles`):
 * the rule of the server's app/infrastructure/tokens.py. */
function claimAt(claims, name) {
  if (Object.hasOwn(claims, name)) return claims[name];
  let value = claims;
  for (const part of name.split(".")) {
    if (!value || typeof value !== "object" || !Object.hasOwn(value, part)) return undefined;
    value = value[part];
  }
  return value;
}

function stored() {
  try {
    return window.localStorage.getItem(KEY);
  } catch {
    return null; // storage refused (private mode, policy): nobody is signed in
  }
}

function expired(claims, now = Date.now()) {
  return typeof claims.exp !== "number" || claims.exp * 1000 <= now;
}

function notify() {
  const current = session();
  listeners.forEach((listener) => listener(current));
}

/** Keep this token as the signed-in user's (a login link, or an OIDC sign-in). */
export function signIn(token) {
  window.localStorage.setItem(KEY, token);
  notify();
}

export function signOut() {
  try {
    window.localStorage.removeItem(KEY);
  } catch {
    // nothing was stored
  }
  notify();
}

/** The signed-in user, or null: {token, sub, roles, exp (ms), isAdmin}. Past `exp` is signed out. */
export function session() {
  const token = stored();
  if (!token) return null;
  const claims = decodeClaims(token);
  if (!claims || expired(claims)) return null;
  const found = claimAt(claims, roleRules.roles_claim);
  const roles = Array.isArray(found) && found.every((role) => typeof role === "string") ? found : [];
  return {
    token,
    sub: String(claims.sub ?? ""),
    roles,
    exp: claims.exp * 1000,
    isAdmin: roles.includes(roleRules.admin_role),
  };
}

export function token() {
  return session()?.token ?? null;
}

/** Call `listener(session)` whenever the user signs in or out (this tab or another). */
export function onSessionChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Take a login link's token from the fragment: kept at once when nobody (or the same user,
 * a fresh token) is signed in; for someone else, only once the person confirms. */
function adoptTokenFromFragment() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const given = fragment.get("token");
  if (given === null) return false;
  fragment.delete("token");
  const rest = fragment.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
  history.replaceState(history.state, "", url);
  const claims = decodeClaims(given);
  if (!claims) return false;
  const current = session();
  const other = String(claims.sub ?? "");
  if (current === null || current.sub === other) {
    window.localStorage.setItem(KEY, given);
    return true;
  }
  const question = t("switch_user", { current: current.sub, other });
  confirmWith(question, { confirmLabel: t("switch_user_confirm", { other }) }).then((yes) => {
    if (yes) signIn(given);
  });
  return false;
}

adoptTokenFromFragment();
// A login link opened on this page already changes only the fragment: no new page load.
window.addEventListener("hashchange", () => {
  if (adoptTokenFromFragment()) notify();
});
window.addEventListener("storage", (event) => {
  if (event.key === KEY || event.key === null) notify();
});
authConfig.then((config) => {
  if (typeof config?.roles_claim !== "string" || typeof config?.admin_role !== "string") return;
  roleRules = { roles_claim: config.roles_claim, admin_role: config.admin_role };
  notify(); // an identity provider's admin is known as one now
});
