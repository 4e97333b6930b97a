// The signed-in user's bearer token, kept in this origin's localStorage ("lw.token"), never in
// a cookie. A login link (`littlewriter login-link NAME`) carries it in the URL fragment,
// `#token=...`, which is never sent to a server: it is taken from there once and removed from
// the address bar. The claims are decoded for display only; the server verifies the token.
const KEY = "lw.token";
const listeners = new Set();

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
  const roles = Array.isArray(claims.roles) ? claims.roles : [];
  return {
    token,
    sub: String(claims.sub ?? ""),
    roles,
    exp: claims.exp * 1000,
    isAdmin: roles.includes("admin"),
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

function adoptTokenFromFragment() {
  const fragment = new URLSearchParams(window.location.hash.slice(1));
  const given = fragment.get("token");
  if (given === null) return false;
  fragment.delete("token");
  const rest = fragment.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
  history.replaceState(history.state, "", url);
  if (decodeClaims(given)) window.localStorage.setItem(KEY, given);
  return true;
}

adoptTokenFromFragment();
// A login link opened on this page already changes only the fragment: no new page load.
window.addEventListener("hashchange", () => {
  if (adoptTokenFromFragment()) notify();
});
window.addEventListener("storage", (event) => {
  if (event.key === KEY || event.key === null) notify();
});
